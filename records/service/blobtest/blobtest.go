// Package blobtest is the contract suite of the service.BlobStore port,
// which every blob store adapter runs.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/medisync/medisync/records/service"
)

// failingReader yields n bytes then fails, as a client that goes away.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = byte(i)
	}
	f.n -= k
	return k, nil
}

// Crash leaves s as a Put of key leaves it when its process dies midway:
// parts of a multipart upload, a temporary file.
type Crash func(ctx context.Context, s service.BlobStore, key string) error

// Run runs the contract against stores made by newStore, each empty; crash
// cuts a Put short in a store newStore made.
func Run(t *testing.T, newStore func(t *testing.T) service.BlobStore, crash Crash) {
	ctx := context.Background()
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}

	t.Run("put then read whole and in ranges", func(t *testing.T) {
		s := newStore(t)
		data := random(3<<20 + 12345) // several encryption packages and an odd tail
		st, err := s.Put(ctx, "documents/a", bytes.NewReader(data), nil)
		sum := sha256.Sum256(data)
		if err != nil || st.Size != int64(len(data)) || st.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("Put = %+v, %v; want size %d, SHA-256 %x", st, err, len(data), sum)
		}
		b, err := s.Open(ctx, "documents/a")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if b.Size() != int64(len(data)) {
			t.Fatalf("Size = %d, want %d", b.Size(), len(data))
		}
		if end, err := b.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
			t.Fatalf("Seek end = %d, %v", end, err)
		}
		for _, r := range [][2]int{{0, 10}, {65535, 65540}, {1 << 20, 2<<20 + 7}, {len(data) - 5, len(data)}} {
			if _, err := b.Seek(int64(r[0]), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, r[1]-r[0])
			if _, err := io.ReadFull(b, got); err != nil {
				t.Fatalf("range %v: %v", r, err)
			}
			if !bytes.Equal(got, data[r[0]:r[1]]) {
				t.Fatalf("range %v differs", r)
			}
		}
		if _, err := b.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(b)
		if err != nil || !bytes.Equal(all, data) {
			t.Fatalf("whole read differs: %v", err)
		}
	})

	// Put says once what it stores as soon as the body has ended, before it
	// returns: for one part, for many, and for a body that ends exactly at
	// a part's end.
	for _, size := range []int{1 << 20, 11<<20 + 3, 10 << 20} {
		t.Run(fmt.Sprintf("put says what it read, %d bytes", size), func(t *testing.T) {
			s := newStore(t)
			data := random(size)
			var said []service.Stored
			st, err := s.Put(ctx, "documents/r", bytes.NewReader(data), func(st service.Stored) { said = append(said, st) })
			if err != nil {
				t.Fatal(err)
			}
			if len(said) != 1 || said[0] != st {
				t.Fatalf("read said %+v; Put returned %+v", said, st)
			}
		})
	}

	t.Run("empty object", func(t *testing.T) {
		s := newStore(t)
		st, err := s.Put(ctx, "documents/empty", bytes.NewReader(nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		if empty := sha256.Sum256(nil); st.Size != 0 || st.SHA256 != hex.EncodeToString(empty[:]) {
			t.Fatalf("Put = %+v", st)
		}
		b, err := s.Open(ctx, "documents/empty")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		all, err := io.ReadAll(b)
		if err != nil || len(all) != 0 {
			t.Fatalf("read %d bytes, %v", len(all), err)
		}
	})

	t.Run("absent object", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Open(ctx, "documents/none"); !errors.Is(err, service.ErrBlobNotFound) {
			t.Fatalf("Open = %v, want ErrBlobNotFound", err)
		}
		if err := s.Delete(ctx, "documents/none"); err != nil {
			t.Fatalf("Delete of an absent object = %v", err)
		}
	})

	// A reader that fails, after less than a part or midway through a
	// multipart upload, fails the Put and leaves nothing. io.ErrUnexpectedEOF
	// is what net/http answers for a body shorter than its Content-Length:
	// a cut-off upload, not an end.
	for _, tc := range []struct {
		n   int
		err error
	}{
		{1000, errors.New("client went away")},
		{7 << 20, errors.New("client went away")},
		{1000, io.ErrUnexpectedEOF},
		{7 << 20, io.ErrUnexpectedEOF},
	} {
		t.Run(fmt.Sprintf("a put failing with %q after %d bytes leaves nothing", tc.err, tc.n), func(t *testing.T) {
			s := newStore(t)
			called := false
			if _, err := s.Put(ctx, "documents/half", &failingReader{n: tc.n, err: tc.err}, func(service.Stored) { called = true }); !errors.Is(err, tc.err) {
				t.Fatalf("Put = %v, want the reader's failure", err)
			}
			if called {
				t.Fatal("Put said a reader that failed had ended")
			}
			if _, err := s.Open(ctx, "documents/half"); !errors.Is(err, service.ErrBlobNotFound) {
				t.Fatalf("Open after a failed Put = %v, want ErrBlobNotFound", err)
			}
			infos, err := s.List(ctx, "documents/", "", 100)
			if err != nil || len(infos) != 0 {
				t.Fatalf("List after a failed Put = %v, %v", infos, err)
			}
		})
	}

	// What a crash mid-Put leaves is never an object, and goes once older
	// than the cutoff; a finished object stays.
	t.Run("abort unfinished puts older than the cutoff", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Put(ctx, "documents/done", bytes.NewReader([]byte("done")), nil); err != nil {
			t.Fatal(err)
		}
		if err := crash(ctx, s, "documents/crashed"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, "documents/crashed"); !errors.Is(err, service.ErrBlobNotFound) {
			t.Fatalf("Open of a crashed Put = %v, want ErrBlobNotFound", err)
		}
		if n, err := s.AbortIncomplete(ctx, "documents/", time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("AbortIncomplete before the crash = %d, %v; want 0: it may still be in progress", n, err)
		}
		if n, err := s.AbortIncomplete(ctx, "documents/", time.Now().Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("AbortIncomplete after the crash = %d, %v; want 1", n, err)
		}
		if n, err := s.AbortIncomplete(ctx, "documents/", time.Now().Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("AbortIncomplete again = %d, %v; want 0", n, err)
		}
		infos, err := s.List(ctx, "documents/", "", 10)
		if err != nil || len(infos) != 1 || infos[0].Key != "documents/done" {
			t.Fatalf("List after aborting = %+v, %v; want the finished object", infos, err)
		}
	})

	t.Run("list in key order, after, limit; delete", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{"documents/c", "documents/a", "documents/b", "other/x"} {
			if _, err := s.Put(ctx, k, bytes.NewReader([]byte(k)), nil); err != nil {
				t.Fatal(err)
			}
		}
		infos, err := s.List(ctx, "documents/", "", 2)
		if err != nil || len(infos) != 2 || infos[0].Key != "documents/a" || infos[1].Key != "documents/b" {
			t.Fatalf("List = %+v, %v", infos, err)
		}
		if infos[0].Size != int64(len("documents/a")) || infos[0].Modified.IsZero() {
			t.Fatalf("List info = %+v", infos[0])
		}
		infos, err = s.List(ctx, "documents/", "documents/b", 10)
		if err != nil || len(infos) != 1 || infos[0].Key != "documents/c" {
			t.Fatalf("List after = %+v, %v", infos, err)
		}
		if err := s.Delete(ctx, "documents/a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, "documents/a"); !errors.Is(err, service.ErrBlobNotFound) {
			t.Fatalf("Open after Delete = %v", err)
		}
		// Keys inserted out of order are still listed smallest first when
		// more than limit wait.
		for _, k := range []string{"documents/f", "documents/d", "documents/e"} {
			if _, err := s.Put(ctx, k, bytes.NewReader([]byte(k)), nil); err != nil {
				t.Fatal(err)
			}
		}
		infos, err = s.List(ctx, "documents/", "documents/b", 2)
		if err != nil || len(infos) != 2 || infos[0].Key != "documents/c" || infos[1].Key != "documents/d" {
			t.Fatalf("List after, limit = %+v, %v", infos, err)
		}
		if infos, err := s.List(ctx, "nothing-yet/", "", 10); err != nil || len(infos) != 0 {
			t.Fatalf("List of a prefix holding nothing = %+v, %v", infos, err)
		}
	})
}
