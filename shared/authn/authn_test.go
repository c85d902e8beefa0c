package authn_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/problem"
)

func TestVerifyAcceptsValidToken(t *testing.T) {
	iss := authntest.NewIssuer(t)
	tok := iss.Token(t, authntest.Claims{UserID: "u1", Email: "a@b.example", Roles: []string{authn.RoleDoctor}})
	p, err := iss.Verifier().Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, "u1", p.UserID)
	assert.Equal(t, "a@b.example", p.Email)
	assert.True(t, p.Has(authn.RoleDoctor))
	assert.False(t, p.Has(authn.RoleAdmin))
	assert.Equal(t, authn.RoleDoctor, p.PrimaryRole())
	assert.NotEmpty(t, p.TokenID)
}

// segment base64url-encodes v as a JWT segment.
func segment(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": authn.DefaultIssuer, "aud": authn.DefaultAudience, "sub": "u1", "roles": []string{"PATIENT"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "j1",
	}
}

func TestVerifyRejectsAttacks(t *testing.T) {
	iss := authntest.NewIssuer(t)
	v := iss.Verifier()
	now := time.Now()
	good := iss.Token(t, authntest.Claims{})
	parts := strings.Split(good, ".")

	// alg none: header says none, no signature.
	algNone := segment(t, map[string]any{"alg": "none", "typ": "JWT", "kid": iss.KID}) + "." + segment(t, validClaims()) + "."

	// HS256 signed with the public key bytes as the HMAC secret.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(validClaims()))
	hs.Header["kid"] = iss.KID
	hsTok, err := hs.SignedString([]byte(iss.Public))
	require.NoError(t, err)

	// Signed by another key under the issuer's kid.
	other := authntest.NewIssuer(t)
	other.KID = iss.KID
	otherTok := other.Token(t, authntest.Claims{})

	// Unknown kid.
	unknown := authntest.NewIssuer(t)
	unknownKid := unknown.Token(t, authntest.Claims{})

	// No kid at all.
	noKid := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(validClaims()))
	noKidTok, err := noKid.SignedString(iss.Private)
	require.NoError(t, err)

	// Tampered payload: roles raised to ADMIN, signature kept.
	tc := validClaims()
	tc["roles"] = []string{"ADMIN"}
	tampered := parts[0] + "." + segment(t, tc) + "." + parts[2]

	// No exp.
	ne := validClaims()
	delete(ne, "exp")
	noExp := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(ne))
	noExp.Header["kid"] = iss.KID
	noExpTok, err := noExp.SignedString(iss.Private)
	require.NoError(t, err)

	// Unknown role.
	ur := validClaims()
	ur["roles"] = []string{"ROOT"}
	urTok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(ur))
	urTok.Header["kid"] = iss.KID
	unknownRole, err := urTok.SignedString(iss.Private)
	require.NoError(t, err)

	cases := map[string]string{
		"empty":           "",
		"garbage":         "not.a.token",
		"alg none":        algNone,
		"hs256 with pub":  hsTok,
		"other key":       otherTok,
		"unknown kid":     unknownKid,
		"no kid":          noKidTok,
		"tampered":        tampered,
		"no exp":          noExpTok,
		"unknown role":    unknownRole,
		"expired":         iss.Token(t, authntest.Claims{IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-10 * time.Minute)}),
		"not yet valid":   iss.Token(t, authntest.Claims{NotBefore: now.Add(10 * time.Minute), ExpiresAt: now.Add(20 * time.Minute)}),
		"wrong issuer":    iss.Token(t, authntest.Claims{Issuer: "evil"}),
		"wrong audience":  iss.Token(t, authntest.Claims{Audience: "other-app"}),
		"100 KB token":    parts[0] + "." + strings.Repeat("A", 100<<10) + "." + parts[2],
		"no subject":      signMap(t, iss, func(m map[string]any) { delete(m, "sub") }),
		"no roles":        signMap(t, iss, func(m map[string]any) { delete(m, "roles") }),
		"issued in futur": signMap(t, iss, func(m map[string]any) { m["iat"] = now.Add(time.Hour).Unix() }),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tok)
			require.Error(t, err)
		})
	}
}

func signMap(t *testing.T, iss *authntest.Issuer, edit func(map[string]any)) string {
	c := validClaims()
	edit(c)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(c))
	tok.Header["kid"] = iss.KID
	s, err := tok.SignedString(iss.Private)
	require.NoError(t, err)
	return s
}

