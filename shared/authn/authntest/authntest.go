// Package authntest mints access tokens for tests of services that verify
// them with authn: an Ed25519 key, its JWKS served on 127.0.0.1, and tokens
// with the claims the auth service issues.
package authntest

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/loadkit"
)

// Claims describe a token to mint; see loadkit.Claims for the defaults.
type Claims = loadkit.Claims

// Issuer signs tokens with one Ed25519 key and serves its JWKS. Its KID,
// Private and Public key and Sign come from the minter it embeds.
type Issuer struct {
	loadkit.Minter
	jwksURL string
}

// NewIssuer returns an issuer whose JWKS server stops when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	m, err := loadkit.NewMinter()
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{Minter: *m}
	url, stop, err := iss.ServeJWKS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	iss.jwksURL = url
	return iss
}

// JWKS returns the public JWK Set document of the issuer.
func (i *Issuer) JWKS(t testing.TB) []byte {
	t.Helper()
	raw, err := i.Minter.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// JWKSURL is where the issuer's JWKS is served.
func (i *Issuer) JWKSURL() string { return i.jwksURL }

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
		t.Fatal(err)
	}
	return tok
}
