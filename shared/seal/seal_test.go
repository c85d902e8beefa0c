package seal_test

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/seal"
)

func TestSealOpen(t *testing.T) {
	key, err := seal.ParseKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	require.NoError(t, err)
	sealed, err := key.Seal([]byte("https://clinic/reset?token=abc"), []byte("event-1"))
	require.NoError(t, err)
	assert.NotContains(t, sealed, "token")

	got, err := key.Open(sealed, []byte("event-1"))
	require.NoError(t, err)
	assert.Equal(t, "https://clinic/reset?token=abc", string(got))

	_, err = key.Open(sealed, []byte("event-2"))
	assert.ErrorIs(t, err, seal.ErrOpen, "bound to its event")
	other, err := seal.NewKey(bytes.Repeat([]byte{8}, 32))
	require.NoError(t, err)
	_, err = other.Open(sealed, []byte("event-1"))
	assert.ErrorIs(t, err, seal.ErrOpen, "another key")
	_, err = key.Open(sealed[:len(sealed)-2]+"AA", []byte("event-1"))
	assert.ErrorIs(t, err, seal.ErrOpen, "tampered")
	_, err = key.Open("!!", nil)
	assert.ErrorIs(t, err, seal.ErrOpen)

	_, err = seal.ParseKey("c2hvcnQ")
	assert.Error(t, err)
}

// Each seal draws a fresh nonce: the same secret sealed twice for the same
// event gives two values, each of which opens.
func TestSealDrawsAFreshNonce(t *testing.T) {
	key, err := seal.NewKey(bytes.Repeat([]byte{7}, seal.KeySize))
	require.NoError(t, err)
	a, err := key.Seal([]byte("secret"), []byte("event-1"))
	require.NoError(t, err)
	b, err := key.Seal([]byte("secret"), []byte("event-1"))
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	for _, s := range []string{a, b} {
		got, err := key.Open(s, []byte("event-1"))
		require.NoError(t, err)
		assert.Equal(t, "secret", string(got))
	}
}

// A value too short to hold a nonce and a tag is refused, not read past
// its end.
func TestOpenRefusesAValueTooShort(t *testing.T) {
	key, err := seal.NewKey(bytes.Repeat([]byte{7}, seal.KeySize))
	require.NoError(t, err)
	for _, n := range []int{0, 3, 11, 12, 27} {
		short := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, n))
		require.NotPanics(t, func() {
			_, err = key.Open(short, nil)
		}, "%d bytes", n)
		assert.ErrorIs(t, err, seal.ErrOpen, "%d bytes", n)
	}
}