func TestLeewayAllowsSmallSkew(t *testing.T) {
	iss := authntest.NewIssuer(t)
	now := time.Now()
	tok := iss.Token(t, authntest.Claims{IssuedAt: now.Add(-20 * time.Minute), ExpiresAt: now.Add(-10 * time.Second)})
	_, err := iss.Verifier().Verify(context.Background(), tok)
	assert.NoError(t, err, "10 s past exp is inside the 30 s leeway")
}

// rotatingJWKS serves a key set that can change, counting fetches.
type rotatingJWKS struct {
	body    atomic.Value
	fetches atomic.Int32
}

func (r *rotatingJWKS) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(r.body.Load().([]byte))
}

func jwksOf(t *testing.T, keys map[string]ed25519.PublicKey) []byte {
	store := jwkset.NewMemoryStorage()
	for kid, pub := range keys {
		jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig}})
		require.NoError(t, err)
		require.NoError(t, store.KeyWrite(context.Background(), jwk))
	}
	raw, err := store.JSONPublic(context.Background())
	require.NoError(t, err)
	return raw
}

func TestJWKSVerifierRefreshesOnUnknownKID(t *testing.T) {
	first := authntest.NewIssuer(t)
	second := authntest.NewIssuer(t)
	src := &rotatingJWKS{}
	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{first.KID: first.Public}))
	v := jwksVerifier(t, src)
	ctx := context.Background()

	_, err := v.Verify(ctx, first.Token(t, authntest.Claims{}))
	require.NoError(t, err)
	before := src.fetches.Load()

	// The key rotates: the JWKS now holds both keys, and a token signed by
	// the new one verifies after a refresh triggered by its unknown kid.
	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{first.KID: first.Public, second.KID: second.Public}))
	// The unknown-kid limiter refills every millisecond, but a loaded machine
	// may still find it empty once: retry rather than sleep a guessed time.
	tok2 := second.Token(t, authntest.Claims{})
	require.Eventually(t, func() bool {
		_, err = v.Verify(ctx, tok2)
		return err == nil
	}, 5*time.Second, 2*time.Millisecond, "the new key never verified: %v", err)
	assert.Greater(t, src.fetches.Load(), before, "an unknown kid triggers a JWKS refresh")

	// A known kid does not refetch.
	n := src.fetches.Load()
	_, err = v.Verify(ctx, first.Token(t, authntest.Claims{}))
	require.NoError(t, err)
	assert.Equal(t, n, src.fetches.Load())
}

func TestJWKSVerifierStartsBeforeAuthIsUp(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	v, err := authn.NewJWKSVerifier(context.Background(), authn.JWKSOptions{URL: srv.URL, Client: &http.Client{Timeout: time.Second}}, authn.Config{})
	require.NoError(t, err)
	iss := authntest.NewIssuer(t)
	_, err = v.Verify(context.Background(), iss.Token(t, authntest.Claims{}))
	require.Error(t, err)
}

func TestMiddleware(t *testing.T) {
	iss := authntest.NewIssuer(t)
	var seen authn.Principal
	var seenToken string
	h := authn.Middleware(iss.Verifier())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = authn.FromContext(r.Context())
		seenToken = authn.TokenFrom(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))

	for name, header := range map[string]string{
		"missing": "", "not bearer": "Basic Zm9vOmJhcg==", "empty bearer": "Bearer ", "bad token": "Bearer abc.def.ghi",
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			h.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusUnauthorized, rec.Code)
			assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
			assert.NotEmpty(t, rec.Header().Get("WWW-Authenticate"))
		})
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	tok := iss.Token(t, authntest.Claims{UserID: "u9"})
	req.Header.Set("Authorization", "bearer "+tok)
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "u9", seen.UserID)
	assert.Equal(t, tok, seenToken, "the token travels on for calls made on the caller's behalf")
}

func TestRequireRoles(t *testing.T) {
	ep := authn.RequireRoles(authn.RoleAdmin)(func(context.Context, any) (any, error) { return "ok", nil })

	_, err := ep(context.Background(), nil)
	assert.Equal(t, http.StatusUnauthorized, problem.From(err).Status)

	ctx := authn.NewContext(context.Background(), authn.Principal{UserID: "p", Roles: []string{authn.RolePatient}})
	_, err = ep(ctx, nil)
	assert.Equal(t, http.StatusForbidden, problem.From(err).Status)

	ctx = authn.NewContext(context.Background(), authn.Principal{UserID: "a", Roles: []string{authn.RoleAdmin}})
	out, err := ep(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, "ok", out)
}

