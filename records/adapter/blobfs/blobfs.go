// Package blobfs is the blob store on the local filesystem, every object
// encrypted at rest: a fresh data key per object encrypts its content in
// the DARE format (github.com/minio/sio: AES-256-GCM over 64 KiB packages
// with sequence numbers, so any range decrypts alone), and the data key is
// sealed by the master key from configuration, bound to the object's key.
// A stolen blob folder without the master key reveals nothing.
package blobfs

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minio/sio"

	"github.com/medisync/medisync/records/service"
)

// header is what precedes the DARE stream in each file: magic, the nonce
// and the sealed data key (32 bytes and a 16-byte tag).
const (
	magic      = "MSB1"
	nonceLen   = 12
	sealedLen  = 32 + 16
	headerLen  = len(magic) + nonceLen + sealedLen
	tmpDirName = ".tmp"
)

// Store keeps objects under a directory.
type Store struct {
	dir    string
	master cipher.AEAD
	// syncDir makes a directory's entries durable: a renamed object's, a
	// created directory's.
	syncDir func(dir string) error
}

var _ service.BlobStore = (*Store)(nil)

// fault marks a filesystem failure (EIO, ENOSPC, ESTALE, a permission
// lost...) as the store's, answered 503 like the S3 store's.
var fault = service.BlobFault

// New returns a Store under dir, created when absent, sealing data keys
// with masterKey (32 bytes). Temporary files older than an hour, left by a
// crash during a Put, are removed (and later ones by AbortIncomplete).
func New(dir string, masterKey []byte) (*Store, error) {
	if len(masterKey) != 32 {
		return nil, errors.New("blob master key must be 32 bytes")
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, tmpDirName), 0o700); err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	s := &Store{dir: dir, master: gcm, syncDir: syncDir}
	_, _ = s.AbortIncomplete(context.Background(), "", time.Now().Add(-time.Hour))
	return s, nil
}

// AbortIncomplete removes the temporary files last written before before:
// what a Put leaves when its process dies before the rename. They name no
// key, and the folder holds only this store's, so every old one goes
// whatever the prefix; a Put in progress writes to its file as its client's
// bytes arrive, so it is newer.
func (s *Store) AbortIncomplete(_ context.Context, _ string, before time.Time) (int, error) {
	tmp := filepath.Join(s.dir, tmpDirName)
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return 0, fault("list temporary blobs", err)
	}
	removed := 0
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) { // its Put failed or finished meanwhile
			continue
		}
		if err != nil {
			return removed, fault("stat temporary blob", err)
		}
		if !info.ModTime().Before(before) {
			continue
		}
		switch err := os.Remove(filepath.Join(tmp, e.Name())); {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return removed, fault("remove temporary blob", err)
		default:
			removed++
		}
	}
	return removed, nil
}

// createTemp creates the temporary file a Put writes before its rename.
func (s *Store) createTemp() (*os.File, error) {
	return os.CreateTemp(filepath.Join(s.dir, tmpDirName), "put-*")
}

