package blobs3_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/medisync/medisync/records/adapter/blobs3"
	"github.com/medisync/medisync/shared/domainerr"
)

// sseProxy stands between the store and the S3 server of the tests, which
// applies no encryption, and adds to each answer the header by which a
// server names the encryption it applied: what says returns for the
// request, none when it returns "".
func sseProxy(t *testing.T, target string, says func(*http.Request) string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(res *http.Response) error {
		if sse := says(res.Request); res.StatusCode == http.StatusOK && sse != "" {
			res.Header.Set("X-Amz-Server-Side-Encryption", sse)
		}
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// sseStore is a store asking for SSE-S3 through sseProxy(says), on a fresh
// bucket removed after the test, its encryption check passed.
func sseStore(t *testing.T, says func(*http.Request) string, tune func(*blobs3.Config)) (*blobs3.Store, blobs3.Config) {
	t.Helper()
	c := config(t)
	c.SSE = "AES256"
	if tune != nil {
		tune(&c)
	}
	c.Endpoint = sseProxy(t, c.Endpoint, says)
	s := blobs3.New(c, &http.Client{Timeout: 30 * time.Second})
	ctx := context.Background()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		infos, _ := s.List(ctx, "", "", 100)
		for _, in := range infos {
			_ = s.Delete(ctx, in.Key)
		}
		_ = s.DeleteBucket(ctx)
	})
	if err := s.CheckEncryption(ctx); err != nil {
		t.Fatalf("CheckEncryption = %v", err)
	}
	return s, c
}

// sseS3 names SSE-S3 in the answers of the requests when picks out.
func sseS3(when func(*http.Request) bool) func(*http.Request) string {
	return func(r *http.Request) string {
		if when(r) {
			return "AES256"
		}
		return ""
	}
}

// refusedLeavingNothing fails t unless err is the fault of an encryption
// refused, and the store keeps neither an object nor an upload.
func refusedLeavingNothing(t *testing.T, s *blobs3.Store, c blobs3.Config, err error) {
	t.Helper()
	if !errors.Is(err, blobs3.ErrNotEncrypted) || !errors.Is(err, domainerr.Unavailable) {
		t.Fatalf("Put in parts = %v, want a fault naming ErrNotEncrypted", err)
	}
	ctx := context.Background()
	if infos, err := s.List(ctx, "", "", 10); err != nil || len(infos) != 0 {
		t.Fatalf("objects left behind: %v, %v", infos, err)
	}
	if out, err := listUploads(ctx, c); err != nil || len(out) != 0 {
		t.Fatalf("multipart uploads left behind: %v, %v", out, err)
	}
}

// creatingOrPutting is every answer but a part's: a PutObject (the
// encryption probe's among them) and a CreateMultipartUpload.
func creatingOrPutting(r *http.Request) bool {
	q := r.URL.Query()
	return (r.Method == http.MethodPost && q.Has("uploads")) || (r.Method == http.MethodPut && !q.Has("uploadId"))
}

// MinIO names the encryption in the answers of PutObject and UploadPart
// but not in CreateMultipartUpload's: a document in parts is stored there
// all the same, each part's answer checked.
func TestMultipartEncryptionNamedByThePartsOnly(t *testing.T) {
	s, _ := sseStore(t, sseS3(func(r *http.Request) bool { return r.Method == http.MethodPut }), nil)
	data := bytes.Repeat([]byte("scan "), (6<<20)/5)
	ctx := context.Background()
	st, err := s.Put(ctx, "documents/scan", bytes.NewReader(data), nil)
	if err != nil || st.Size != int64(len(data)) {
		t.Fatalf("Put in parts = %+v, %v", st, err)
	}
}

// A server that says so when the upload is created but stores parts whose
// answers name no encryption keeps nothing: the parts are what is stored.
func TestMultipartEncryptionNamedOnlyAtCreationIsRefused(t *testing.T) {
	s, c := sseStore(t, sseS3(creatingOrPutting), nil)
	ctx := context.Background()
	_, err := s.Put(ctx, "documents/scan", bytes.NewReader(make([]byte, 6<<20)), nil)
	refusedLeavingNothing(t, s, c, err)
}

// A part refused for its encryption while the next is read fails the
// upload without keeping a buffer: with two buffers in all, uploads in
// three parts are refused again and again, none waiting for a buffer, and
// none leaves its upload behind.
func TestMultipartEncryptionRefusedInFlightReturnsItsBuffers(t *testing.T) {
	s, c := sseStore(t, sseS3(creatingOrPutting), func(c *blobs3.Config) { c.PartSize, c.PartBuffers = 5<<20, 2 })
	ctx := context.Background()
	for i := range 4 {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := s.Put(pctx, "documents/scan", bytes.NewReader(make([]byte, 11<<20)), nil)
		cancel()
		if !errors.Is(err, blobs3.ErrNotEncrypted) {
			t.Fatalf("Put %d = %v, want ErrNotEncrypted", i, err)
		}
	}
	if out, err := listUploads(ctx, c); err != nil || len(out) != 0 {
		t.Fatalf("multipart uploads left behind: %v, %v", out, err)
	}
}

// An upload whose parts' answers name the encryption asked, but whose
// completion names another, leaves no object behind.
func TestMultipartCompletedUnderAnotherEncryptionIsRemoved(t *testing.T) {
	s, c := sseStore(t, func(r *http.Request) string {
		switch {
		case r.Method == http.MethodPost && r.URL.Query().Has("uploadId"):
			return "aws:kms"
		case r.Method == http.MethodPut:
			return "AES256"
		}
		return ""
	}, nil)
	ctx := context.Background()
	_, err := s.Put(ctx, "documents/scan", bytes.NewReader(make([]byte, 6<<20)), nil)
	refusedLeavingNothing(t, s, c, err)
}