func TestBearerToken(t *testing.T) {
	tok, ok := authn.BearerToken("Bearer abc")
	assert.True(t, ok)
	assert.Equal(t, "abc", tok)
	_, ok = authn.BearerToken("Bearerabc")
	assert.False(t, ok)
}

// BenchmarkVerify measures verification of a token presented again, the
// common case (served from the verified-token cache); run with -cpu 1 for the
// one-core figure. BenchmarkVerifyUncached measures the full path.
func BenchmarkVerify(b *testing.B) {
	iss := authntest.NewIssuer(b)
	benchmarkVerify(b, iss, iss.Verifier())
}

// benchmarkVerify verifies one token of iss with v b.N times.
func benchmarkVerify(b *testing.B, iss *authntest.Issuer, v authn.Verifier) {
	tok, err := iss.Sign(authntest.Claims{Roles: []string{authn.RolePatient}, Email: "p@example.com"})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

func TestCachedTokenExpires(t *testing.T) {
	iss := authntest.NewIssuer(t)
	now := time.Now()
	clock := now
	v := authn.NewVerifier(keysOf(iss), authn.Config{Now: func() time.Time { return clock }, Leeway: time.Second})
	tok := iss.Token(t, authntest.Claims{IssuedAt: now, ExpiresAt: now.Add(time.Minute)})
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err, "served from the cache")
	clock = now.Add(2 * time.Minute)
	_, err = v.Verify(context.Background(), tok)
	require.Error(t, err, "a cached token is refused once expired")
}

func TestCacheStaysBounded(t *testing.T) {
	iss := authntest.NewIssuer(t)
	v := authn.NewVerifier(keysOf(iss), authn.Config{CacheSize: 8})
	for i := 0; i < 50; i++ {
		_, err := v.Verify(context.Background(), iss.Token(t, authntest.Claims{}))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, authn.CacheLen(v), 8)
}

// jwksVerifier verifies against the JWKS that jwks serves, refetching it
// for an unknown kid at most every millisecond, until the test ends.
func jwksVerifier(t *testing.T, jwks http.Handler) *authn.JWTVerifier {
	t.Helper()
	srv := httptest.NewServer(jwks)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := authn.NewJWKSVerifier(ctx, authn.JWKSOptions{
		URL: srv.URL, Client: &http.Client{Timeout: 5 * time.Second}, UnknownKIDEvery: time.Millisecond,
	}, authn.Config{})
	require.NoError(t, err)
	return v
}

func keysOf(iss *authntest.Issuer) authn.KeyfuncCtx {
	return func(context.Context) jwt.Keyfunc {
		return func(*jwt.Token) (any, error) { return iss.Public, nil }
	}
}

// BenchmarkVerifyUncached measures the signature path alone.
func BenchmarkVerifyUncached(b *testing.B) {
	iss := authntest.NewIssuer(b)
	benchmarkVerify(b, iss, authn.NewVerifier(keysOf(iss), authn.Config{CacheSize: -1}))
}

// The allow-list itself must refuse a well-signed token whose algorithm it
// does not name, and the same token must pass where the algorithm is allowed:
// so the refusal comes from the list, not from another check.
func TestAlgorithmAllowListIsEnforced(t *testing.T) {
	iss := authntest.NewIssuer(t)
	tok := iss.Token(t, authntest.Claims{})
	keys := keysOf(iss)

	_, err := authn.NewVerifier(keys, authn.Config{}).Verify(context.Background(), tok)
	require.NoError(t, err, "EdDSA is allowed by default")

	_, err = authn.NewVerifier(keys, authn.Config{Algorithms: []string{"RS256"}}).Verify(context.Background(), tok)
	require.ErrorIs(t, err, authn.ErrInvalidToken)
	assert.Contains(t, err.Error(), "signing method EdDSA is invalid")
}

