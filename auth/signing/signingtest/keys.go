// Package signingtest holds the contract suite of the signing key port (signing.Repository), which every adapter runs, and a JWKS reader for tests.
package signingtest

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/signing"
)

var t0 = time.Date(2030, 3, 1, 9, 30, 0, 123456000, time.UTC)

// RunRepositoryContract checks what the key ring expects of a
// signing.Repository; newRepo returns an empty one.
func RunRepositoryContract(t *testing.T, newRepo func(t *testing.T) signing.Repository) {
	ctx := context.Background()
	keys := newRepo(t)
	rec := func(activates time.Time) signing.Record {
		k, err := signing.Generate(t0, activates)
		require.NoError(t, err)
		r, err := (*signing.Sealer)(nil).Seal(k)
		require.NoError(t, err)
		return r
	}
	first := rec(t0)
	require.NoError(t, keys.Insert(ctx, first))
	got, err := keys.Published(ctx, t0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, first, got[0])
	assert.Len(t, got[0].Public, ed25519.PublicKeySize)

	second := rec(t0.Add(time.Hour))
	require.NoError(t, keys.Rotate(ctx, second))
	got, err = keys.Published(ctx, t0)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, second.KID, got[0].KID, "newest activation first")
	require.NotNil(t, got[1].RetiresAt)
	assert.Equal(t, t0.Add(time.Hour), *got[1].RetiresAt, "the old key retires when the new one activates")
	assert.Nil(t, got[0].RetiresAt)

	got, err = keys.Published(ctx, t0.Add(2*time.Hour))
	require.NoError(t, err)
	assert.Len(t, got, 1, "a key retired before the cut-off is not published")

	n, err := keys.Prune(ctx, t0.Add(2*time.Hour))
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	n, err = keys.Prune(ctx, t0.Add(200*time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n, "the active key is never pruned")
}
