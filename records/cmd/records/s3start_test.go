package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/runtest"
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

// The object store is deliberately not a readiness check ("encounters,
// lists and the audit trail serve without the object store"), and an S3
// that is down (refusing connections) lets records start at once. One that
// hangs (accepting connections, never answering) must not hold the start
// either: the bucket and the encryption check have a few seconds, then
// records serves, document content refused until a later check passes.
func TestStartWithS3HungServesEncountersPromptly(t *testing.T) {
	iss := authntest.NewIssuer(t)
	dir := t.TempDir()
	addr := runtest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-http-addr", addr, "-db-dsn", "sqlite:" + filepath.Join(dir, "r.db"), "-discovery-urls", "",
			"-jwks-url", iss.JWKSURL(), "-log-level", "error", "-blob-store", "s3", "-s3-endpoint", silentS3(t),
			"-s3-access-key", "k", "-s3-secret-key", "s"})
	}()
	t.Cleanup(func() { cancel(); <-done })
	start := time.Now()
	const within = 20 * time.Second
	for time.Since(start) < within {
		if res, err := http.Get("http://" + addr + "/health/ready"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Logf("ready after %s", time.Since(start))
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("records with S3 hung is not serving %s after its start (the database and auth answer)", within)
}

// An S3 that did not answer the encryption check at start is checked again
// in the background until a check passes: until then the store moves no
// document content (503), after it content flows.
func TestEncryptionCheckedOnceS3Answers(t *testing.T) {
	var answer atomic.Bool
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answer.Load() {
			select {
			case <-stop:
			case <-r.Context().Done():
			}
			return
		}
		switch r.Method {
		case http.MethodPut: // applies the encryption asked
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Amz-Server-Side-Encryption", r.Header.Get("X-Amz-Server-Side-Encryption"))
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	s := blobs3.New(blobs3.Config{Endpoint: srv.URL, Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true, SSE: "AES256"},
		&http.Client{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const timeout = 500 * time.Millisecond
	if _, err := prepareS3(ctx, s, timeout); !errors.Is(err, service.ErrBlobStoreDown) {
		t.Fatalf("check with S3 hung = %v, want the store's fault", err)
	}
	done := make(chan struct{})
	go func() { recheckS3(ctx, log.NewNopLogger(), s, 50*time.Millisecond, timeout); close(done) }()
	put := func() error {
		_, err := s.Put(ctx, "documents/x", strings.NewReader("%PDF-1.7"), nil)
		return err
	}
	time.Sleep(200 * time.Millisecond)
	if err := put(); !errors.Is(err, service.ErrBlobStoreDown) {
		t.Fatalf("upload before a check passed = %v, want the store's fault", err)
	}
	answer.Store(true)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the background check did not pass once S3 answered")
	}
	if err := put(); err != nil {
		t.Fatalf("upload once the check passed: %v", err)
	}
}

// An S3 that answers, encrypts every document and serves them, but whose
// credentials may write only under documents/ (a least-privilege policy on
// the prefix records uses), refuses a write anywhere else with 403. The
// encryption check passes there, or would be answered with the refusal:
// either way downloads and uploads are served, never held back as if S3
// were away.
func TestProbeRefusedByPolicyStillServesContent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead && r.URL.Path == "/b": // HeadBucket
		case r.Method == http.MethodPut && !strings.HasPrefix(r.URL.Path, "/b/documents/"):
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		case r.Method == http.MethodPut:
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("X-Amz-Server-Side-Encryption", r.Header.Get("X-Amz-Server-Side-Encryption"))
		case r.Method == http.MethodGet && r.URL.Path == "/b/documents/x":
			w.Header().Set("Content-Length", "8")
			_, _ = io.WriteString(w, "%PDF-1.7")
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	s := blobs3.New(blobs3.Config{Endpoint: srv.URL, Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true, SSE: "AES256"},
		&http.Client{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := prepareS3(ctx, s, 5*time.Second)
	t.Logf("start check: %v", err)
	if err != nil {
		go recheckS3(ctx, log.NewNopLogger(), s, 20*time.Millisecond, 5*time.Second)
	}
	time.Sleep(500 * time.Millisecond) // 25 background checks
	b, err := s.Open(ctx, "documents/x")
	if err != nil {
		t.Fatalf("download of a stored document from a working S3 = %v, want its content", err)
	}
	_ = b.Close()
	if _, err := s.Put(ctx, "documents/y", strings.NewReader("%PDF-1.7"), nil); err != nil {
		t.Fatalf("upload to a working, encrypting S3 = %v", err)
	}
}

// lines is a logger keeping the lines written, for tests.
type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Background checks that keep finding no S3 are logged at the first and
// then every few minutes, not every time; a server that comes back and
// answers the check with a refusal (a policy) ends them, content served.
func TestBackgroundChecksLogAnOutageOnceAndEndOnAnAnswer(t *testing.T) {
	var answer atomic.Bool
	var probes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/b/documents/") {
			probes.Add(1)
		}
		if !answer.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
	}))
	defer srv.Close()
	s := blobs3.New(blobs3.Config{Endpoint: srv.URL, Bucket: "b", AccessKey: "k", SecretKey: "s", PathStyle: true, SSE: "AES256"},
		&http.Client{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lines
	done := make(chan struct{})
	go func() {
		recheckS3(ctx, log.NewLogfmtLogger(&out), s, 20*time.Millisecond, 50*time.Millisecond)
		close(done)
	}()
	time.Sleep(500 * time.Millisecond)
	if n := strings.Count(out.String(), "encryption still not checked"); n != 1 || probes.Load() < 3 {
		t.Fatalf("%d lines for %d failed background checks of half a second, want 1:\n%s", n, probes.Load(), out.String())
	}
	if _, err := s.Open(ctx, "documents/x"); !errors.Is(err, service.ErrBlobStoreDown) || strings.Contains(err.Error(), "404") {
		t.Fatalf("download while S3 fails = %v, want the store's fault before any request", err)
	}
	answer.Store(true)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the background checks go on after S3 answered the probe")
	}
	if !strings.Contains(out.String(), "refused the probe") {
		t.Fatalf("no line says the probe was refused:\n%s", out.String())
	}
	if _, err := s.Open(ctx, "documents/x"); errors.Is(err, service.ErrBlobStoreDown) && strings.Contains(err.Error(), "not checked") {
		t.Fatalf("download once S3 answered = %v, want it sent to S3", err)
	}
}
