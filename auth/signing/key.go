// Package signing keeps the Ed25519 keys that sign access tokens: it creates
// and rotates them, seals their private halves for storage, signs tokens with
// the active key, and publishes the public keys as a JWKS document.
package signing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Algorithm is the JWS algorithm of every key.
const Algorithm = "EdDSA"

// Sealing names how a stored private key is protected.
const (
	SealNone      = "none"
	SealAES256GCM = "aes-256-gcm"
)

// Key is a signing key in memory.
type Key struct {
	KID         string
	Private     ed25519.PrivateKey
	Public      ed25519.PublicKey
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   *time.Time
}

// Record is a key as the repository stores it. Private holds the 32-byte
// seed, sealed when Sealing is not SealNone.
type Record struct {
	KID         string
	Algorithm   string
	Private     []byte
	Sealing     string
	Public      []byte
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   *time.Time
}

// SigningAt reports whether k is the key to sign with at t, as far as its own
// window goes.
func (k Key) SigningAt(t time.Time) bool {
	return !k.ActivatesAt.After(t) && (k.RetiresAt == nil || k.RetiresAt.After(t))
}

// Generate makes a fresh key whose kid is its RFC 7638 thumbprint.
func Generate(now, activatesAt time.Time) (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate Ed25519 key: %w", err)
	}
	return Key{
		KID: Thumbprint(pub), Private: priv, Public: pub,
		CreatedAt: now.UTC(), ActivatesAt: activatesAt.UTC(),
	}, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key,
// base64url without padding.
func Thumbprint(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace, as RFC 7638 requires.
	canon, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
	}{"Ed25519", "OKP", base64.RawURLEncoding.EncodeToString(pub)})
	sum := sha256.Sum256(canon)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Sealer protects private keys at rest with AES-256-GCM under a key
// encryption key; a nil Sealer stores them as they are.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a sealer for a base64 (standard or URL) 32-byte key, or
// nil when kek is empty.
func NewSealer(kek string) (*Sealer, error) {
	if kek == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(kek)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(kek)
	}
	if err != nil || len(raw) != 32 {
		return nil, errors.New("the key encryption key must be 32 bytes in base64")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("key encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key encryption key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal turns a key into a record for storage.
func (s *Sealer) Seal(k Key) (Record, error) {
	r := Record{
		KID: k.KID, Algorithm: Algorithm, Public: append([]byte(nil), k.Public...),
		CreatedAt: k.CreatedAt, ActivatesAt: k.ActivatesAt, RetiresAt: k.RetiresAt,
	}
	seed := k.Private.Seed()
	if s == nil {
		r.Private, r.Sealing = seed, SealNone
		return r, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Record{}, fmt.Errorf("read nonce: %w", err)
	}
	// The kid is bound as additional data so a sealed seed cannot be swapped
	// onto another row.
	r.Private = s.aead.Seal(nonce, nonce, seed, []byte(k.KID))
	r.Sealing = SealAES256GCM
	return r, nil
}

// Open turns a stored record back into a key and checks that its halves and
// kid belong together.
func (s *Sealer) Open(r Record) (Key, error) {
	if r.Algorithm != Algorithm {
		return Key{}, fmt.Errorf("key %s: unsupported algorithm %q", r.KID, r.Algorithm)
	}
	var seed []byte
	switch r.Sealing {
	case SealNone:
		seed = r.Private
	case SealAES256GCM:
		if s == nil {
			return Key{}, fmt.Errorf("key %s is sealed; the key encryption key is required", r.KID)
		}
		ns := s.aead.NonceSize()
		if len(r.Private) < ns {
			return Key{}, fmt.Errorf("key %s: sealed private key too short", r.KID)
		}
		var err error
		seed, err = s.aead.Open(nil, r.Private[:ns], r.Private[ns:], []byte(r.KID))
		if err != nil {
			return Key{}, fmt.Errorf("key %s: cannot unseal the private key (wrong key encryption key?)", r.KID)
		}
	default:
		return Key{}, fmt.Errorf("key %s: unknown sealing %q", r.KID, r.Sealing)
	}
	if len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("key %s: private key has a wrong size", r.KID)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if !pub.Equal(ed25519.PublicKey(r.Public)) || Thumbprint(pub) != r.KID {
		return Key{}, fmt.Errorf("key %s: stored halves do not match", r.KID)
	}
	return Key{
		KID: r.KID, Private: priv, Public: pub,
		CreatedAt: r.CreatedAt.UTC(), ActivatesAt: r.ActivatesAt.UTC(), RetiresAt: utcPtr(r.RetiresAt),
	}, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
