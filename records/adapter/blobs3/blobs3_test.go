package blobs3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/records/service/blobtest"
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
	blobtest.Run(t, func(t *testing.T) service.BlobStore { return newStore(t) })
}

func TestPresignedURL(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	data := []byte("%PDF-1.7 a lab report")
	if _, err := s.Put(ctx, "documents/p", bytes.NewReader(data)); err != nil {
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
	_, err = s.Put(ctx, "documents/x", bytes.NewReader([]byte("x")))
	if !errors.Is(err, domainerr.Unavailable) {
		t.Fatalf("Put = %v, want Unavailable", err)
	}
	if _, err := s.Open(ctx, "documents/x"); !errors.Is(err, domainerr.Unavailable) {
		t.Fatalf("Open = %v, want Unavailable", err)
	}
}
