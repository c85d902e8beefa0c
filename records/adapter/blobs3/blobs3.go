// Package blobs3 is the blob store on S3 or an S3-compatible server
// (aws-sdk-go-v2): uploads in parts drawn from one bounded pool of part
// buffers shared by every upload, ranged GETs behind a seekable reader,
// presigned GET URLs, and server-side encryption when the server offers it.
package blobs3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/medisync/medisync/records/service"
)

// Config says where the bucket is and how to reach it.
type Config struct {
	Endpoint string // e.g. http://127.0.0.1:7070; empty for AWS itself
	// PublicEndpoint is the endpoint presigned links name, for clients
	// that reach the server under another name than the service does (a
	// container network's host name is no client's); empty is Endpoint.
	PublicEndpoint string
	Region         string
	Bucket         string
	AccessKey      string
	SecretKey      string
	PathStyle      bool // bucket in the path, as most S3-compatible servers need
	// SSE is the server-side encryption asked of every PUT: "" (none, for
	// servers that offer none), "AES256" or "aws:kms".
	SSE string
	// PartSize is the size of an upload part (default 5 MiB, S3's
	// minimum); PartBuffers (default 8) how many part buffers all uploads
	// together hold at most: the store's upload memory is bounded by
	// PartSize*PartBuffers whatever the number of uploads (ADR 0037).
	PartSize    int64
	PartBuffers int
	// Cleanups runs what a failed Put leaves to remove (a multipart
	// upload's parts, an object kept unencrypted) after the Put has
	// returned, so that a server that hangs does not hold the answer; nil
	// removes it before Put returns.
	Cleanups *service.Cleanups
}

// ErrNotEncrypted is an object the server stored without the server-side
// encryption asked of it. Some S3-compatible servers (versitygw) take the
// header and store the bytes in the clear, so the store checks that the
// answer names the encryption asked; a server that does not is
// misconfigured, a fault like any other.
var ErrNotEncrypted = errors.New("the S3 server did not apply the server-side encryption asked (-s3-sse): use one that does, or -s3-sse none")

// encrypted checks the encryption a PUT's answer names against the one asked.
func (s *Store) encrypted(got types.ServerSideEncryption) error {
	if s.cfg.SSE != "" && string(got) != s.cfg.SSE {
		return ErrNotEncrypted
	}
	return nil
}

// ErrProbeRefused is an encryption check the server answered with a
// refusal that says nothing of its encryption (403 from a policy that
// does not let the probe be written, a wrong region): the check cannot be
// made, and the store moves content, every upload's answer still checked
// for the encryption asked.
var ErrProbeRefused = errors.New("the S3 server refused the encryption probe; the encryption each upload's answer names is checked instead")

// probeKey is the object CheckEncryption stores and removes: under the
// documents' prefix, where the service's credentials may write when a
// policy grants it no more. It names no document: left behind by a
// removal that failed, it is an orphan the sweeper removes once older
// than its grace (ADR 0034), as it is never while a check runs.
const probeKey = service.BlobPrefix + ".medisync-encryption-probe"

// CheckEncryption stores and removes an empty probe object, and reports
// ErrNotEncrypted when the server does not apply the encryption asked (or
// refuses it, see refusesEncryption), so that a misconfigured store is
// found at start rather than at the first upload. With an encryption
// asked, the store moves no content (Put, Open, PresignGet answer the
// fault) until a check has passed, or the server has answered it with a
// refusal of another kind (ErrProbeRefused). A server that did not answer
// (unreachable, a timeout, a 5xx) is a fault (service.ErrBlobStoreDown),
// and content waits for a later check.
func (s *Store) CheckEncryption(ctx context.Context) error {
	if s.cfg.SSE == "" {
		return nil
	}
	in := s.putInput(probeKey)
	in.Body = bytes.NewReader(nil)
	out, err := s.c.PutObject(ctx, in)
	if refusesEncryption(err) {
		// A server without the encryption asked (MinIO without a KMS)
		// refuses the header itself: as misconfigured as one ignoring it.
		s.refused.Store(true)
		return fmt.Errorf("%w: %w", ErrNotEncrypted, err)
	}
	if answered(err) {
		// The server is there and its answer to every upload names the
		// encryption applied: no reason to hold content back.
		s.open.Store(true)
		return fault("put probe", fmt.Errorf("%w: %w", ErrProbeRefused, err))
	}
	if err != nil {
		return fault("put probe", err)
	}
	s.remove(ctx, probeKey)
	if err := s.encrypted(out.ServerSideEncryption); err != nil {
		s.refused.Store(true)
		return err
	}
	s.open.Store(true)
	return nil
}