// RFC 7515: a token with critical header extensions the verifier does not
// understand is refused; the same claims without crit pass.
func TestCriticalHeaderIsRefused(t *testing.T) {
	iss := authntest.NewIssuer(t)
	v := iss.Verifier()
	sign := func(crit bool) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(validClaims()))
		tok.Header["kid"] = iss.KID
		if crit {
			tok.Header["crit"] = []string{"exp-ext"}
			tok.Header["exp-ext"] = true
		}
		s, err := tok.SignedString(iss.Private)
		require.NoError(t, err)
		return s
	}
	_, err := v.Verify(context.Background(), sign(false))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), sign(true))
	require.ErrorIs(t, err, authn.ErrInvalidToken)
	assert.Contains(t, err.Error(), "critical header")
}

// FuzzVerify holds that no token string panics the verifier or passes
// without a valid signature.
func FuzzVerify(f *testing.F) {
	iss := authntest.NewIssuer(f)
	v := iss.Verifier()
	good := iss.Token(f, authntest.Claims{})
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err == nil && tok != good {
			// Another encoding of the same signed bytes is the only way through.
			require.Equal(t, "", strings.Trim(tok, "."+parts[0]+parts[1]+parts[2]), "accepted %q as %+v", tok, p)
		}
	})
}

// flakyJWKS serves a key set, or fails with 503 while down is set.
type flakyJWKS struct {
	rotatingJWKS
	down atomic.Bool
}

func (f *flakyJWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		f.fetches.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	f.rotatingJWKS.ServeHTTP(w, r)
}

// When auth cannot be reached, a valid token is no reason to log in again:
// until the keys are first fetched readiness says why, and an unknown key id
// is a 503 problem, not a 401.
func TestJWKSUnreachableIs503AndNotReadyUntilFirstFetched(t *testing.T) {
	iss := authntest.NewIssuer(t)
	newcomer := authntest.NewIssuer(t)
	src := &flakyJWKS{}
	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{iss.KID: iss.Public}))
	src.down.Store(true)
	v := jwksVerifier(t, src)
	ctx := context.Background()
	h := authn.Middleware(v)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func(tok string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}

	// Auth down from the start.
	require.Eventually(t, func() bool { return v.Ready(ctx) != nil }, 5*time.Second, 5*time.Millisecond)
	assert.Contains(t, v.Ready(ctx).Error(), "HTTP status code: 503")
	rec := call(iss.Token(t, authntest.Claims{}))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))

	// Auth back: ready, and the token verifies.
	src.down.Store(false)
	require.NoError(t, v.Ready(ctx))
	require.Eventually(t, func() bool { return call(iss.Token(t, authntest.Claims{})).Code == http.StatusOK },
		5*time.Second, 5*time.Millisecond)

	// Auth down again: known keys still verify, a forgery is still 401, and an
	// unknown kid (a rotation this verifier cannot fetch) is 503.
	src.down.Store(true)
	tok := newcomer.Token(t, authntest.Claims{})
	require.Eventually(t, func() bool { return call(tok).Code == http.StatusServiceUnavailable }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, http.StatusOK, call(iss.Token(t, authntest.Claims{})).Code)
	other := authntest.NewIssuer(t)
	other.KID = iss.KID
	assert.Equal(t, http.StatusUnauthorized, call(other.Token(t, authntest.Claims{})).Code)
	assert.NoError(t, v.Ready(ctx), "the keys held serve: auth away must not take every instance out of the rotation")
}

// stallingJWKS answers 200 with its headers and a first half of the key
// set, then stalls (auth hung mid-answer) until the test ends.
type stallingJWKS struct {
	body []byte
	done chan struct{}
}

func (s *stallingJWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.body[:len(s.body)/2])
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
}

// A fetch counts once its keys are read and parsed: auth hung half-way
// through its answer from the start leaves the verifier not ready, and a
// valid token is a 503 (the keys cannot be fetched), never a 401 that sends
// the client to log in again.
func TestJWKSHungMidAnswerIsNotReadyAnd503(t *testing.T) {
	iss := authntest.NewIssuer(t)
	src := &stallingJWKS{body: jwksOf(t, map[string]ed25519.PublicKey{iss.KID: iss.Public}), done: make(chan struct{})}
	srv := httptest.NewServer(src)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(src.done) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := authn.NewJWKSVerifier(ctx, authn.JWKSOptions{
		URL: srv.URL, Client: &http.Client{Timeout: time.Second}, UnknownKIDEvery: time.Millisecond,
	}, authn.Config{})
	require.NoError(t, err)

	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	assert.Error(t, v.Ready(rctx), "the readiness probe's own fetch hangs mid-answer")
	assert.Error(t, v.Ready(ctx), "ready although no key was ever fetched")

	h := authn.Middleware(v)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+iss.Token(t, authntest.Claims{}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "a valid token while auth hangs: %s", rec.Body)
}

