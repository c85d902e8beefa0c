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
	_, _, err = wire.RotateKey(ctx, sqltest.MySQL(t, sqlstore.Migrations()), wire.Config{Hash: cheap}, 0)
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