// answered reports whether err is the server's own refusal of a request
// (3xx, 4xx), rather than an outage: no answer (unreachable, a timeout) or
// a failing server (5xx), and 408 and 429, which ask to come back later.
func answered(err error) bool {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	switch code := re.HTTPStatusCode(); {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
		return false
	default:
		return code >= 300 && code < 500
	}
}

// errUnchecked is the answer for content while the encryption asked has
// not been checked: the server did not answer the check yet.
var errUnchecked = errors.New("the S3 server's encryption is not checked yet (-s3-sse)")

// checkedEncryption answers the store's fault until CheckEncryption has
// passed (or the server answered it, ErrProbeRefused), when an encryption
// is asked.
func (s *Store) checkedEncryption() error {
	switch {
	case s.cfg.SSE == "" || s.open.Load():
		return nil
	case s.refused.Load():
		return fault("check encryption", ErrNotEncrypted)
	}
	return fault("check encryption", errUnchecked)
}

// Store is a service.BlobStore and service.Presigner on one bucket.
type Store struct {
	c       *s3.Client
	presign *s3.PresignClient
	parts   *partPool
	cfg     Config
	// open: content moves, CheckEncryption having passed or been refused
	// by an answer (ErrProbeRefused); refused: it found the server without
	// the encryption asked.
	open, refused atomic.Bool
}

var (
	_ service.BlobStore = (*Store)(nil)
	_ service.Presigner = (*Store)(nil)
)

// New returns a Store; it does not contact the server.
func New(c Config, hc *http.Client) *Store {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.PartSize < minPartSize {
		c.PartSize = minPartSize
	}
	if c.PartBuffers <= 0 {
		c.PartBuffers = 8
	}
	client := s3.New(s3.Options{
		Region:      c.Region,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		BaseEndpoint: func() *string {
			if c.Endpoint == "" {
				return nil
			}
			return aws.String(c.Endpoint)
		}(),
		UsePathStyle: c.PathStyle,
		HTTPClient:   hc,
		// The SDK's default CRC checksums on every request are refused by
		// some S3-compatible servers; ask for them only where S3 requires.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           attempts,
		APIOptions:                 []func(*middleware.Stack) error{withCallDeadline},
	})
	// Links are signed for the host the client sends them to: SigV4 signs
	// the Host header, so a link rewritten afterwards would be refused.
	presign := s3.NewPresignClient(client, func(o *s3.PresignOptions) {
		if c.PublicEndpoint != "" {
			o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) { o.BaseEndpoint = aws.String(c.PublicEndpoint) })
		}
	})
	return &Store{c: client, presign: presign, parts: newPartPool(c.PartBuffers, int(c.PartSize)), cfg: c}
}

// EnsureBucket creates the bucket when absent (development and tests).
func (s *Store) EnsureBucket(ctx context.Context) error {
	if _, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket}); err == nil {
		return nil
	}
	_, err := s.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.cfg.Bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fault("create bucket", err)
	}
	return nil
}

// fault marks a failure of the server (unreachable, failing) as the
// store's, answered 503.
var fault = service.BlobFault

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var re *smithyhttp.ResponseError
	return errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound)
}

