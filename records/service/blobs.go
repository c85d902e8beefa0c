package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/medisync/medisync/shared/domainerr"
)

// BlobStore keeps document content under keys the service chooses. Put is
// atomic: a reader never sees part of an object, and a Put that fails
// leaves no object behind, once the removals it may hand to Cleanups have
// run (what they miss, AbortIncomplete and the sweeper find). A key never
// leaves the service.
type BlobStore interface {
	// Put stores everything r yields under key and returns its size and
	// SHA-256: the store hashes what it reads anyway (an S3 request signs
	// its payload's hash), so the service need not hash the bytes again.
	// When read is not nil, Put calls it once, on its own goroutine, as soon
	// as r has ended, with what Put will return if the storing succeeds:
	// the caller can prepare what follows while the last bytes are stored.
	Put(ctx context.Context, key string, r io.Reader, read func(Stored)) (Stored, error)
	// Open returns the object for reading at any offset; ErrBlobNotFound
	// when absent.
	Open(ctx context.Context, key string) (Blob, error)
	// Delete removes an object; an absent one is no error.
	Delete(ctx context.Context, key string) error
	// List returns up to limit objects whose keys start with prefix and
	// sort after after, in key order.
	List(ctx context.Context, prefix, after string, limit int) ([]BlobInfo, error)
	// AbortIncomplete removes what Puts of keys under prefix left behind
	// when their process died midway (parts of a multipart upload,
	// temporary files), which List never shows, once begun or last written
	// before before; a write still in progress is newer. It returns how
	// many it removed. A store whose unfinished writes name no key (the
	// filesystem's temporary files) removes all of its own that are old
	// enough, whatever the prefix.
	AbortIncomplete(ctx context.Context, prefix string, before time.Time) (int, error)
}

// Blob is a stored object being read.
type Blob interface {
	io.ReadSeekCloser
	Size() int64
}

// Stored is what Put stored.
type Stored struct {
	Size   int64
	SHA256 string // hex
}

// BlobInfo describes a stored object.
type BlobInfo struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Presigner is a BlobStore that can hand out a short-lived URL from which a
// client fetches an object directly.
type Presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration, contentType, filename string) (string, error)
}

// ErrBlobNotFound is answered by Open for an absent key.
var ErrBlobNotFound = errors.New("blob not found")

// ErrBlobStoreDown marks a blob store's own failure (unreachable, failing
// reads or writes); the request is answered 503 and may be retried.
var ErrBlobStoreDown = domainerr.New(domainerr.Unavailable, "the document store is unavailable")

// BlobFault wraps err, a blob store's failure in op, as ErrBlobStoreDown.
func BlobFault(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrBlobStoreDown, err)
}
