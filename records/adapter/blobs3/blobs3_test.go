package blobs3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/records/service/blobtest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
)

// The S3 server of scripts/s3-up.sh, unless MEDISYNC_TEST_S3_ENDPOINT names
// another (with MEDISYNC_TEST_S3_ACCESS_KEY and _SECRET_KEY).
func config(t *testing.T) blobs3.Config {
	t.Helper()
	c := blobs3.Config{Endpoint: "http://127.0.0.1:7070", AccessKey: "medisync", SecretKey: "medisync-secret", PathStyle: true}
	if e := os.Getenv("MEDISYNC_TEST_S3_ENDPOINT"); e != "" {
		c.Endpoint, c.AccessKey, c.SecretKey = e, os.Getenv("MEDISYNC_TEST_S3_ACCESS_KEY"), os.Getenv("MEDISYNC_TEST_S3_SECRET_KEY")
	}
	host := strings.TrimPrefix(strings.TrimPrefix(c.Endpoint, "http://"), "https://")
	conn, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("S3 is required under CI but does not answer at %s (run scripts/s3-up.sh): %v", host, err)
		}
		t.Skipf("S3 tests skipped: no server answers at %s (run scripts/s3-up.sh)", host)
	}
	_ = conn.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	c.Bucket = "medisync-test-" + hex.EncodeToString(b)
	return c
}

// newStore returns a store on a fresh bucket, emptied and removed after the
// test.
func newStore(t *testing.T) *blobs3.Store {
	t.Helper()
	c := config(t)
	s := blobs3.New(c, &http.Client{Timeout: 30 * time.Second})
	ctx := context.Background()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		infos, _ := s.List(ctx, "", "", 1000)
		for _, in := range infos {
			_ = s.Delete(ctx, in.Key)
		}
		_ = s.DeleteBucket(ctx)
	})
	return s
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) service.BlobStore { return newStore(t) },
		func(ctx context.Context, s service.BlobStore, key string) error {
			return s.(*blobs3.Store).CrashedPut(ctx, key)
		})
}

func TestPresignedURL(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	data := []byte("%PDF-1.7 a lab report")
	if _, err := s.Put(ctx, "documents/p", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	get := func(u string) (int, []byte, http.Header) {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b, res.Header
	}

	u, err := s.PresignGet(ctx, "documents/p", time.Minute, "application/pdf", "p.pdf")
	if err != nil {
		t.Fatal(err)
	}
	code, body, h := get(u)
	if code != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("presigned GET = %d %q", code, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type = %q", ct)
	}
	// The link's answer is the patient's file: never kept by a browser or
	// a shared proxy, as no answer of the service is.
	if cc := h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}

	// A URL whose signature or key is changed is refused.
	tampered := strings.Replace(u, "documents/p", "documents/q", 1)
	if code, _, _ := get(tampered); code != http.StatusForbidden {
		t.Errorf("tampered URL = %d, want 403", code)
	}

	short, err := s.PresignGet(ctx, "documents/p", time.Second, "application/pdf", "p.pdf")
	if err != nil {
		t.Fatal(err)
	}
	// SigV4 expiry has a one-second resolution: wait it out.
	time.Sleep(2100 * time.Millisecond)
	if code, _, _ := get(short); code != http.StatusForbidden {
		t.Errorf("expired URL = %d, want 403", code)
	}
}

