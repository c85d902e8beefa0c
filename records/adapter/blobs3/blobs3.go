// Package blobs3 is the blob store on S3 or an S3-compatible server
// (aws-sdk-go-v2): multipart uploads that stream in bounded parts, ranged
// GETs behind a seekable reader, presigned GET URLs, and server-side
// encryption when the server offers it.
package blobs3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/domainerr"
)

// Config says where the bucket is and how to reach it.
type Config struct {
	Endpoint  string // e.g. http://127.0.0.1:7070; empty for AWS itself
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	PathStyle bool // bucket in the path, as most S3-compatible servers need
	// SSE is the server-side encryption asked of every PUT: "" (none, for
	// servers that offer none), "AES256" or "aws:kms".
	SSE string
	// PartSize and Concurrency bound an upload's memory to about
	// PartSize*(Concurrency+1); defaults 5 MiB (S3's minimum) and 2.
	PartSize    int64
	Concurrency int
}

// ErrUnavailable is a storage fault: the server cannot be reached or
// failed; the request is answered 503 and may be retried.
var ErrUnavailable = domainerr.New(domainerr.Unavailable, "the document store is unavailable")

// Store is a service.BlobStore and service.Presigner on one bucket.
type Store struct {
	c        *s3.Client
	presign  *s3.PresignClient
	uploader *manager.Uploader
	cfg      Config
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
	if c.PartSize <= 0 {
		c.PartSize = manager.MinUploadPartSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
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
		RetryMaxAttempts:           2,
	})
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = c.PartSize
		u.Concurrency = c.Concurrency
		u.LeavePartsOnError = false // abort the multipart upload: no orphan parts
	})
	return &Store{c: client, presign: s3.NewPresignClient(client), uploader: up, cfg: c}
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

// Ping checks that the bucket answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket}); err != nil {
		return fault("reach bucket", err)
	}
	return nil
}

// fault wraps a storage failure as ErrUnavailable.
func fault(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var re *smithyhttp.ResponseError
	return errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound)
}

// Put streams r as a multipart upload in PartSize parts; a failure aborts
// it, leaving no object and no parts.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	cr := &countingReader{r: r}
	in := &s3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: &key, Body: cr}
	if s.cfg.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.cfg.SSE)
	}
	if _, err := s.uploader.Upload(ctx, in); err != nil {
		if cr.err != nil { // the client's body failed, not the store
			return 0, fmt.Errorf("read upload: %w", cr.err)
		}
		return 0, fault("upload object", err)
	}
	return cr.n, nil
}

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
// with a ranged GET.
func (s *Store) Open(ctx context.Context, key string) (service.Blob, error) {
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: &key})
	if err != nil {
		if notFound(err) {
			return nil, service.ErrBlobNotFound
		}
		return nil, fault("head object", err)
	}
	return &ranged{ctx: ctx, s: s, key: key, size: aws.ToInt64(out.ContentLength)}, nil
}

// ranged reads an object from its current offset with one open-ended
// ranged GET, reopened after each Seek.
type ranged struct {
	ctx  context.Context
	s    *Store
	key  string
	size int64
	off  int64
	body io.ReadCloser
}

func (r *ranged) Size() int64 { return r.size }

func (r *ranged) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		rng := "bytes=" + strconv.FormatInt(r.off, 10) + "-"
		out, err := r.s.c.GetObject(r.ctx, &s3.GetObjectInput{Bucket: &r.s.cfg.Bucket, Key: &r.key, Range: &rng})
		if err != nil {
			return 0, fault("get object", err)
		}
		r.body = out.Body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
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
	if abs != r.off && r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
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

// PresignGet signs a GET of the object valid for ttl, naming the content
// type and file name the client should see.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration, contentType, filename string) (string, error) {
	disp := `attachment; filename="` + filename + `"`
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.cfg.Bucket, Key: &key, ResponseContentType: &contentType, ResponseContentDisposition: &disp,
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
