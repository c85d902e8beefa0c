// Package seal encrypts a secret that must cross the broker (a password
// reset link) so that only the services holding the key can read it:
// AES-256-GCM with the event id as additional data, so a sealed value
// cannot be moved to another event.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the length of a key in bytes.
const KeySize = 32

// ErrOpen is returned for a value that was not sealed with this key and
// additional data, or was changed.
var ErrOpen = errors.New("seal: cannot open")

// Key is a sealing key.
type Key struct{ aead cipher.AEAD }

// ParseKey reads a key from its base64 (standard or URL, padded or not) form.
func ParseKey(s string) (Key, error) {
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil || len(raw) != KeySize {
		return Key{}, fmt.Errorf("seal: a key is %d bytes in base64", KeySize)
	}
	return NewKey(raw)
}

// NewKey makes a key of KeySize raw bytes.
func NewKey(raw []byte) (Key, error) {
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("seal: a key is %d bytes, not %d", KeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("seal: %w", err)
	}
	return Key{aead: aead}, nil
}

// Seal encrypts plaintext bound to ad and returns it in URL-safe base64.
func (k Key) Seal(plaintext, ad []byte) (string, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(k.aead.Seal(nonce, nonce, plaintext, ad)), nil
}

// Open decrypts what Seal returned for the same ad.
func (k Key) Open(sealed string, ad []byte) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	n := k.aead.NonceSize()
	if err != nil || len(raw) < n+k.aead.Overhead() {
		return nil, ErrOpen
	}
	out, err := k.aead.Open(nil, raw[:n], raw[n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