// Put stores r. Content that fits one part goes up in one PutObject;
// longer content as a multipart upload whose parts are read into buffers
// of the shared pool, one part in flight while the next is read when a
// spare buffer is free. A failure aborts the multipart upload, leaving no
// object and no parts (after Put returns, with Config.Cleanups). The content is hashed once as it is read: the hash
// is the document's and, for a single PutObject, the signed payload hash
// the SDK would otherwise compute again over plain HTTP (the server still
// checks it against the bytes it receives).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, read func(service.Stored)) (service.Stored, error) {
	if err := s.checkedEncryption(); err != nil {
		return service.Stored{}, err
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h)}
	buf, err := s.parts.get(ctx)
	if err != nil {
		return service.Stored{}, fmt.Errorf("wait for a part buffer: %w", err)
	}
	n, last, err := fill(cr, buf)
	if err != nil {
		s.parts.put(buf)
		return service.Stored{}, fmt.Errorf("read upload: %w", err)
	}
	// ended notes, once r has ended, what a Put that succeeds returns, and
	// tells read.
	var st service.Stored
	ended := func() {
		st = service.Stored{Size: cr.n, SHA256: hex.EncodeToString(h.Sum(nil))}
		if read != nil {
			read(st)
		}
	}
	if last {
		defer s.parts.put(buf)
		ended()
		in := s.putInput(key)
		in.Body = bytes.NewReader(buf[:n])
		out, err := s.c.PutObject(ctx, in, withPayloadHash(st.SHA256))
		if err != nil {
			return service.Stored{}, fault("put object", err)
		}
		if err := s.encrypted(out.ServerSideEncryption); err != nil {
			s.remove(ctx, key)
			return service.Stored{}, fault("put object", err)
		}
		return st, nil
	}
	if err := s.putMultipart(ctx, key, cr, buf, n, ended); err != nil {
		if cr.err != nil { // the client's body failed, not the store
			return service.Stored{}, fmt.Errorf("read upload: %w", cr.err)
		}
		return service.Stored{}, err
	}
	return st, nil
}

// withPayloadHash hands the SigV4 signer the hex SHA-256 of the request's
// payload, already known, in place of hashing the body once more.
func withPayloadHash(sum string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("KnownPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, sum), in)
				}), "ComputePayloadHash", middleware.Before)
		})
	}
}

// refusesEncryption reports whether err is a server's refusal of the
// encryption asked: 501 (a feature it lacks), or a 400 whose code names
// encryption or its keys. Other 400s (a wrong region, a bad token) are
// no reason to turn encryption off and stay plain faults.
func refusesEncryption(err error) bool {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	if re.HTTPStatusCode() == http.StatusNotImplemented {
		return true
	}
	var api smithy.APIError
	if re.HTTPStatusCode() != http.StatusBadRequest || !errors.As(err, &api) {
		return false
	}
	code := strings.ToLower(api.ErrorCode())
	return strings.Contains(code, "encryption") || strings.Contains(code, "kms")
}

// abort abandons a multipart upload, even when the request was cancelled,
// after the Put has returned (Config.Cleanups): no orphan parts, and what
// a hung server keeps the sweeper aborts.
func (s *Store) abort(ctx context.Context, key string, id *string) {
	s.cfg.Cleanups.Go(ctx, func(ctx context.Context) {
		_, _ = s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &key, UploadId: id})
	})
}

// remove deletes an object the store refuses to keep, as abort does.
func (s *Store) remove(ctx context.Context, key string) {
	s.cfg.Cleanups.Go(ctx, func(ctx context.Context) { _ = s.Delete(ctx, key) })
}

// minPartSize is S3's smallest part but the last.
const minPartSize = 5 << 20

func (s *Store) putInput(key string) *s3.PutObjectInput {
	in := &s3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: &key}
	if s.cfg.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.cfg.SSE)
	}
	return in
}