// A link is signed for the public endpoint, the name clients reach the
// server by, not the one the service uses (a container network's host
// name): here localhost for a service on 127.0.0.1, the same server.
func TestPresignedURLNamesThePublicEndpoint(t *testing.T) {
	c := config(t)
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" {
		t.Skipf("the S3 server at %s has no second name to test with", c.Endpoint)
	}
	public := u.Scheme + "://localhost:" + u.Port()
	c.PublicEndpoint = public
	s := blobs3.New(c, &http.Client{Timeout: 30 * time.Second})
	ctx := context.Background()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Delete(ctx, "documents/p")
		_ = s.DeleteBucket(ctx)
	})
	data := []byte("%PDF-1.7 a lab report")
	if _, err := s.Put(ctx, "documents/p", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	link, err := s.PresignGet(ctx, "documents/p", time.Minute, "application/pdf", "p.pdf")
	if err != nil {
		t.Fatal(err)
	}
	lu, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if lu.Host != "localhost:"+u.Port() {
		t.Fatalf("link %s names %s, want the public endpoint %s", link, lu.Host, public)
	}
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET of the public link = %d %q", res.StatusCode, body)
	}
}

// An unreachable server is an Unavailable fault, and nothing is left.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s := blobs3.New(blobs3.Config{Endpoint: "http://" + addr, Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true},
		&http.Client{Timeout: 2 * time.Second})
	ctx := context.Background()
	_, err = s.Put(ctx, "documents/x", bytes.NewReader([]byte("x")), nil)
	if !errors.Is(err, domainerr.Unavailable) {
		t.Fatalf("Put = %v, want Unavailable", err)
	}
	if _, err := s.Open(ctx, "documents/x"); !errors.Is(err, domainerr.Unavailable) {
		t.Fatalf("Open = %v, want Unavailable", err)
	}
}

// newStoreWith is newStore with part buffers limited to buffers.
func newStoreWith(t *testing.T, buffers int) (*blobs3.Store, blobs3.Config) {
	t.Helper()
	c := config(t)
	c.PartBuffers = buffers
	s := blobs3.New(c, &http.Client{Timeout: 30 * time.Second})
	ctx := context.Background()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		infos, _ := s.List(ctx, "", "", 1000)
		for _, in := range infos {
			_ = s.Delete(ctx, in.Key)
		}
		_ = s.DeleteBucket(ctx)
	})
	return s, c
}

func readAll(t *testing.T, s *blobs3.Store, key string) []byte {
	t.Helper()
	b, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestMultipartSizes(t *testing.T) {
	s, _ := newStoreWith(t, 8)
	ctx := context.Background()
	const part = 5 << 20
	for _, size := range []int{0, 1, part - 1, part, part + 1, 2 * part, 2*part + 777} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		key := fmt.Sprintf("documents/size-%d", size)
		// A reader that is no bytes.Reader: the store cannot know the size.
		st, err := s.Put(ctx, key, io.MultiReader(bytes.NewReader(data)), nil)
		sum := sha256.Sum256(data)
		if err != nil || st.Size != int64(size) || st.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("Put %d bytes = %+v, %v", size, st, err)
		}
		if got := readAll(t, s, key); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes put, %d different bytes read back", size, len(got))
		}
	}
}

// With one part buffer for the whole store, concurrent uploads take turns
// instead of each holding its own parts, and all complete.
func TestOneBufferSharedByConcurrentUploads(t *testing.T) {
	s, _ := newStoreWith(t, 1)
	ctx := context.Background()
	data := make([]byte, 11<<20+5)
	_, _ = rand.Read(data)
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := s.Put(ctx, fmt.Sprintf("documents/c%d", i), io.MultiReader(bytes.NewReader(data)), nil)
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if got := readAll(t, s, fmt.Sprintf("documents/c%d", i)); !bytes.Equal(got, data) {
			t.Fatalf("upload %d read back differs", i)
		}
	}
}

// blockingReader yields one byte, then blocks until released.
type blockingReader struct {
	release chan struct{}
	sent    bool
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		p[0] = '%'
		return 1, nil
	}
	<-b.release
	return 0, io.EOF
}

