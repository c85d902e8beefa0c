package signing_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/auth/signing/signingtest"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func kek(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

func TestThumbprintIsRFC7638(t *testing.T) {
	// RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	require.NoError(t, err)
	assert.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", signing.Thumbprint(x))
}

func TestSealOpen(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	k, err := signing.Generate(now, now)
	require.NoError(t, err)

	plain, err := (*signing.Sealer)(nil).Seal(k)
	require.NoError(t, err)
	assert.Equal(t, signing.SealNone, plain.Sealing)
	back, err := (*signing.Sealer)(nil).Open(plain)
	require.NoError(t, err)
	assert.Equal(t, k.Private, back.Private)

	s, err := signing.NewSealer(kek(t))
	require.NoError(t, err)
	sealed, err := s.Seal(k)
	require.NoError(t, err)
	assert.Equal(t, signing.SealAES256GCM, sealed.Sealing)
	assert.NotContains(t, string(sealed.Private), string(k.Private.Seed()), "the seed is not stored in clear")
	back, err = s.Open(sealed)
	require.NoError(t, err)
	assert.Equal(t, k.Private, back.Private)

	_, err = (*signing.Sealer)(nil).Open(sealed)
	assert.ErrorContains(t, err, "key encryption key is required")
	other, err := signing.NewSealer(kek(t))
	require.NoError(t, err)
	_, err = other.Open(sealed)
	assert.ErrorContains(t, err, "cannot unseal")

	swapped := sealed
	swapped.KID = "another"
	_, err = s.Open(swapped)
	assert.Error(t, err, "a sealed seed is bound to its kid")

	k2, err := signing.Generate(now, now)
	require.NoError(t, err)
	mixed := plain
	mixed.Public = k2.Public
	_, err = (*signing.Sealer)(nil).Open(mixed)
	assert.ErrorContains(t, err, "do not match")
	// A kid is the key's thumbprint: a row naming another kid would have
	// tokens signed by this key verified under a kid that is not its own.
	renamed := plain
	renamed.KID = k2.KID
	_, err = (*signing.Sealer)(nil).Open(renamed)
	assert.ErrorContains(t, err, "do not match", "a stored kid that is not the key's thumbprint")

	_, err = signing.NewSealer("too-short")
	assert.Error(t, err)
}

func verifier(r *signing.Ring, c *clocktest.Clock) *authn.JWTVerifier {
	return authn.NewVerifier(func(context.Context) jwt.Keyfunc { return r.Keyfunc }, authn.Config{Now: c.Now, CacheSize: -1})
}

func TestRingSignsPublishesAndRotates(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	db := sqltest.SQLite(t, sqlstore.Migrations())
	sealer, err := signing.NewSealer(kek(t))
	require.NoError(t, err)
	opts := signing.Options{
		Issuer: authn.DefaultIssuer, Audience: authn.DefaultAudience,
		Retention: 20 * time.Minute, Now: c.Now, Sealer: sealer,
	}
	ring := signing.NewRing(sqlstore.NewKeys(db), opts)

	made, err := ring.EnsureKey(ctx)
	require.NoError(t, err)
	assert.True(t, made)
	made, err = ring.EnsureKey(ctx)
	require.NoError(t, err)
	assert.False(t, made, "kept across restarts: the stored key is reused")
	first, err := ring.CurrentKID()
	require.NoError(t, err)

	// A second process over the same database signs with the same key.
	again := signing.NewRing(sqlstore.NewKeys(db), opts)
	require.NoError(t, again.Load(ctx))
	kid, err := again.CurrentKID()
	require.NoError(t, err)
	assert.Equal(t, first, kid)

	tok, exp, err := ring.Issue(signing.Access{
		UserID: "0190a4d2-0000-7000-8000-000000000001", Email: "pat@example.org",
		Roles: []string{authn.RolePatient}, IssuedAt: c.Now(), TTL: 15 * time.Minute,
	})
	require.NoError(t, err)
	assert.Equal(t, c.Now().Add(15*time.Minute), exp)
	p, err := verifier(ring, c).Verify(ctx, tok)
	require.NoError(t, err, "shared/authn accepts what the ring signs")
	assert.Equal(t, "pat@example.org", p.Email)
	assert.Equal(t, []string{authn.RolePatient}, p.Roles)
	assert.NotEmpty(t, p.TokenID)

	header, claims := decode(t, tok)
	assert.Equal(t, "EdDSA", header["alg"])
	assert.Equal(t, first, header["kid"])
	for _, k := range []string{"iss", "aud", "sub", "roles", "email", "iat", "nbf", "exp", "jti"} {
		assert.Contains(t, claims, k)
	}

	jwks := signingtest.JWKSKeys(t, ring.JWKS())
	require.Len(t, jwks, 1)
	assertPublicOnly(t, jwks[0], first)

	// Rotate: the new key signs, the old one stays published.
	c.Advance(time.Minute)
	nk, err := ring.Rotate(ctx, 0)
	require.NoError(t, err)
	kid, err = ring.CurrentKID()
	require.NoError(t, err)
	assert.Equal(t, nk.KID, kid)
	assert.NotEqual(t, first, kid)
	jwks = signingtest.JWKSKeys(t, ring.JWKS())
	require.Len(t, jwks, 2)
	for _, k := range jwks {
		assertPublicOnly(t, k, k["kid"].(string))
	}
	_, err = verifier(ring, c).Verify(ctx, tok)
	assert.NoError(t, err, "a token of the old key still verifies")
	tok2, _, err := ring.Issue(signing.Access{UserID: "u", Roles: []string{authn.RoleAdmin}, IssuedAt: c.Now(), TTL: time.Minute})
	require.NoError(t, err)
	h2, _ := decode(t, tok2)
	assert.Equal(t, nk.KID, h2["kid"])

	// The other process picks the rotation up on its next load.
	require.NoError(t, again.Load(ctx))
	kid, err = again.CurrentKID()
	require.NoError(t, err)
	assert.Equal(t, nk.KID, kid)

	// Past the retention the old key leaves the JWKS and is pruned.
	c.Advance(21 * time.Minute)
	require.NoError(t, ring.Load(ctx))
	assert.Equal(t, []string{nk.KID}, ring.PublishedKIDs())
	n, err := ring.Prune(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

// A verifier told of the ring's changes checks its cached tokens again: a
// key withdrawn from the store stops verifying the tokens it signed at the
// ring's next load, though the verifier had cached them.
func TestRingTellsItsVerifierOfChangedKeys(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	db := sqltest.SQLite(t, sqlstore.Migrations())
	sealer, err := signing.NewSealer(kek(t))
	require.NoError(t, err)
	ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{
		Issuer: authn.DefaultIssuer, Audience: authn.DefaultAudience,
		Retention: 20 * time.Minute, Now: c.Now, Sealer: sealer,
	})
	changes := 0
	ring.OnChange(func() { changes++ })
	_, err = ring.EnsureKey(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, changes, "the first key")
	require.NoError(t, ring.Load(ctx))
	assert.Equal(t, 1, changes, "a load finding the same keys changes nothing")
	c.Advance(time.Minute)
	_, err = ring.Rotate(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, changes, "a rotation")
	c.Advance(21 * time.Minute)
	require.NoError(t, ring.Load(ctx))
	assert.Equal(t, 3, changes, "the old key past its retention")

	v := authn.NewVerifier(func(context.Context) jwt.Keyfunc { return ring.Keyfunc }, authn.Config{Now: c.Now})
	ring.OnChange(v.KeysChanged)
	tok, _, err := ring.Issue(signing.Access{UserID: "u", Roles: []string{authn.RoleAdmin}, IssuedAt: c.Now(), TTL: 15 * time.Minute})
	require.NoError(t, err)
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "DELETE FROM signing_keys")
	require.NoError(t, err)
	_, err = v.Verify(ctx, tok)
	require.NoError(t, err, "cached, and the ring still holds the key")
	require.NoError(t, ring.Load(ctx))
	_, err = v.Verify(ctx, tok)
	assert.ErrorIs(t, err, authn.ErrInvalidToken, "the withdrawn key's token, cached before, is refused")
}