// fill reads r into buf until it is full or r ends; last tells whether r
// ended (a full buffer is not last: more may follow). Only io.EOF ends r:
// net/http answers a body cut short of its Content-Length with
// io.ErrUnexpectedEOF, which io.ReadFull would pass off as a short end, so
// any other error, that one included, fails the upload.
func fill(r io.Reader, buf []byte) (n int, last bool, err error) {
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// partDone is the outcome of one part's upload, with its buffer.
type partDone struct {
	part types.CompletedPart
	buf  []byte
	err  error
}

// putMultipart uploads r as parts, the first already read into buf (n
// bytes); it owns buf and returns every buffer it takes to the pool.
func (s *Store) putMultipart(ctx context.Context, key string, r io.Reader, buf []byte, n int, ended func()) (err error) {
	in := s.putInput(key)
	created, err := s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: in.Bucket, Key: in.Key, ServerSideEncryption: in.ServerSideEncryption,
	})
	if err != nil {
		s.parts.put(buf)
		return fault("create multipart upload", err)
	}
	id := created.UploadId
	// S3 names the encryption in this answer, MinIO only in each part's:
	// an answer naming none leaves the check to the parts'.
	if created.ServerSideEncryption != "" {
		if err = s.encrypted(created.ServerSideEncryption); err != nil {
			s.parts.put(buf)
			err = fault("create multipart upload", err)
			s.abort(ctx, key, id)
			return err
		}
	}
	defer func() {
		if err != nil {
			s.abort(ctx, key, id)
		}
	}()

	var (
		completed []types.CompletedPart
		inflight  chan partDone // the part being uploaded, if any
	)
	// wait collects the part in flight and returns its buffer.
	wait := func() ([]byte, error) {
		d := <-inflight
		inflight = nil
		if d.err != nil {
			return d.buf, fault("upload part", d.err)
		}
		completed = append(completed, d.part)
		return d.buf, nil
	}
	defer func() {
		if inflight != nil {
			b, _ := wait()
			s.parts.put(b)
		}
	}()
	last := false
	for num := int32(1); ; num++ {
		ch := make(chan partDone, 1)
		go func(num int32, buf []byte, n int) {
			out, err := s.c.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: &s.cfg.Bucket, Key: &key, UploadId: id, PartNumber: aws.Int32(num),
				Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
			})
			if err == nil {
				err = s.encrypted(out.ServerSideEncryption)
			}
			d := partDone{buf: buf, err: err}
			if err == nil {
				d.part = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)}
			}
			ch <- d
		}(num, buf, n)
		inflight = ch
		if last {
			break
		}

		// The next part goes into a spare buffer when the pool has one, so
		// reading overlaps the upload; otherwise into this part's buffer
		// once it is up.
		next, ok := s.parts.tryGet()
		if !ok {
			if next, err = wait(); err != nil {
				s.parts.put(next)
				return err
			}
		}
		if n, last, err = fill(r, next); err != nil {
			s.parts.put(next)
			return fmt.Errorf("read upload: %w", err)
		}
		if last {
			ended()
		}
		if inflight != nil {
			b, err := wait()
			s.parts.put(b)
			if err != nil {
				s.parts.put(next)
				return err
			}
		}
		if n == 0 { // the part before was the last
			s.parts.put(next)
			break
		}
		buf = next
	}
	if inflight != nil {
		b, err := wait()
		s.parts.put(b)
		if err != nil {
			return err
		}
	}
	done, err := s.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.cfg.Bucket, Key: &key, UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
	})
	if err != nil {
		return fault("complete multipart upload", err)
	}
	// The parts' answers were checked; an object whose own answer names
	// another encryption than the one asked is not kept either.
	if done.ServerSideEncryption != "" {
		if err := s.encrypted(done.ServerSideEncryption); err != nil {
			s.remove(ctx, key)
			return fault("complete multipart upload", err)
		}
	}
	return nil
}

// partPool holds at most size part buffers, made when first needed and
// reused after; an upload waits for a buffer while all are in use.
type partPool struct {
	free chan []byte // nil entries stand for buffers not yet made
	size int
}

func newPartPool(buffers, size int) *partPool {
	p := &partPool{free: make(chan []byte, buffers), size: size}
	for range buffers {
		p.free <- nil
	}
	return p
}

func (p *partPool) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		return p.made(b), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tryGet returns a buffer only when one is free now.
func (p *partPool) tryGet() ([]byte, bool) {
	select {
	case b := <-p.free:
		return p.made(b), true
	default:
		return nil, false
	}
}

func (p *partPool) made(b []byte) []byte {
	if b == nil {
		b = make([]byte, p.size)
	}
	return b
}

func (p *partPool) put(b []byte) { p.free <- b }

// countingReader counts what it reads and remembers its reader's failure.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// Open returns the object behind a reader that fetches from any offset
// with a ranged GET. Open itself GETs the whole object, whose answer gives
// the size and serves a read from the start without a second round trip.
func (s *Store) Open(ctx context.Context, key string) (service.Blob, error) {
	if err := s.checkedEncryption(); err != nil {
		return nil, err
	}
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil {
		if notFound(err) {
			return nil, service.ErrBlobNotFound
		}
		return nil, fault("get object", err)
	}
	return &ranged{ctx: ctx, s: s, key: key, size: aws.ToInt64(out.ContentLength), body: out.Body}, nil
}