// An upload waiting for a part buffer gives up when its request ends.
func TestWaitForABufferEndsWithTheRequest(t *testing.T) {
	s, _ := newStoreWith(t, 1)
	holder := &blockingReader{release: make(chan struct{})}
	held := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), "documents/holder", holder, nil)
		held <- err
	}()
	// The holder has the only buffer once its first byte was read.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := s.Put(ctx, "documents/waiter", bytes.NewReader([]byte("x")), nil)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the waiting upload did not end with its request: %v", err)
		}
	}
	close(holder.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, "documents/holder"); string(got) != "%" {
		t.Fatalf("holder read back %q", got)
	}
}

// A multipart upload whose client fails midway is aborted: no parts stay.
func TestFailedMultipartLeavesNoParts(t *testing.T) {
	s, c := newStoreWith(t, 2)
	ctx := context.Background()
	boom := errors.New("client went away")
	data := make([]byte, 12<<20)
	r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
	if _, err := s.Put(ctx, "documents/broken", r, nil); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want the reader's failure", err)
	}
	if open, err := listUploads(ctx, c); err != nil || len(open) != 0 {
		t.Fatalf("multipart uploads left open: %v, %v", open, err)
	}
}

// listUploads lists the bucket's open multipart uploads, with a client of
// its own.
func listUploads(ctx context.Context, c blobs3.Config) ([]types.MultipartUpload, error) {
	raw := s3.New(s3.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		BaseEndpoint: aws.String(c.Endpoint), UsePathStyle: true,
	})
	out, err := raw.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &c.Bucket})
	if err != nil {
		return nil, err
	}
	return out.Uploads, nil
}

// The hash Put hands the signer is the one the request carries, and the
// server checks it against the bytes: a wrong one is refused, so reusing
// the document's hash keeps the payload's integrity check.
func TestPayloadHashIsChecked(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	body := []byte("%PDF-1.7 the payload")
	sum := sha256.Sum256(body)
	if err := s.PutSigned(ctx, "documents/right", body, hex.EncodeToString(sum[:])); err != nil {
		t.Fatalf("right hash: %v", err)
	}
	other := sha256.Sum256([]byte("other bytes"))
	if err := s.PutSigned(ctx, "documents/wrong", body, hex.EncodeToString(other[:])); err == nil {
		t.Fatal("a payload whose hash differs from the signed one was stored")
	}
}

// Only io.EOF ends an upload's body, wherever it falls in a part buffer;
// any other failure, io.ErrUnexpectedEOF of a body cut short of its
// Content-Length included, is the upload's failure.
func TestFillEndsOnlyOnEOF(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1000)
	for _, tc := range []struct {
		name    string
		r       io.Reader
		n       int
		last    bool
		wantErr error
	}{
		{"ends within the buffer", bytes.NewReader(data), 1000, true, nil},
		{"ends within the buffer, a byte at a time", iotest.OneByteReader(bytes.NewReader(data)), 1000, true, nil},
		{"ends with its last bytes", iotest.DataErrReader(bytes.NewReader(data)), 1000, true, nil},
		{"ends at once", bytes.NewReader(nil), 0, true, nil},
		{"fills the buffer", bytes.NewReader(append(data, data...)), 1024, false, nil},
		{"cut short", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(io.ErrUnexpectedEOF)), 1000, false, io.ErrUnexpectedEOF},
		{"fails", io.MultiReader(bytes.NewReader(data), iotest.ErrReader(iotest.ErrTimeout)), 1000, false, iotest.ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, last, err := blobs3.Fill(tc.r, make([]byte, 1024))
			if n != tc.n || last != tc.last || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Fill = %d, %v, %v; want %d, %v, %v", n, last, err, tc.n, tc.last, tc.wantErr)
			}
		})
	}
}

