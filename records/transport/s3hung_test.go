package transport_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/server"
)

// silentS3 accepts connections and never answers: an S3 server that hangs.
func silentS3(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// An upload while the object store hangs is answered 503 within the
// upload route's deadline (records: 50 s, under the gateway's 55 s): each
// S3 call ends a margin before the deadline, and the
// removal of what the failed upload may have left waits on the hung
// server after the answer, not before it.
func TestUploadWhileS3HangsAnswersWithinTheDeadline(t *testing.T) {
	const deadline = 3 * time.Second
	s3 := blobs3.New(blobs3.Config{Endpoint: silentS3(t), Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true},
		server.NewHTTPClientOver(0, server.NewTransport()))
	h := newHarness(t, 1<<20, func(d *service.Deps) { d.Blobs = s3 })
	// The route's deadline, as httpmw.Stack sets it in the service.
	h.srv.Config.Handler = httpmw.Deadline(deadline)(h.srv.Config.Handler)

	start := time.Now()
	r := h.do("patient", http.MethodPost, "/documents?title=t&type=lab-report", bytes.NewReader([]byte("%PDF-1.7\nx")),
		"Content-Type", "application/pdf")
	took := time.Since(start)
	if r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") == "" {
		t.Fatalf("upload with S3 hung = %d %s, want 503 with Retry-After", r.code, r.body)
	}
	if took > deadline+time.Second {
		t.Fatalf("upload with S3 hung answered after %s, past its %s deadline", took.Round(100*time.Millisecond), deadline)
	}
}

// stuckS3 answers CreateMultipartUpload and hangs on every other request,
// until the test ends; it records the requests it received.
type stuckS3 struct {
	URL  string
	mu   sync.Mutex
	seen []string // method and query of each request
}

func newStuckS3(t *testing.T) *stuckS3 {
	t.Helper()
	f := &stuckS3{}
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.RawQuery)
		f.mu.Unlock()
		if r.Method == http.MethodPost && r.URL.Query().Has("uploads") {
			w.Header().Set("Content-Type", "application/xml")
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>b</Bucket>`+
				`<Key>k</Key><UploadId>the-upload</UploadId></InitiateMultipartUploadResult>`)
			return
		}
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	f.URL = srv.URL
	return f
}

// aborted reports whether the multipart upload was aborted.
func (f *stuckS3) aborted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.seen, func(s string) bool { return strings.HasPrefix(s, http.MethodDelete+" uploadId=the-upload") })
}

// A multipart upload whose parts hang is answered 503 within the route's
// deadline, and aborted after the answer: the abort waits on the same
// server, so it must not hold the answer; what it cannot abort the sweeper
// does.
func TestMultipartUploadWhileS3HangsAnswersWithinTheDeadline(t *testing.T) {
	const deadline = 3 * time.Second
	stuck := newStuckS3(t)
	cleanups := service.NewCleanups(0, 0)
	s3 := blobs3.New(blobs3.Config{Endpoint: stuck.URL, Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true, Cleanups: cleanups},
		server.NewHTTPClientOver(0, server.NewTransport()))
	h := newHarness(t, 16<<20, func(d *service.Deps) { d.Blobs, d.Cleanups = s3, cleanups })
	h.srv.Config.Handler = httpmw.Deadline(deadline)(h.srv.Config.Handler)

	body := append([]byte("%PDF-1.7\n"), make([]byte, 6<<20)...) // two parts
	start := time.Now()
	r := h.do("patient", http.MethodPost, "/documents?title=t&type=lab-report", bytes.NewReader(body), "Content-Type", "application/pdf")
	took := time.Since(start)
	if r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") == "" {
		t.Fatalf("multipart upload with S3 hung = %d %s, want 503 with Retry-After", r.code, r.body)
	}
	if took > deadline+time.Second { // the client's side of the exchange, on a busy machine
		t.Fatalf("multipart upload with S3 hung answered after %s, past its %s deadline", took.Round(100*time.Millisecond), deadline)
	}
	for end := time.Now().Add(5 * time.Second); !stuck.aborted(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the multipart upload was not aborted after the answer; requests: %v", stuck.seen)
		}
	}
}

// switchable is a blob store that can be swapped for another.
type switchable struct {
	mu  sync.Mutex
	cur service.BlobStore
}

func (s *switchable) to(b service.BlobStore) { s.mu.Lock(); s.cur = b; s.mu.Unlock() }
func (s *switchable) get() service.BlobStore { s.mu.Lock(); defer s.mu.Unlock(); return s.cur }

func (s *switchable) Put(ctx context.Context, key string, r io.Reader, read func(service.Stored)) (service.Stored, error) {
	return s.get().Put(ctx, key, r, read)
}
func (s *switchable) Open(ctx context.Context, key string) (service.Blob, error) {
	return s.get().Open(ctx, key)
}
func (s *switchable) Delete(ctx context.Context, key string) error { return s.get().Delete(ctx, key) }
func (s *switchable) List(ctx context.Context, prefix, after string, limit int) ([]service.BlobInfo, error) {
	return s.get().List(ctx, prefix, after, limit)
}
func (s *switchable) AbortIncomplete(ctx context.Context, prefix string, before time.Time) (int, error) {
	return s.get().AbortIncomplete(ctx, prefix, before)
}
func (s *switchable) PresignGet(ctx context.Context, key string, ttl time.Duration, contentType, filename string) (string, error) {
	p, ok := s.get().(service.Presigner)
	if !ok {
		return "", record.ErrPresignDisabled
	}
	return p.PresignGet(ctx, key, ttl, contentType, filename)
}

// Every route that moves a document's content answers within its deadline
// while the object store hangs: a download and a new version 503 with
// Retry-After; a link is signed here, without a round trip to the store,
// so it is minted as usual.
func TestContentRoutesWhileS3HangsAnswerWithinTheirDeadline(t *testing.T) {
	const deadline = 3 * time.Second
	blobs := &switchable{}
	h := newHarness(t, 1<<20, func(d *service.Deps) { blobs.to(d.Blobs); d.Blobs = blobs })
	h.srv.Config.Handler = httpmw.Deadline(deadline)(h.srv.Config.Handler)
	id := h.upload("patient", h.patient, []byte("%PDF-1.7\nstored before the store hung"))
	blobs.to(blobs3.New(blobs3.Config{Endpoint: silentS3(t), Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true},
		server.NewHTTPClientOver(0, server.NewTransport())))

	for _, c := range []struct {
		name, method, path string
		body               io.Reader
		want               int
	}{
		{"download", http.MethodGet, "/documents/" + id + "/content", nil, http.StatusServiceUnavailable},
		{"new version", http.MethodPost, "/documents/" + id + "/versions?title=t&type=lab-report", strings.NewReader("%PDF-1.7\nv2"), http.StatusServiceUnavailable},
		{"link", http.MethodPost, "/documents/" + id + "/link", nil, http.StatusOK},
	} {
		start := time.Now()
		r := h.do("patient", c.method, c.path, c.body, "Content-Type", "application/pdf")
		took := time.Since(start)
		if r.code != c.want || (c.want == http.StatusServiceUnavailable && r.h.Get("Retry-After") == "") {
			t.Fatalf("%s with S3 hung = %d %s, want %d", c.name, r.code, r.body, c.want)
		}
		if took > deadline+time.Second { // the client's side of the exchange, on a busy machine
			t.Fatalf("%s with S3 hung answered after %s, past its %s deadline", c.name, took.Round(100*time.Millisecond), deadline)
		}
	}
}
