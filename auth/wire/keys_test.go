package wire_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/signing/signingtest"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/auth/wire/wiretest"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestJWKSAndKeyRotation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		before := e.pat()
		oldKID := jwtHeader(t, before.Access)["kid"].(string)

		r := e.req("GET", "/.well-known/jwks.json", nil)
		require.Equal(t, http.StatusOK, r.Status)
		keys := signingtest.JWKSKeys(t, r.Body)
		require.Len(t, keys, 1)
		assert.Equal(t, oldKID, keys[0]["kid"])
		assert.NotContains(t, keys[0], "d")
		assert.NotContains(t, string(r.Body), `"d"`)

		e.clock.Advance(time.Minute)
		nk, err := e.auth.Ring.Rotate(t.Context(), 0)
		require.NoError(t, err)
		after := e.login(patEmail, patPass)
		assert.Equal(t, nk.KID, jwtHeader(t, after.Access)["kid"], "the new key signs")
		assert.NotEqual(t, oldKID, nk.KID)

		keys = signingtest.JWKSKeys(t, e.req("GET", "/.well-known/jwks.json", nil).Body)
		var kids []string
		for _, k := range keys {
			kids = append(kids, k["kid"].(string))
			assert.NotContains(t, k, "d")
		}
		assert.ElementsMatch(t, []string{oldKID, nk.KID}, kids)

		for _, tok := range []string{before.Access, after.Access} {
			r := e.req("GET", "/api/v1/auth/me", nil, bearer(tok)...)
			assert.Equal(t, http.StatusOK, r.Status, "tokens of both keys verify")
		}

		// Once the old key's tokens have expired, the key leaves the JWKS.
		e.clock.Advance(e.auth.Config.KeyRetention)
		require.NoError(t, e.auth.Ring.Load(t.Context()))
		keys = signingtest.JWKSKeys(t, e.req("GET", "/.well-known/jwks.json", nil).Body)
		require.Len(t, keys, 1)
		assert.Equal(t, nk.KID, keys[0]["kid"])
	})
}

// A server database never holds signing keys unsealed unless development
// asks for it by name; SQLite, one machine's embedded default, may.
func TestUnsealedKeysOnlyWhereAllowed(t *testing.T) {
	ctx := context.Background()
	cheap := password.HasherOptions{Params: password.Cheap}
	_, err := wire.Build(ctx, sqltest.MySQL(t, sqlstore.Migrations()), wire.Config{Hash: cheap}, logging.Nop(), nil)
	require.ErrorIs(t, err, wire.ErrUnsealedKeys)
	_, _, err = wire.RotateKey(ctx, sqltest.MySQL(t, sqlstore.Migrations()), wire.Config{Hash: cheap}, wire.Rotation{Now: true})
	require.ErrorIs(t, err, wire.ErrUnsealedKeys)

	_, err = wire.Build(ctx, sqltest.MySQL(t, sqlstore.Migrations()), wire.Config{Hash: cheap, InsecureUnsealedKeys: true}, logging.Nop(), nil)
	require.NoError(t, err)
	_, err = wire.Build(ctx, sqltest.Postgres(t, sqlstore.Migrations()), wire.Config{Hash: cheap}, logging.Nop(), nil)
	require.ErrorIs(t, err, wire.ErrUnsealedKeys)
	_, err = wire.Build(ctx, sqltest.Postgres(t, sqlstore.Migrations()), wire.Config{Hash: cheap, InsecureUnsealedKeys: true}, logging.Nop(), nil)
	require.NoError(t, err)
	_, err = wire.Build(ctx, sqltest.SQLite(t, sqlstore.Migrations()), wire.Config{Hash: cheap}, logging.Nop(), nil)
	require.NoError(t, err)
}