// path maps a key to its file, refusing keys that could leave the folder.
func (s *Store) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasPrefix(key, tmpDirName) || !fs.ValidPath(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// Put encrypts r into a temporary file and renames it into place once
// complete and synced, so that no reader sees a partial object.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, read func(service.Stored)) (_ service.Stored, err error) {
	p, err := s.path(key)
	if err != nil {
		return service.Stored{}, err
	}
	dir := filepath.Dir(p)
	_, err = os.Stat(dir)
	created := errors.Is(err, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return service.Stored{}, fault("blob directory", err)
	}
	f, err := s.createTemp()
	if err != nil {
		return service.Stored{}, fault("create blob", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	dataKey := make([]byte, 32)
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(dataKey); err != nil {
		return service.Stored{}, fmt.Errorf("data key: %w", err)
	}
	if _, err := rand.Read(nonce); err != nil {
		return service.Stored{}, fmt.Errorf("nonce: %w", err)
	}
	hdr := append([]byte(magic), nonce...)
	hdr = s.master.Seal(hdr, nonce, dataKey, []byte(key))
	if _, err := f.Write(hdr); err != nil {
		return service.Stored{}, fault("write blob", err)
	}
	// The writer is hidden behind io.Writer: sio closes a Closer it writes to.
	w, err := sio.EncryptWriter(struct{ io.Writer }{f}, sio.Config{Key: dataKey, MinVersion: sio.Version20})
	if err != nil {
		return service.Stored{}, fmt.Errorf("encrypt blob: %w", err)
	}
	h := sha256.New()
	src := &ctxReader{ctx: ctx, r: io.TeeReader(r, h)}
	n, err := io.Copy(w, src)
	if err != nil {
		if src.err != nil { // the client's body failed, not the store
			return service.Stored{}, fmt.Errorf("read upload: %w", src.err)
		}
		return service.Stored{}, fault("write blob", err)
	}
	st := service.Stored{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	if read != nil {
		read(st)
	}
	if err := w.Close(); err != nil { // writes the final package
		return service.Stored{}, fault("write blob", err)
	}
	if err := f.Sync(); err != nil {
		return service.Stored{}, fault("sync blob", err)
	}
	if err := f.Close(); err != nil {
		return service.Stored{}, fault("close blob", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return service.Stored{}, fault("place blob", err)
	}
	// The rename is durable only once its directory is synced, and a new
	// directory once its parent is: the document's row commits after Put
	// returns, and must never name an object a power cut takes back.
	for d := dir; ; d = filepath.Dir(d) {
		if err := s.syncDir(d); err != nil {
			_ = os.Remove(p) // may yet be lost: not to be relied on
			return service.Stored{}, fault("sync blob directory", err)
		}
		if !created || d == filepath.Clean(s.dir) || d == filepath.Dir(d) {
			break
		}
	}
	return st, nil
}

// syncDir fsyncs a directory.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops a copy once ctx ends, and remembers how its reader
// failed, to tell the client's failure from the store's.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// blob is an open object: a section over the decrypting ReaderAt.
type blob struct {
	*io.SectionReader
	f *os.File
}

func (b blob) Close() error { return b.f.Close() }

// Open returns the object, decrypting any range on demand.
func (s *Store) Open(_ context.Context, key string) (service.Blob, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, service.ErrBlobNotFound
	}
	if err != nil {
		return nil, fault("open blob", err)
	}
	b, err := s.decrypting(f, key)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return b, nil
}

func (s *Store) decrypting(f *os.File, key string) (service.Blob, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, fault("stat blob", err)
	}
	hdr := make([]byte, headerLen)
	_, err = io.ReadFull(f, hdr)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fault("read blob", err)
	}
	// A file too short for the header, or of another format, is damaged:
	// no retry helps, so it is no fault of the kind that asks for one.
	if err != nil || string(hdr[:len(magic)]) != magic {
		return nil, fmt.Errorf("blob %s: not an encrypted object", key)
	}
	nonce := hdr[len(magic) : len(magic)+nonceLen]
	dataKey, err := s.master.Open(nil, nonce, hdr[len(magic)+nonceLen:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("blob %s: the data key does not open under the master key", key)
	}
	encSize := info.Size() - int64(headerLen)
	size, err := sio.DecryptedSize(uint64(encSize))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", key, err)
	}
	ra, err := sio.DecryptReaderAt(io.NewSectionReader(fileReaderAt{f}, int64(headerLen), encSize), sio.Config{Key: dataKey, MinVersion: sio.Version20})
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", key, err)
	}
	return blob{SectionReader: io.NewSectionReader(ra, 0, int64(size)), f: f}, nil
}

// fileReaderAt marks the file's read failures as faults; io.EOF stays bare,
// as the decrypting reader above expects it, and a failed authentication,
// the decrypting reader's own, stays an integrity error.
type fileReaderAt struct{ f *os.File }

func (r fileReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = fault("read blob", err)
	}
	return n, err
}

// Delete removes an object; an absent one is no error.
func (s *Store) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fault("delete blob", err)
	}
	return nil
}

// List returns up to limit objects under prefix after the key after, in
// key order.
func (s *Store) List(_ context.Context, prefix, after string, limit int) ([]service.BlobInfo, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Only the folder the prefix names can hold its keys; the keys kept
	// are the limit smallest after after, so memory stays O(limit)
	// however many objects the folder holds, and only those are stat'ed.
	root := s.dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		root = filepath.Join(s.dir, filepath.FromSlash(prefix[:i]))
	}
	var keys []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && p != s.dir && errors.Is(err, fs.ErrNotExist) {
				// Nothing stored under the prefix yet, unless the store's
				// own folder is gone, a fault.
				if _, serr := os.Stat(s.dir); serr != nil {
					return serr
				}
				return fs.SkipAll
			}
			return err
		}
		rel, _ := filepath.Rel(s.dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == tmpDirName {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(rel, prefix) || rel <= after {
			return nil
		}
		if len(keys) == limit && rel >= keys[limit-1] {
			return nil
		}
		i, _ := slices.BinarySearch(keys, rel)
		keys = slices.Insert(keys, i, rel)
		if len(keys) > limit {
			keys = keys[:limit]
		}
		return nil
	})
	if err != nil {
		return nil, fault("list blobs", err)
	}
	out := make([]service.BlobInfo, 0, len(keys))
	for _, k := range keys {
		info, err := os.Lstat(filepath.Join(s.dir, filepath.FromSlash(k)))
		if errors.Is(err, fs.ErrNotExist) { // deleted since the folder was read
			continue
		}
		if err != nil {
			return nil, fault("list blobs", err)
		}
		size, _ := sio.DecryptedSize(uint64(max(info.Size()-int64(headerLen), 0)))
		out = append(out, service.BlobInfo{Key: k, Size: int64(size), Modified: info.ModTime()})
	}
	return out, nil
}
