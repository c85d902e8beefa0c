package loadkit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
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

// Minter signs access tokens as the auth service does, with one Ed25519
// key whose JWKS it can serve, so that a service trusts its tokens.
type Minter struct {
	KID     string
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// NewMinter returns a minter with a fresh key.
func NewMinter() (*Minter, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &Minter{KID: "kid-" + uuid.NewString()[:8], Private: priv, Public: pub}, nil
}

// JWKS returns the public JWK Set document of the minter's key.
func (m *Minter) JWKS() ([]byte, error) {
	jwk, err := jwkset.NewJWKFromKey(m.Public, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: m.KID, ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	store := jwkset.NewMemoryStorage()
	if err := store.KeyWrite(context.Background(), jwk); err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	raw, err := store.JSONPublic(context.Background())
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return raw, nil
}

// ServeJWKS serves the JWKS on a free 127.0.0.1 port until stop is called,
// and returns its URL.
func (m *Minter) ServeJWKS() (url string, stop func(), err error) {
	raw, err := m.JWKS()
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("jwks listener: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/.well-known/jwks.json", func() { _ = srv.Close() }, nil
}

// Sign mints a signed access token.
func (m *Minter) Sign(c Claims) (string, error) {
	now := time.Now()
	if c.UserID == "" {
		c.UserID = ids.New()
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
	if life := c.ExpiresAt.Sub(c.IssuedAt); life > authn.DefaultMaxLifetime {
		// Every verifier would refuse it, and a run would see only 401s.
		return "", fmt.Errorf("sign token: lifetime %s exceeds the %s a verifier accepts", life, authn.DefaultMaxLifetime)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, authn.Claims{
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
	})
	tok.Header["kid"] = m.KID
	s, err := tok.SignedString(m.Private)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}