func TestRotateWithDelayedActivation(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	db := sqltest.SQLite(t, sqlstore.Migrations())
	ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour, Now: c.Now})
	_, err := ring.EnsureKey(ctx)
	require.NoError(t, err)
	first, _ := ring.CurrentKID()
	next, err := ring.Rotate(ctx, 5*time.Minute)
	require.NoError(t, err)
	kid, _ := ring.CurrentKID()
	assert.Equal(t, first, kid, "the old key signs until the new one activates")
	assert.Contains(t, ring.PublishedKIDs(), next.KID, "the new key is published ahead")
	c.Advance(4 * time.Minute)
	age, ok := ring.SigningKeyAge()
	assert.True(t, ok)
	assert.Equal(t, 4*time.Minute, age, "the age of the key that signs, not of the newest")
	c.Advance(time.Minute - time.Second)
	kid, _ = ring.CurrentKID()
	assert.Equal(t, first, kid, "a second before its activation the new key does not sign yet")
	c.Advance(time.Second)
	kid, _ = ring.CurrentKID()
	assert.Equal(t, next.KID, kid)
	age, _ = ring.SigningKeyAge()
	assert.Equal(t, 5*time.Minute, age, "created at the rotation, five minutes ago")

	_, err = ring.Rotate(ctx, -time.Hour)
	assert.Error(t, err, "a past activation would cut the old key's retention short")
	assert.Equal(t, []string{next.KID, first}, ring.PublishedKIDs(), "nothing changed")
}

func TestSigningKeyAgeWithoutKey(t *testing.T) {
	ring := signing.NewRing(sqlstore.NewKeys(sqltest.SQLite(t, sqlstore.Migrations())), signing.Options{Retention: time.Hour})
	_, ok := ring.SigningKeyAge()
	assert.False(t, ok)
}

func TestRingRefusesWrongKeyEncryptionKey(t *testing.T) {
	ctx := context.Background()
	db := sqltest.SQLite(t, sqlstore.Migrations())
	s1, err := signing.NewSealer(kek(t))
	require.NoError(t, err)
	_, err = signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour, Sealer: s1}).EnsureKey(ctx)
	require.NoError(t, err)
	_, err = signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour}).EnsureKey(ctx)
	assert.Error(t, err)
}

func decode(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	var h, c map[string]any
	for i, dst := range []*map[string]any{&h, &c} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return h, c
}

func assertPublicOnly(t *testing.T, k map[string]any, kid string) {
	t.Helper()
	assert.Equal(t, kid, k["kid"])
	assert.Equal(t, "OKP", k["kty"])
	assert.Equal(t, "Ed25519", k["crv"])
	assert.Equal(t, "EdDSA", k["alg"])
	assert.Equal(t, "sig", k["use"])
	assert.NotEmpty(t, k["x"])
	assert.NotContains(t, k, "d", "never the private part")
}
