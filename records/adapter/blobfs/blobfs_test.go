package blobfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/records/service/blobtest"
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