// ranged reads an object from its current offset with one open-ended
// ranged GET, reopened when a read follows a Seek elsewhere.
type ranged struct {
	ctx     context.Context
	s       *Store
	key     string
	size    int64
	off     int64         // where the next Read reads
	body    io.ReadCloser // the open GET, if any
	bodyOff int64         // where body's next byte is
}

func (r *ranged) Size() int64 { return r.size }

func (r *ranged) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.body != nil && r.bodyOff != r.off {
		_ = r.body.Close()
		r.body = nil
	}
	if r.body == nil {
		rng := "bytes=" + strconv.FormatInt(r.off, 10) + "-"
		out, err := r.s.c.GetObject(r.ctx, &s3.GetObjectInput{Bucket: &r.s.cfg.Bucket, Key: &r.key, Range: &rng})
		if err != nil {
			return 0, fault("get object", err)
		}
		r.body, r.bodyOff = out.Body, r.off
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	r.bodyOff = r.off
	if err == io.EOF && r.off < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *ranged) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("seek: negative position")
	}
	// The open GET is kept: a Seek to the end and back (finding the size)
	// costs nothing; the next Read reopens only if the offset moved.
	r.off = abs
	return abs, nil
}

func (r *ranged) Close() error {
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}

// Delete removes an object; an absent one is no error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key}); err != nil && !notFound(err) {
		return fault("delete object", err)
	}
	return nil
}

// List returns up to limit objects under prefix after the key after.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]service.BlobInfo, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.cfg.Bucket, Prefix: &prefix, MaxKeys: aws.Int32(int32(limit))}
	if after != "" {
		in.StartAfter = &after
	}
	out, err := s.c.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, fault("list objects", err)
	}
	infos := make([]service.BlobInfo, 0, len(out.Contents))
	for _, o := range out.Contents {
		infos = append(infos, service.BlobInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
	}
	return infos, nil
}

// AbortIncomplete aborts the multipart uploads under prefix initiated
// before before: a process that dies between two parts (or whose abort
// failed) leaves them, holding their parts, where List does not look.
func (s *Store) AbortIncomplete(ctx context.Context, prefix string, before time.Time) (int, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.cfg.Bucket, Prefix: &prefix}
	aborted := 0
	for {
		out, err := s.c.ListMultipartUploads(ctx, in)
		if err != nil {
			return aborted, fault("list multipart uploads", err)
		}
		for _, u := range out.Uploads {
			if u.Initiated == nil || !u.Initiated.Before(before) {
				continue
			}
			_, err := s.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: u.Key, UploadId: u.UploadId})
			var gone *types.NoSuchUpload
			switch {
			case errors.As(err, &gone) || notFound(err): // completed or aborted meanwhile
			case err != nil:
				return aborted, fault("abort multipart upload", err)
			default:
				aborted++
			}
		}
		if !aws.ToBool(out.IsTruncated) || (aws.ToString(out.NextKeyMarker) == "" && aws.ToString(out.NextUploadIdMarker) == "") {
			return aborted, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// PresignGet signs a GET of the object valid for ttl, naming the content
// type and file name the client should see. The answer is not to be
// cached, as no answer of the service is: the S3 server's own would let a
// browser or a shared proxy keep the patient's file.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration, contentType, filename string) (string, error) {
	if err := s.checkedEncryption(); err != nil {
		return "", err
	}
	disp := `attachment; filename="` + filename + `"`
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.cfg.Bucket, Key: &key, ResponseContentType: &contentType, ResponseContentDisposition: &disp,
		ResponseCacheControl: aws.String("no-store"),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign: %w", err)
	}
	return req.URL, nil
}

// DeleteBucket removes the (empty) bucket; for tests and tools.
func (s *Store) DeleteBucket(ctx context.Context) error {
	if _, err := s.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &s.cfg.Bucket}); err != nil {
		return fault("delete bucket", err)
	}
	return nil
}
