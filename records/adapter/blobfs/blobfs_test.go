package blobfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/records/service/blobtest"
	"github.com/medisync/medisync/shared/domainerr"
)

func key(t *testing.T) []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) service.BlobStore {
		s, err := blobfs.New(t.TempDir(), key(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func(_ context.Context, s service.BlobStore, key string) error {
		return blobfs.CrashedPut(s.(*blobfs.Store), key)
	})
}

// The files hold no plaintext, and open under no other master key nor
// under another object's name.
func TestEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	dir, k := t.TempDir(), key(t)
	s, err := blobfs.New(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("diagnosis: confidential "), 5000)
	if _, err := s.Put(ctx, "documents/x", bytes.NewReader(secret), nil); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "documents", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("confidential")) {
		t.Fatal("the stored file holds plaintext")
	}
	other, err := blobfs.New(dir, key(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(ctx, "documents/x"); err == nil {
		t.Fatal("opened under another master key")
	}
	if err := os.WriteFile(filepath.Join(dir, "documents", "y"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "documents/y"); err == nil {
		t.Fatal("a file copied under another key opened")
	}
	raw[len(raw)-100] ^= 1
	if err := os.WriteFile(filepath.Join(dir, "documents", "x"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := s.Open(ctx, "documents/x")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := bytes.NewBuffer(nil).ReadFrom(b); err == nil {
		t.Fatal("a tampered file decrypted")
	}
}

func TestRefusesEscapingKeys(t *testing.T) {
	s, err := blobfs.New(t.TempDir(), key(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"../x", "/etc/passwd", "documents/../../x", ".tmp/x", ""} {
		if _, err := s.Put(context.Background(), k, bytes.NewReader(nil), nil); err == nil {
			t.Errorf("Put(%q) succeeded", k)
		}
	}
}

// newFaultStore returns a store under dir holding the object documents/x.
func newFaultStore(t *testing.T) (*blobfs.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := blobfs.New(dir, key(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), "documents/x", bytes.NewReader([]byte("%PDF-1.7 x")), nil); err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// replaceWithDir puts a non-empty directory where the file p was: no
// object can be read from, written to or removed at p, even by root.
func replaceWithDir(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(p, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
}

func wantFault(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, domainerr.Unavailable) || !errors.Is(err, service.ErrBlobStoreDown) {
		t.Fatalf("%s = %v, want a fault of the Unavailable kind", op, err)
	}
}

// A filesystem that fails a read or a write is a storage fault, answered
// 503 with Retry-After, not an error of the service.
func TestFilesystemFailuresAreFaults(t *testing.T) {
	ctx := context.Background()

	t.Run("put where a directory cannot be made", func(t *testing.T) {
		s, dir := newFaultStore(t)
		if err := os.WriteFile(filepath.Join(dir, "reports"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Put(ctx, "reports/y", bytes.NewReader([]byte("y")), nil)
		wantFault(t, "Put", err)
	})
	t.Run("put where no temporary file can be made", func(t *testing.T) {
		s, dir := newFaultStore(t)
		tmp := filepath.Join(dir, ".tmp")
		if err := os.RemoveAll(tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tmp, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Put(ctx, "documents/y", bytes.NewReader([]byte("y")), nil)
		wantFault(t, "Put", err)
	})
	t.Run("put that cannot be placed", func(t *testing.T) {
		s, dir := newFaultStore(t)
		replaceWithDir(t, filepath.Join(dir, "documents", "x"))
		_, err := s.Put(ctx, "documents/x", bytes.NewReader([]byte("x")), nil)
		wantFault(t, "Put", err)
		if left, _ := os.ReadDir(filepath.Join(dir, ".tmp")); len(left) != 0 {
			t.Fatalf("%d temporary files left", len(left))
		}
	})
	t.Run("open of an object that cannot be read", func(t *testing.T) {
		s, dir := newFaultStore(t)
		replaceWithDir(t, filepath.Join(dir, "documents", "x"))
		_, err := s.Open(ctx, "documents/x")
		wantFault(t, "Open", err)
	})
	// Once open, a file fails a read only when its disk does; the read of
	// a closed file is the one such failure a test can cause.
	t.Run("read that the file fails", func(t *testing.T) {
		s, _ := newFaultStore(t)
		b, err := s.Open(ctx, "documents/x")
		if err != nil {
			t.Fatal(err)
		}
		_ = b.Close()
		_, err = b.Read(make([]byte, 10))
		wantFault(t, "Read", err)
	})
	t.Run("delete that the filesystem refuses", func(t *testing.T) {
		s, dir := newFaultStore(t)
		replaceWithDir(t, filepath.Join(dir, "documents", "x"))
		wantFault(t, "Delete", s.Delete(ctx, "documents/x"))
	})
	t.Run("list of a folder gone", func(t *testing.T) {
		s, dir := newFaultStore(t)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		_, err := s.List(ctx, "documents/", "", 10)
		wantFault(t, "List", err)
	})
}

// What is no fault of the filesystem stays what it was: an absent object
// is not found, a client's failing body is the client's, and a damaged
// file, which no retry mends, is no fault that asks for one.
func TestNotFaults(t *testing.T) {
	ctx := context.Background()
	s, dir := newFaultStore(t)
	if _, err := s.Open(ctx, "documents/none"); !errors.Is(err, service.ErrBlobNotFound) || errors.Is(err, domainerr.Unavailable) {
		t.Fatalf("Open of an absent object = %v, want ErrBlobNotFound alone", err)
	}
	_, err := s.Put(ctx, "documents/y", iotest.ErrReader(io.ErrUnexpectedEOF), nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, domainerr.Unavailable) {
		t.Fatalf("Put of a body cut short = %v, want the body's failure alone", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "documents", "short"), []byte("MSB1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "documents/short"); err == nil || errors.Is(err, domainerr.Unavailable) {
		t.Fatalf("Open of a damaged object = %v, want an error of no kind", err)
	}
}

// An object is durable before Put returns: its directory is synced after
// the rename, and a directory Put creates is synced into its parent, so
// that a power cut never takes back an object whose row has committed. A
// failing sync is the store's fault.
func TestPutSyncsTheObjectsDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := blobfs.New(dir, key(t))
	if err != nil {
		t.Fatal(err)
	}
	synced := blobfs.WatchDirSyncs(s, nil)
	if _, err := s.Put(ctx, "documents/a", bytes.NewReader([]byte("first")), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "documents"), dir}
	if !slices.Equal(*synced, want) {
		t.Fatalf("a new directory: synced %q, want %q", *synced, want)
	}
	*synced = nil
	if _, err := s.Put(ctx, "documents/b", bytes.NewReader([]byte("second")), nil); err != nil {
		t.Fatal(err)
	}
	if want := want[:1]; !slices.Equal(*synced, want) {
		t.Fatalf("an existing directory: synced %q, want %q", *synced, want)
	}

	blobfs.WatchDirSyncs(s, errors.New("input/output error"))
	_, err = s.Put(ctx, "documents/c", bytes.NewReader([]byte("third")), nil)
	if !errors.Is(err, service.ErrBlobStoreDown) {
		t.Fatalf("a failed sync: %v, want the store's fault", err)
	}
	if _, err := s.Open(ctx, "documents/c"); !errors.Is(err, service.ErrBlobNotFound) {
		t.Fatalf("the object of a failed sync is left: %v", err)
	}
}
