package blobs3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// An S3 call on a server that hangs fails as the store's fault (503) a
// margin before its caller's deadline, so that the caller can answer in
// time; its one attempt had all that time, and is not tried again when
// none is left.
func TestHungS3FailsTheCallBeforeItsDeadline(t *testing.T) {
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
	if took > deadline-50*time.Millisecond { // the call ends 300 ms before it; the rest is slack for a busy machine
		t.Fatalf("Put on a hung server failed after %s, too close to its %s deadline to answer", took, deadline)
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("%d attempts, want 1: the attempt cut at the call's end leaves no time for another", n)
	}
}

// An attempt that fails at once (the connection dropped before an answer)
// is tried again in the time left, and the call succeeds.
func TestFailedAttemptIsRetriedInTheTimeLeft(t *testing.T) {
	var f *fakeS3
	f = newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if f.requests.Load() == 1 {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = c.Close()
			}
		}
	})
	s := f.store(blobs3.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Put(ctx, "documents/x", bytes.NewReader([]byte("%PDF-1.7")), nil); err != nil {
		t.Fatalf("Put whose first attempt lost its connection = %v, want stored by the retry", err)
	}
	if n := f.requests.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
}

// An object's body streams under the call that opened it past the call's
// end (a margin before the deadline), until the reader is closed.
func TestObjectStreamsPastTheCallsEnd(t *testing.T) {
	body := strings.Repeat("clinical ", 1000)
	f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "9000")
		_, _ = io.WriteString(w, body[:10])
		w.(http.Flusher).Flush()
		time.Sleep(3800 * time.Millisecond) // past the call's end, 3.6 s of 4 s
		_, _ = io.WriteString(w, body[10:])
	})
	s := f.store(blobs3.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
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

// An S3 that answers slowly, but within the time a request has left, is
// waited for: the upload is stored, its body sent once.
func TestSlowButAnsweringS3FitsTheTimeLeft(t *testing.T) {
	f := newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(1100 * time.Millisecond)
	})
	s := f.store(blobs3.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Put(ctx, "documents/x", bytes.NewReader([]byte("%PDF-1.7")), nil)
	if err != nil {
		t.Fatalf("Put taking 1.1 s of the 2 s left = %v after %s and %d attempts, want stored", err, time.Since(start).Round(time.Millisecond), f.requests.Load())
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("%d attempts, want the body sent once", n)
	}
}

// encryptingS3 is an S3 server that applies the encryption asked, until
// told to stop; it keeps the objects put.
type encryptingS3 struct {
	*fakeS3
	clear   atomic.Bool // store without encryption
	mu      sync.Mutex
	objects map[string]string
}

func newEncryptingS3(t *testing.T) *encryptingS3 {
	e := &encryptingS3{objects: map[string]string{}}
	e.fakeS3 = newFakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		switch r.Method {
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			e.objects[r.URL.Path] = string(b)
			if sse := r.Header.Get("X-Amz-Server-Side-Encryption"); sse != "" && !e.clear.Load() {
				w.Header().Set("X-Amz-Server-Side-Encryption", sse)
			}
		case http.MethodDelete:
			delete(e.objects, r.URL.Path)
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet:
			o, ok := e.objects[r.URL.Path]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			_, _ = io.WriteString(w, o)
		}
	})
	return e
}

func (e *encryptingS3) has(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.objects["/b/"+key]
	return ok
}

// With an encryption asked, the store moves no content until a check of
// the server's encryption has passed (a start that could not reach the
// server leaves it to a later check): uploads, downloads and links are
// the store's fault, and reach no server. Once checked, each upload is
// still checked, and one stored in the clear is refused and removed.
func TestContentWaitsForTheEncryptionCheck(t *testing.T) {
	e := newEncryptingS3(t)
	s := e.store(blobs3.Config{SSE: "AES256"})
	ctx := context.Background()
	if _, err := s.Put(ctx, "documents/a", bytes.NewReader([]byte("%PDF-1.7")), nil); !errors.Is(err, service.ErrBlobStoreDown) {
		t.Fatalf("Put before the check = %v, want the store's fault", err)
	}
	if _, err := s.Open(ctx, "documents/a"); !errors.Is(err, service.ErrBlobStoreDown) {
		t.Fatalf("Open before the check = %v, want the store's fault", err)
	}
	if _, err := s.PresignGet(ctx, "documents/a", time.Minute, "application/pdf", "a"); !errors.Is(err, service.ErrBlobStoreDown) {
		t.Fatalf("PresignGet before the check = %v, want the store's fault", err)
	}
	if n := e.requests.Load(); n != 0 {
		t.Fatalf("%d requests reached the server before the check", n)
	}

	if err := s.CheckEncryption(ctx); err != nil {
		t.Fatalf("CheckEncryption on a server that encrypts = %v", err)
	}
	if _, err := s.Put(ctx, "documents/a", bytes.NewReader([]byte("%PDF-1.7")), nil); err != nil {
		t.Fatalf("Put after the check: %v", err)
	}
	b, err := s.Open(ctx, "documents/a")
	if err != nil {
		t.Fatalf("Open after the check: %v", err)
	}
	_ = b.Close()
	if _, err := s.PresignGet(ctx, "documents/a", time.Minute, "application/pdf", "a"); err != nil {
		t.Fatalf("PresignGet after the check: %v", err)
	}

	e.clear.Store(true)
	_, err = s.Put(ctx, "documents/b", bytes.NewReader([]byte("%PDF-1.7")), nil)
	if !errors.Is(err, blobs3.ErrNotEncrypted) || !errors.Is(err, service.ErrBlobStoreDown) {
		t.Fatalf("Put stored in the clear = %v, want a fault naming ErrNotEncrypted", err)
	}
	if e.has("documents/b") {
		t.Fatal("an object stored in the clear was kept")
	}
}
