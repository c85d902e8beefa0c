package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are argon2id cost parameters.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   uint32
	KeyLen    uint32
}

// OWASP is the configuration OWASP's Password Storage Cheat Sheet lists
// first for argon2id: 19 MiB of memory, 2 iterations, 1 degree of parallelism.
var OWASP = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Cheap is for tests only: it keeps the format and code paths but costs
// almost nothing.
var Cheap = Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read back from a stored hash, so a corrupt row
// cannot make one verification take gigabytes or minutes.
const (
	maxMemoryKiB = 1 << 20
	maxTime      = 64
	maxKeyLen    = 128
)

// Validate reports whether hashes made with p can be read back: Decode
// refuses what lies outside these bounds, so a hasher set up with such
// parameters would write hashes nobody can verify.
func (p Params) Validate() error {
	switch {
	case p.MemoryKiB > maxMemoryKiB, p.Time == 0, p.Time > maxTime, p.Threads == 0:
		return errors.New("argon2id parameters out of range")
	case p.MemoryKiB < 8*uint32(p.Threads):
		return errors.New("argon2id memory must be at least 8 KiB per degree of parallelism")
	case p.SaltLen < 8:
		return errors.New("argon2id salt must be at least 8 bytes")
	case p.KeyLen < 16 || p.KeyLen > maxKeyLen:
		return errors.New("argon2id key length out of range")
	}
	return nil
}

// ErrMalformed means a stored hash is not a PHC argon2id string.
var ErrMalformed = errors.New("malformed argon2id hash")

// ErrBusy means every hashing worker stayed busy for longer than the
// allowed wait; the caller should answer 503 and let the client retry.
var ErrBusy = errors.New("the service is busy; retry shortly")

// b64 is strict: unused bits must be zero, so each value has one spelling.
var b64 = base64.RawStdEncoding.Strict()

// Normalize returns pw in Unicode NFKC, the form every password is checked
// and hashed in: the same characters typed on another keyboard or system
// (precomposed or decomposed, full-width or not) are the same password
// (NIST SP 800-63B 5.1.1.2).
func Normalize(pw string) string { return norm.NFKC.String(pw) }

// TooLong reports whether pw is longer than any password the policy admits,
// both as typed and in NFKC: the cheap refusal of an oversize login before
// any hashing, which must not refuse a valid password sent decomposed (more
// characters as typed) nor one stored before passwords were normalized (more
// in NFKC).
func TooLong(pw string) bool {
	return utf8.RuneCountInString(pw) > MaxLength && utf8.RuneCountInString(Normalize(pw)) > MaxLength
}

// Encode hashes the NFKC form of pw with p and a fresh random salt, in PHC
// string format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func Encode(pw string, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(Normalize(pw)), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Decode parses a PHC argon2id string. Only the canonical spelling Encode
// writes parses: parameters in m, t, p order, once each, without leading
// zeros, and unpadded base64 without line breaks.
func Decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformed
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: unsupported version", ErrMalformed)
	}
	var p Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Params{}, nil, nil, ErrMalformed
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return Params{}, nil, nil, ErrMalformed
		}
		switch k {
		case "m":
			p.MemoryKiB = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return Params{}, nil, nil, ErrMalformed
			}
			p.Threads = uint8(n)
		default:
			return Params{}, nil, nil, ErrMalformed
		}
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > maxMemoryKiB || p.Time == 0 || p.Time > maxTime || p.Threads == 0 ||
		p.MemoryKiB < 8*uint32(p.Threads) {
		return Params{}, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformed)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, ErrMalformed
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return Params{}, nil, nil, ErrMalformed
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	// The checks above admit variants (order, repeats, leading zeros, line
	// breaks the base64 decoder skips); the canonical form rules them out.
	canon := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
	if canon != encoded {
		return Params{}, nil, nil, fmt.Errorf("%w: not in canonical form", ErrMalformed)
	}
	return p, salt, key, nil
}

// Compare reports whether the NFKC form of pw matches the encoded hash, in
// constant time with respect to the key bytes.
func Compare(pw, encoded string) (bool, Params, error) {
	return compare([]byte(Normalize(pw)), encoded)
}

// compare is Compare for pw as it is, without normalizing it.
func compare(pw []byte, encoded string) (bool, Params, error) {
	p, salt, key, err := Decode(encoded)
	if err != nil {
		return false, Params{}, err
	}
	got := argon2.IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// Hasher hashes and verifies passwords on a bounded pool of workers: at most
// Workers computations run at once, callers queue for at most MaxWait, and
// no more than MaxQueue callers queue, so a flood of logins cannot take every
// core and memory from the rest of the service.
type Hasher struct {
	params   Params
	sem      chan struct{}
	maxWait  time.Duration
	maxQueue int64
	waiting  atomic.Int64
	dummy    string
}

// DefaultMaxWait is how long a hash waits for a worker by default.
const DefaultMaxWait = 5 * time.Second

// HasherOptions configure NewHasher; zero values take the defaults.
type HasherOptions struct {
	Params   Params        // default OWASP
	Workers  int           // default GOMAXPROCS
	MaxWait  time.Duration // default DefaultMaxWait
	MaxQueue int           // default 64 per worker
}

// NewHasher returns a hasher. It computes one hash up front: the dummy that
// logins for unknown accounts are checked against, so they cost the same.
func NewHasher(o HasherOptions) (*Hasher, error) {
	if o.Params == (Params{}) {
		o.Params = OWASP
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 64 * o.Workers
	}
	if err := o.Params.Validate(); err != nil {
		return nil, err
	}
	h := &Hasher{
		params:   o.Params,
		sem:      make(chan struct{}, o.Workers),
		maxWait:  o.MaxWait,
		maxQueue: int64(o.MaxQueue),
	}
	dummy, err := Encode("dummy password for unknown accounts", o.Params)
	if err != nil {
		return nil, err
	}
	// Every hash is read back to be verified: one that cannot be is a
	// setup error, found now rather than at each login.
	if _, _, _, err := Decode(dummy); err != nil {
		return nil, fmt.Errorf("hash with the configured parameters: %w", err)
	}
	h.dummy = dummy
	return h, nil
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// Workers returns the pool size.
func (h *Hasher) Workers() int { return cap(h.sem) }

// Waiting returns how many callers wait for a worker.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

// InUse returns how many workers are hashing.
func (h *Hasher) InUse() int { return len(h.sem) }

func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	default:
	}
	if h.waiting.Add(1) > h.maxQueue {
		h.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.maxWait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a hashing worker: %w", ctx.Err())
	}
}

// Hash returns the PHC string of pw at the configured cost.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return Encode(pw, h.params)
}

// Verify reports whether pw matches encoded, and whether the hash should be
// replaced: because it was made with other parameters, or of pw as typed
// rather than its NFKC form (hashes written before passwords were
// normalized). Only a pw not in NFKC is compared twice, whatever the
// account, so the time tells nothing of the stored hash.
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (ok, rehash bool, err error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	nfkc := Normalize(pw)
	ok, p, err := compare([]byte(nfkc), encoded)
	if err != nil {
		return false, false, err
	}
	if !ok && nfkc != pw {
		if ok, p, err = compare([]byte(pw), encoded); err != nil {
			return false, false, err
		}
		return ok, ok, nil
	}
	return ok, ok && p != h.params, nil
}

// VerifyDummy spends the cost of a verification and always fails; it answers
// logins for unknown accounts so that they take as long as wrong passwords.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) error {
	_, _, err := h.Verify(ctx, pw, h.dummy)
	return err
}