// A 200 whose body is no JWKS (a proxy's page, a JSON error, an empty set)
// fetches no key: not ready, and a valid token is a 503; once the JWKS is
// served, ready.
func TestJWKSAnswerThatIsNoKeySetIsNotReadyAnd503(t *testing.T) {
	for _, bad := range []string{"<html>maintenance</html>", `{"error":"maintenance"}`, `{"keys":[]}`} {
		t.Run(bad, func(t *testing.T) {
			iss := authntest.NewIssuer(t)
			var serving atomic.Bool
			body := jwksOf(t, map[string]ed25519.PublicKey{iss.KID: iss.Public})
			v := jwksVerifier(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if serving.Load() {
					_, _ = w.Write(body)
					return
				}
				_, _ = w.Write([]byte(bad))
			}))
			ctx := context.Background()
			require.Error(t, v.Ready(ctx))
			h := authn.Middleware(v)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+iss.Token(t, authntest.Claims{}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())

			serving.Store(true)
			require.NoError(t, v.Ready(ctx))
			_, err := v.Verify(ctx, iss.Token(t, authntest.Claims{}))
			require.NoError(t, err)
		})
	}
}

// Once keys are held, a refresh answered with no key set (here forced by a
// token with a made-up kid, which any client can send) keeps them serving.
func TestARefreshAnsweredWithNoKeySetKeepsTheKeysHeld(t *testing.T) {
	iss, other := authntest.NewIssuer(t), authntest.NewIssuer(t)
	var broken atomic.Bool
	good := jwksOf(t, map[string]ed25519.PublicKey{iss.KID: iss.Public})
	v := jwksVerifier(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			_, _ = w.Write([]byte(`{"error":"maintenance"}`))
			return
		}
		_, _ = w.Write(good)
	}))
	ctx := context.Background()
	require.NoError(t, v.Ready(ctx))
	_, err := v.Verify(ctx, iss.Token(t, authntest.Claims{}))
	require.NoError(t, err)

	broken.Store(true)
	time.Sleep(5 * time.Millisecond) // past UnknownKIDEvery
	_, _ = v.Verify(ctx, other.Token(t, authntest.Claims{}))

	_, err = v.Verify(ctx, iss.Token(t, authntest.Claims{UserID: "someone-else"}))
	assert.NoError(t, err)
	assert.NoError(t, v.Ready(ctx))
}

// A refresh for an unknown kid gets time to finish: a JWKS that takes tens
// of milliseconds to answer (a real network) still yields the new key.
func TestUnknownKIDRefreshOverASlowJWKS(t *testing.T) {
	first, second := authntest.NewIssuer(t), authntest.NewIssuer(t)
	src := &rotatingJWKS{}
	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{first.KID: first.Public}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		src.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := authn.NewJWKSVerifier(ctx, authn.JWKSOptions{URL: srv.URL, UnknownKIDEvery: time.Millisecond}, authn.Config{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return v.Ready(ctx) == nil }, 5*time.Second, 10*time.Millisecond)

	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{first.KID: first.Public, second.KID: second.Public}))
	_, err = v.Verify(ctx, second.Token(t, authntest.Claims{}))
	require.NoError(t, err, "the refresh was cut short")
	require.NoError(t, v.Ready(ctx))
}

