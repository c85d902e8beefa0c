// Package authntest mints access tokens for tests of services that verify
// them with authn: an Ed25519 key, its JWKS served on 127.0.0.1, and tokens
// with the claims the auth service issues.
package authntest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/medisync/medisync/shared/authn"
)

// Claims describe a token to mint. Zero fields get sensible defaults: a new
// user ID, the PATIENT role, the default issuer and audience, issued now and
// valid for 15 minutes.
type Claims struct {
	UserID    string
	Email     string
	Roles     []string
	Issuer    string
	Audience  string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
}

// Issuer signs tokens with one Ed25519 key and serves its JWKS.
type Issuer struct {
	KID     string
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
	server  *httptest.Server
}

// NewIssuer returns an issuer whose JWKS server stops when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	iss := &Issuer{KID: "test-" + uuid.NewString()[:8], Private: priv, Public: pub}
	jwks := iss.JWKS(t)
	iss.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(iss.server.Close)
	return iss
}

// JWKS returns the public JWK Set document of the issuer.
func (i *Issuer) JWKS(t testing.TB) []byte {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(i.Public, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: i.KID, ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig},
	})
	if err != nil {
		t.Fatalf("jwk: %v", err)
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		t.Fatalf("jwk write: %v", err)
	}
	raw, err := store.JSONPublic(context.Background())
	if err != nil {
		t.Fatalf("jwks json: %v", err)
	}
	return raw
}

// JWKSURL is where the issuer's JWKS is served.
func (i *Issuer) JWKSURL() string { return i.server.URL + "/.well-known/jwks.json" }

// Verifier returns a verifier trusting this issuer's key, without HTTP.
func (i *Issuer) Verifier() *authn.JWTVerifier {
	return authn.NewVerifier(func(context.Context) jwt.Keyfunc {
		return func(t *jwt.Token) (any, error) {
			if kid, _ := t.Header["kid"].(string); kid != i.KID {
				return nil, jwt.ErrTokenUnverifiable
			}
			return i.Public, nil
		}
	}, authn.Config{})
}

// Token mints a signed access token.
func (i *Issuer) Token(t testing.TB, c Claims) string {
	t.Helper()
	tok, err := i.Sign(c)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return tok
}

// Sign mints a signed access token, for benchmarks and helpers without a T.
func (i *Issuer) Sign(c Claims) (string, error) {
	now := time.Now()
	if c.UserID == "" {
		c.UserID = uuid.Must(uuid.NewV7()).String()
	}
	if len(c.Roles) == 0 {
		c.Roles = []string{authn.RolePatient}
	}
	if c.Issuer == "" {
		c.Issuer = authn.DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = authn.DefaultAudience
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(15 * time.Minute)
	}
	claims := authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    c.Issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{c.Audience},
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			NotBefore: jwt.NewNumericDate(c.NotBefore),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			ID:        uuid.NewString(),
		},
		Roles: c.Roles,
		Email: c.Email,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = i.KID
	return tok.SignedString(i.Private)
}
