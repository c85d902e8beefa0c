package blobs3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/records/service"
)

// fakeS3 serves handler as an S3 server and counts the requests it gets;
// a handler that waits on hang holds its request until the test ends.
type fakeS3 struct {
	URL      string
	hang     chan struct{}
	requests atomic.Int32
}

func newFakeS3(t *testing.T, handler http.HandlerFunc) *fakeS3 {
	t.Helper()
	f := &fakeS3{hang: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		handler(w, r)
	}))
	t.Cleanup(func() { close(f.hang); srv.Close() })
	f.URL = srv.URL
	return f
}

func (f *fakeS3) store(c blobs3.Config) *blobs3.Store {
	c.Endpoint, c.Bucket, c.AccessKey, c.SecretKey, c.PathStyle = f.URL, "b", "k", "s", true
	return blobs3.New(c, &http.Client{Timeout: time.Minute})
}

// The attempts of an S3 call share its caller's deadline: on a server that
// hangs the call is tried twice and fails as the store's fault (503) a
// margin before the deadline, so that the caller can answer in time.
func TestAttemptsShareTheDeadline(t *testing.T) {
	var f *fakeS3
	f = newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-f.hang:
		case <-r.Context().Done():
		}
	})
	s := f.store(blobs3.Config{})
	const deadline = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_, err := s.Put(ctx, "documents/x", bytes.NewReader([]byte("%PDF-1.7")), nil)
	took := time.Since(start)
	if !errors.Is(err, service.ErrBlobStoreDown) || ctx.Err() != nil {
		t.Fatalf("Put on a hung server = %v (request context: %v), want the store's fault before the deadline", err, ctx.Err())
	}
	if took > deadline-200*time.Millisecond {
		t.Fatalf("Put on a hung server failed after %s, too close to its %s deadline to answer", took, deadline)
	}
	if n := f.requests.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2: the retry keeps a share of the deadline", n)
	}
}

// An object's body streams under the attempt that opened it past the
// attempt's share of the deadline, until the reader is closed.
func TestObjectStreamsPastTheAttemptsShare(t *testing.T) {
	body := strings.Repeat("clinical ", 1000)
	f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "9000")
		_, _ = io.WriteString(w, body[:10])
		w.(http.Flusher).Flush()
		time.Sleep(1500 * time.Millisecond) // past the share of 1 s of 3 s
		_, _ = io.WriteString(w, body[10:])
	})
	s := f.store(blobs3.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	b, err := s.Open(ctx, "documents/x")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != body {
		t.Fatalf("read %d bytes, %v; want the whole object", len(got), err)
	}
}