// A key that leaked is withdrawn from the JWKS (rotate-key -activate-now,
// then the retired key leaves it): from then on no token it signed passes,
// not even one the verifier verified and cached before the withdrawal.
func TestCachedTokenOfAWithdrawnKeyIsRefused(t *testing.T) {
	leaked, good, next := authntest.NewIssuer(t), authntest.NewIssuer(t), authntest.NewIssuer(t)
	src := &rotatingJWKS{}
	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{leaked.KID: leaked.Public, good.KID: good.Public}))
	v := jwksVerifier(t, src)
	ctx := context.Background()

	forged := leaked.Token(t, authntest.Claims{Roles: []string{authn.RoleAdmin}})
	kept := good.Token(t, authntest.Claims{})
	require.Eventually(t, func() bool { _, err := v.Verify(ctx, forged); return err == nil }, 5*time.Second, 5*time.Millisecond)
	_, err := v.Verify(ctx, kept)
	require.NoError(t, err)
	_, err = v.Verify(ctx, forged)
	require.NoError(t, err, "served from the cache while the key is held")
	require.Equal(t, 2, authn.CacheLen(v))

	// The leaked key is withdrawn; the verifier fetches the new set (a
	// token of the next key makes it refresh).
	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{good.KID: good.Public, next.KID: next.Public}))
	require.Eventually(t, func() bool { _, err := v.Verify(ctx, next.Token(t, authntest.Claims{})); return err == nil },
		5*time.Second, 5*time.Millisecond)

	_, err = v.Verify(ctx, forged)
	require.ErrorIs(t, err, authn.ErrInvalidToken, "a token of the withdrawn key is refused, cached or not")
	_, err = v.Verify(ctx, kept)
	require.NoError(t, err, "a token of a key still held is verified again and passes")
}

// verifiedOnce is a verifier of iss's key, served by src, which has
// verified (and cached) tok.
func verifiedOnce(t *testing.T) (*authntest.Issuer, *rotatingJWKS, *authn.JWTVerifier, string) {
	t.Helper()
	iss := authntest.NewIssuer(t)
	src := &rotatingJWKS{}
	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{iss.KID: iss.Public}))
	v := jwksVerifier(t, src)
	tok := iss.Token(t, authntest.Claims{})
	require.Eventually(t, func() bool { _, err := v.Verify(context.Background(), tok); return err == nil }, 5*time.Second, 5*time.Millisecond)
	return iss, src, v, tok
}

// A fetch that brings the same keys (the periodic refresh, or one forced by
// a forged kid) leaves the verified tokens cached: only a change of the
// keys costs each token a signature check again.
func TestUnchangedKeySetKeepsVerifiedTokens(t *testing.T) {
	iss, src, v, tok := verifiedOnce(t)
	ctx := context.Background()
	changes := authn.KeySetChanges(v)

	// Refreshes forced by an unknown kid bring the same set; each is done
	// when the Verify that forced it returns.
	unknown := authntest.NewIssuer(t).Token(t, authntest.Claims{})
	before := src.fetches.Load()
	for src.fetches.Load() < before+3 {
		_, err := v.Verify(ctx, unknown)
		require.Error(t, err)
	}
	assert.Equal(t, changes, authn.KeySetChanges(v), "an unchanged set is no change")
	_, err := v.Verify(ctx, tok)
	require.NoError(t, err)
	assert.Equal(t, 1, authn.CacheLen(v))

	// The same kid under another key is a change.
	other := authntest.NewIssuer(t)
	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{iss.KID: other.Public}))
	require.Eventually(t, func() bool { _, _ = v.Verify(ctx, unknown); return authn.KeySetChanges(v) > changes },
		5*time.Second, 5*time.Millisecond)
	_, err = v.Verify(ctx, tok)
	require.ErrorIs(t, err, authn.ErrInvalidToken, "its kid now names another key")
}

// Nothing auth issues lives longer than MaxLifetime; a token that says
// otherwise was signed by someone else holding a key, and is refused, as is
// a token without the iat its lifetime is counted from.
func TestTokenLivingLongerThanMaxLifetimeIsRefused(t *testing.T) {
	iss := authntest.NewIssuer(t)
	now := time.Now()
	v := authn.NewVerifier(keysOf(iss), authn.Config{MaxLifetime: time.Hour})

	_, err := v.Verify(context.Background(), iss.Token(t, authntest.Claims{IssuedAt: now, ExpiresAt: now.Add(time.Hour)}))
	require.NoError(t, err, "a lifetime of MaxLifetime passes")
	_, err = v.Verify(context.Background(), iss.Token(t, authntest.Claims{IssuedAt: now, ExpiresAt: now.Add(time.Hour + time.Second)}))
	require.ErrorIs(t, err, authn.ErrInvalidToken)
	assert.Contains(t, err.Error(), "lifetime")

	// Signed by hand: the test issuer, as every issuer of the project, signs
	// no token a verifier would refuse.
	year := signMap(t, iss, func(m map[string]any) {
		m["roles"], m["exp"] = []string{authn.RoleAdmin}, now.Add(365*24*time.Hour).Unix()
	})
	_, err = iss.Verifier().Verify(context.Background(), year)
	require.ErrorIs(t, err, authn.ErrInvalidToken, "the default bound refuses a year")
	_, err = iss.Verifier().Verify(context.Background(), iss.Token(t, authntest.Claims{IssuedAt: now, ExpiresAt: now.Add(authn.DefaultMaxLifetime)}))
	require.NoError(t, err)

	_, err = iss.Verifier().Verify(context.Background(), signMap(t, iss, func(m map[string]any) { delete(m, "iat") }))
	require.ErrorIs(t, err, authn.ErrInvalidToken)
	assert.Contains(t, err.Error(), "no iat")
}