// Two instances on one database, each re-reading the keys on its own tick.
// At the shortest activation a rotation allows, the instance that reloads
// last has published the new key before the first signs with it, so a token
// verifies wherever it is presented and a JWKS fetched from either holds its
// key.
func TestRotatedKeySignsOnlyOnceEveryInstancePublishesIt(t *testing.T) {
	ctx := context.Background()
	db := sqltest.SQLite(t, sqlstore.Migrations())
	a := newEnv(t, db)
	b := newEnv(t, db, func(c *wire.Config) { c.Clock = a.clock })
	cfg := wire.Config{KeyEncryptionKey: wiretest.KEK, Clock: a.clock}
	a.pat()

	_, _, err := wire.RotateKey(ctx, db, cfg, wire.Rotation{})
	require.ErrorIs(t, err, wire.ErrActivationTooSoon, "not without asking by name")

	reload := a.auth.Config.KeyReloadInterval
	k, _, err := wire.RotateKey(ctx, db, cfg, wire.Rotation{ActivateIn: cfg.MinKeyActivation()})
	require.NoError(t, err)
	require.NoError(t, a.auth.Ring.Load(ctx)) // A's tick comes right after the rotation
	assert.NotEqual(t, k.KID, jwtHeader(t, a.login(patEmail, patPass).Access)["kid"], "published, not signing yet")

	a.clock.Advance(reload)
	require.NoError(t, b.auth.Ring.Load(ctx)) // B's, a whole interval later
	a.clock.Advance(reload)
	require.NoError(t, a.auth.Ring.Load(ctx))
	tok := a.login(patEmail, patPass).Access
	require.Equal(t, k.KID, jwtHeader(t, tok)["kid"], "the new key signs at its activation")

	var kids []string
	for _, j := range signingtest.JWKSKeys(t, b.req("GET", "/.well-known/jwks.json", nil).Body) {
		kids = append(kids, j["kid"].(string))
	}
	assert.Contains(t, kids, k.KID, "the other instance publishes it")
	assert.Equal(t, http.StatusOK, b.req("GET", "/api/v1/auth/me", nil, bearer(tok)...).Status, "and verifies its tokens")
}

// A retired key must outlive the tokens it signed: it retires on an
// instance up to one reload late, and a token lives an access-token
// lifetime. A shorter retention stops the start and the rotation.
func TestKeyRetentionShorterThanATokenIsRefused(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	cfg := wire.Config{Hash: password.HasherOptions{Params: password.Cheap}, KeyEncryptionKey: wiretest.KEK}
	cfg.AccessTTL, cfg.KeyReloadInterval, cfg.KeyRetention = 15*time.Minute, 30*time.Second, 15*time.Minute
	_, err := wire.Build(t.Context(), db, cfg, nil, nil)
	assert.ErrorIs(t, err, wire.ErrKeyRetention)
	_, _, err = wire.RotateKey(t.Context(), db, cfg, wire.Rotation{Now: true})
	assert.ErrorIs(t, err, wire.ErrKeyRetention)

	cfg.KeyRetention = 15*time.Minute + 30*time.Second
	_, err = wire.Build(t.Context(), db, cfg, nil, nil)
	assert.NoError(t, err, "exactly a token's lifetime and a reload")
}

// Every verifier refuses a token living longer than
// authn.DefaultMaxLifetime, so auth refuses to start issuing them.
func TestAccessTTLTheVerifiersRefuseIsRefused(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	cfg := wire.Config{Hash: password.HasherOptions{Params: password.Cheap}, KeyEncryptionKey: wiretest.KEK}
	cfg.AccessTTL = authn.DefaultMaxLifetime + time.Second
	_, err := wire.Build(t.Context(), db, cfg, nil, nil)
	assert.ErrorIs(t, err, wire.ErrAccessTTL)

	cfg.AccessTTL, cfg.KeyRetention = authn.DefaultMaxLifetime, 0
	_, err = wire.Build(t.Context(), db, cfg, nil, nil)
	assert.NoError(t, err, "exactly the longest lifetime")
}