// A store asked for server-side encryption keeps nothing on a server that
// takes the header and stores the bytes in the clear (versitygw), and says
// so at its start.
func TestEncryptionAskedButNotApplied(t *testing.T) {
	c := config(t)
	c.SSE = "AES256"
	s := blobs3.New(c, &http.Client{Timeout: 30 * time.Second})
	ctx := context.Background()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteBucket(ctx) })
	err := s.CheckEncryption(ctx)
	if err == nil {
		t.Skip("this S3 server applies server-side encryption")
	}
	if !errors.Is(err, blobs3.ErrNotEncrypted) {
		t.Fatalf("CheckEncryption = %v, want ErrNotEncrypted", err)
	}
	for _, size := range []int{10, 6 << 20} { // one PutObject, a multipart upload
		_, err := s.Put(ctx, fmt.Sprintf("documents/clear-%d", size), bytes.NewReader(make([]byte, size)), nil)
		if !errors.Is(err, blobs3.ErrNotEncrypted) || !errors.Is(err, domainerr.Unavailable) {
			t.Fatalf("Put of %d bytes = %v, want a fault naming ErrNotEncrypted", size, err)
		}
	}
	if infos, err := s.List(ctx, "", "", 10); err != nil || len(infos) != 0 {
		t.Fatalf("objects left behind: %v, %v", infos, err)
	}
	if out, err := listUploads(ctx, c); err != nil || len(out) != 0 {
		t.Fatalf("multipart uploads left behind: %v, %v", out, err)
	}

	c.SSE = ""
	if err := blobs3.New(c, http.DefaultClient).CheckEncryption(ctx); err != nil {
		t.Fatalf("no encryption asked, none checked: %v", err)
	}
}

// A server that refuses the encryption header itself (as MinIO without a
// KMS does, 501, or a 400 naming the encryption) is as misconfigured as
// one that ignores it; any other refusal or failure is only unavailable.
func TestEncryptionRefused(t *testing.T) {
	var status atomic.Int32
	var code atomic.Value
	status.Store(http.StatusNotImplemented)
	code.Store("NotImplemented")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code.Load().(string)+`</Code><Message>refused</Message></Error>`)
	}))
	t.Cleanup(srv.Close)
	s := blobs3.New(blobs3.Config{Endpoint: srv.URL, Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true, SSE: "AES256"},
		&http.Client{Timeout: 2 * time.Second})
	if err := s.CheckEncryption(context.Background()); !errors.Is(err, blobs3.ErrNotEncrypted) {
		t.Fatalf("CheckEncryption against a 501 = %v, want ErrNotEncrypted", err)
	}
	status.Store(http.StatusBadRequest)
	code.Store("InvalidEncryptionAlgorithmError")
	if err := s.CheckEncryption(context.Background()); !errors.Is(err, blobs3.ErrNotEncrypted) {
		t.Fatalf("CheckEncryption against a 400 refusing the algorithm = %v, want ErrNotEncrypted", err)
	}
	// A wrong region or a server that cannot answer is no reason to turn
	// encryption off.
	for _, c := range []struct {
		status int
		code   string
	}{{http.StatusBadRequest, "AuthorizationHeaderMalformed"}, {http.StatusServiceUnavailable, "SlowDown"}} {
		status.Store(int32(c.status))
		code.Store(c.code)
		err := s.CheckEncryption(context.Background())
		if errors.Is(err, blobs3.ErrNotEncrypted) || !errors.Is(err, domainerr.Unavailable) {
			t.Fatalf("CheckEncryption against a %d %s = %v, want only Unavailable", c.status, c.code, err)
		}
	}
}