// The default leeway is 30 seconds on exp and nbf alike: a token a few
// seconds out of its window passes, one 45 seconds out does not.
func TestDefaultLeewayIsThirtySeconds(t *testing.T) {
	iss := authntest.NewIssuer(t)
	v := iss.Verifier()
	now := time.Now()
	for name, c := range map[string]struct {
		claims authntest.Claims
		pass   bool
	}{
		"expired 10 s ago":   {authntest.Claims{IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-10 * time.Second)}, true},
		"expired 45 s ago":   {authntest.Claims{IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-45 * time.Second)}, false},
		"valid in 10 s":      {authntest.Claims{IssuedAt: now, NotBefore: now.Add(10 * time.Second), ExpiresAt: now.Add(time.Hour)}, true},
		"valid in 45 s":      {authntest.Claims{IssuedAt: now, NotBefore: now.Add(45 * time.Second), ExpiresAt: now.Add(time.Hour)}, false},
		"issued in 45 s":     {authntest.Claims{IssuedAt: now.Add(45 * time.Second), ExpiresAt: now.Add(time.Hour)}, false},
		"issued in 10 s, ok": {authntest.Claims{IssuedAt: now.Add(10 * time.Second), ExpiresAt: now.Add(time.Hour)}, true},
	} {
		_, err := v.Verify(context.Background(), iss.Token(t, c.claims))
		if c.pass {
			assert.NoError(t, err, name)
		} else {
			assert.ErrorIs(t, err, authn.ErrInvalidToken, name)
		}
	}
}

// A token of exactly MaxTokenBytes is verified; one byte more is refused
// before it is parsed. By default the bound is DefaultMaxTokenBytes, which a
// well-signed token padded with a long claim exceeds.
func TestTokenSizeBound(t *testing.T) {
	iss := authntest.NewIssuer(t)
	tok := iss.Token(t, authntest.Claims{})
	_, err := authn.NewVerifier(keysOf(iss), authn.Config{MaxTokenBytes: len(tok)}).Verify(context.Background(), tok)
	require.NoError(t, err, "a token of exactly the bound")
	_, err = authn.NewVerifier(keysOf(iss), authn.Config{MaxTokenBytes: len(tok) - 1}).Verify(context.Background(), tok)
	require.ErrorIs(t, err, authn.ErrInvalidToken)
	assert.Contains(t, err.Error(), "too large")

	big := iss.Token(t, authntest.Claims{Email: strings.Repeat("a", authn.DefaultMaxTokenBytes) + "@example.com"})
	_, err = iss.Verifier().Verify(context.Background(), big)
	require.ErrorIs(t, err, authn.ErrInvalidToken)
	assert.Contains(t, err.Error(), "too large")
}

// A token without a kid is refused by the verifier itself, even when the
// key source would hand out a key without one.
func TestTokenWithoutKidIsRefusedWhateverTheKeySource(t *testing.T) {
	iss := authntest.NewIssuer(t)
	v := authn.NewVerifier(keysOf(iss), authn.Config{})
	_, err := v.Verify(context.Background(), signMap(t, iss, func(map[string]any) {}))
	require.NoError(t, err, "the same claims with a kid pass")

	noKid := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(validClaims()))
	raw, err := noKid.SignedString(iss.Private)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), raw)
	require.ErrorIs(t, err, authn.ErrInvalidToken)
	assert.Contains(t, err.Error(), "no kid")
}

// The most privileged role names the caller in audit records, in whatever
// order the token lists its roles.
func TestPrimaryRoleIsTheMostPrivileged(t *testing.T) {
	for roles, want := range map[string]string{
		"PATIENT,DOCTOR,ADMIN": authn.RoleAdmin,
		"PATIENT,ADMIN":        authn.RoleAdmin,
		"PATIENT,DOCTOR":       authn.RoleDoctor,
		"DOCTOR,PATIENT":       authn.RoleDoctor,
		"PATIENT":              authn.RolePatient,
		"":                     "",
	} {
		p := authn.Principal{Roles: strings.Split(roles, ",")}
		assert.Equal(t, want, p.PrimaryRole(), roles)
	}
}

// Without roles, RequireRoles admits any authenticated caller and still
// refuses a request without one.
func TestRequireRolesWithoutRolesAdmitsAnyPrincipal(t *testing.T) {
	ep := authn.RequireRoles()(func(context.Context, any) (any, error) { return "ok", nil })
	_, err := ep(context.Background(), nil)
	assert.Equal(t, http.StatusUnauthorized, problem.From(err).Status)
	for _, role := range []string{authn.RolePatient, authn.RoleDoctor, authn.RoleAdmin} {
		ctx := authn.NewContext(context.Background(), authn.Principal{UserID: "u", Roles: []string{role}})
		out, err := ep(ctx, nil)
		require.NoError(t, err, role)
		assert.Equal(t, "ok", out)
		p, err := authn.Require(ctx)
		require.NoError(t, err, role)
		assert.Equal(t, "u", p.UserID)
	}
}

// A token is checked against the revocations on its first presentation, not
// only once cached: a session ended before its token reaches this verifier,
// and a password changed after the token was issued, refuse it at once; a
// token issued after the change passes.
func TestRevokedTokenIsRefusedTheFirstTimeItIsPresented(t *testing.T) {
	iss := authntest.NewIssuer(t)
	change := time.Now().Truncate(time.Second)
	list := authn.NewRevocationList(nil)
	list.Add(
		authn.Revocation{SessionID: "ended", NotBefore: change, ExpiresAt: change.Add(15 * time.Minute)},
		authn.Revocation{UserID: "u-changed", NotBefore: change, ExpiresAt: change.Add(15 * time.Minute)},
	)
	for _, cacheSize := range []int{0, -1} {
		v := authn.NewVerifier(keysOf(iss), authn.Config{Revocations: list, CacheSize: cacheSize})
		_, err := v.Verify(context.Background(), signMap(t, iss, func(m map[string]any) { m["sid"] = "ended" }))
		assert.ErrorIs(t, err, authn.ErrRevoked, "cache size %d", cacheSize)
		_, err = v.Verify(context.Background(), signMap(t, iss, func(m map[string]any) { m["sid"] = "live" }))
		assert.NoError(t, err, "another session, cache size %d", cacheSize)

		before := iss.Token(t, authntest.Claims{UserID: "u-changed", IssuedAt: change.Add(-time.Minute), ExpiresAt: change.Add(10 * time.Minute)})
		_, err = v.Verify(context.Background(), before)
		assert.ErrorIs(t, err, authn.ErrRevoked, "issued before the change, cache size %d", cacheSize)
		after := iss.Token(t, authntest.Claims{UserID: "u-changed", IssuedAt: change, ExpiresAt: change.Add(10 * time.Minute)})
		p, err := v.Verify(context.Background(), after)
		require.NoError(t, err, "issued at the change, cache size %d", cacheSize)
		assert.Equal(t, change, p.IssuedAt.Truncate(time.Second))
	}
}

// A key republished under another kid is a change of the key set: a token
// cached under the old kid is verified again, and refused, as its kid no
// longer names a key.
func TestKeyRepublishedUnderAnotherKidIsAChange(t *testing.T) {
	iss, src, v, tok := verifiedOnce(t)
	ctx := context.Background()
	changes := authn.KeySetChanges(v)

	src.body.Store(jwksOf(t, map[string]ed25519.PublicKey{"renamed-" + iss.KID: iss.Public}))
	unknown := authntest.NewIssuer(t).Token(t, authntest.Claims{})
	require.Eventually(t, func() bool { _, _ = v.Verify(ctx, unknown); return authn.KeySetChanges(v) > changes },
		5*time.Second, 5*time.Millisecond, "the renamed kid went unnoticed")
	_, err := v.Verify(ctx, tok)
	require.ErrorIs(t, err, authn.ErrInvalidToken, "its kid names no key any more")
}