// A server that answers the probe with a refusal that is not about
// encryption (403 from a policy, a wrong region) is there: the check
// cannot be made, but content moves, and every upload's answer is still
// checked for the encryption asked. One that does not answer (a 5xx, 408,
// 429, no connection) holds content back until a later check passes.
func TestProbeRefusedByAnAnswerLeavesEachUploadChecked(t *testing.T) {
	var status atomic.Int32
	var probes atomic.Value
	probes.Store("")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "probe") {
			w.WriteHeader(http.StatusOK) // stored, named unencrypted
			return
		}
		probes.Store(r.URL.Path)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>Refused</Code><Message>refused</Message></Error>`)
	}))
	t.Cleanup(srv.Close)
	store := func() *blobs3.Store {
		return blobs3.New(blobs3.Config{Endpoint: srv.URL, Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true, SSE: "AES256"},
			&http.Client{Timeout: 2 * time.Second})
	}
	ctx := context.Background()
	for _, code := range []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError} {
		status.Store(int32(code))
		s := store()
		if err := s.CheckEncryption(ctx); errors.Is(err, blobs3.ErrProbeRefused) || !errors.Is(err, service.ErrBlobStoreDown) {
			t.Fatalf("CheckEncryption answered %d = %v, want only the store's fault", code, err)
		}
		if _, err := s.Open(ctx, "documents/a"); !errors.Is(err, service.ErrBlobStoreDown) {
			t.Fatalf("Open after a probe answered %d = %v, want the store's fault", code, err)
		}
	}
	if p := probes.Load().(string); !strings.HasPrefix(p, "/b/"+service.BlobPrefix) {
		t.Fatalf("the probe went to %s, outside the documents' prefix a policy may confine the service to", p)
	}
	for _, code := range []int{http.StatusForbidden, http.StatusBadRequest} {
		status.Store(int32(code))
		s := store()
		err := s.CheckEncryption(ctx)
		if !errors.Is(err, blobs3.ErrProbeRefused) || errors.Is(err, blobs3.ErrNotEncrypted) {
			t.Fatalf("CheckEncryption answered %d = %v, want ErrProbeRefused", code, err)
		}
		b, err := s.Open(ctx, "documents/a")
		if err != nil {
			t.Fatalf("Open after a probe answered %d = %v, want the object", code, err)
		}
		_ = b.Close()
		if _, err := s.Put(ctx, "documents/b", bytes.NewReader([]byte("%PDF-1.7")), nil); !errors.Is(err, blobs3.ErrNotEncrypted) {
			t.Fatalf("Put stored without encryption after a probe answered %d = %v, want ErrNotEncrypted", code, err)
		}
	}
}

// noDocuments is a document repository that names no object.
type noDocuments struct{ service.DocumentRepository }

func (noDocuments) KnownBlobKeys(context.Context, []string) (map[string]bool, error) {
	return map[string]bool{}, nil
}

// A service killed (or whose abort failed) in the middle of a multipart
// upload leaves its parts, up to the whole document, where no object
// listing sees them; the sweeper aborts such uploads under the documents'
// prefix once older than its grace, and leaves other prefixes alone.
func TestSweeperAbortsCrashedMultipartUploads(t *testing.T) {
	s, c := newStoreWith(t, 2)
	ctx := context.Background()
	raw := s3.New(s3.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		BaseEndpoint: aws.String(c.Endpoint), UsePathStyle: true,
	})
	// What Put has done when the process dies between two parts.
	part := bytes.Repeat([]byte("clinical "), (5<<20)/9+1)
	for _, key := range []string{"documents/0190a0a0-0000-7000-8000-0000000000aa", "other/x"} {
		created, err := raw.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &c.Bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = raw.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &c.Bucket, Key: &key, UploadId: created.UploadId})
		})
		if _, err := raw.UploadPart(ctx, &s3.UploadPartInput{Bucket: &c.Bucket, Key: &key, UploadId: created.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part)))}); err != nil {
			t.Fatal(err)
		}
	}

	clk := clocktest.New(time.Now())
	sw := service.Sweeper{Blobs: s, Documents: noDocuments{}, Clock: clk, Grace: time.Hour}
	if n, err := sw.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep within the grace removed %d, %v; want 0", n, err)
	}
	clk.Advance(48 * time.Hour)
	if n, err := sw.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("a sweep two days later removed %d, %v; want the crashed upload", n, err)
	}
	open, err := listUploads(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || aws.ToString(open[0].Key) != "other/x" {
		t.Fatalf("multipart uploads left after the sweep: %+v; want only the one outside the documents' prefix", open)
	}
}
