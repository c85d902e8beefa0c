// Package authn verifies medisync access tokens (JWTs signed by the auth
// service and published in its JWKS) and carries the caller's identity
// through request contexts. The gateway and every service use it, so that no
// service trusts the edge alone.
package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The roles a medisync account can hold.
const (
	RoleAdmin   = "ADMIN"
	RoleDoctor  = "DOCTOR"
	RolePatient = "PATIENT"
)

// Defaults for the issuer and audience of access tokens.
const (
	DefaultIssuer   = "medisync-auth"
	DefaultAudience = "medisync"
)

// DefaultMaxTokenBytes bounds a raw token; a larger one is refused before it
// is parsed, so a 100 KB header costs nothing.
const DefaultMaxTokenBytes = 8 << 10

// DefaultMaxLifetime bounds a token's lifetime (exp - iat). auth issues
// access tokens of 15 minutes (-access-ttl) and the load generators tokens
// of their run plus an hour: a token said to live longer was not issued by
// auth, but signed by someone holding a key, and must not outlive that
// key's withdrawal by months.
const DefaultMaxLifetime = 12 * time.Hour

// Errors returned by Verify. Both mean 401; callers need not tell them apart
// to clients.
var (
	ErrNoToken      = errors.New("no bearer token")
	ErrInvalidToken = errors.New("invalid token")
)

// ValidRole reports whether r is one of the known roles.
func ValidRole(r string) bool {
	return r == RoleAdmin || r == RoleDoctor || r == RolePatient
}

// Principal is the authenticated caller.
type Principal struct {
	UserID    string
	Email     string
	Roles     []string
	TokenID   string
	SessionID string // the sign-in session (refresh family) the token belongs to
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Has reports whether p holds role.
func (p Principal) Has(role string) bool { return slices.Contains(p.Roles, role) }

// HasAny reports whether p holds at least one of roles.
func (p Principal) HasAny(roles ...string) bool {
	for _, r := range roles {
		if p.Has(r) {
			return true
		}
	}
	return false
}

// PrimaryRole returns the most privileged role of p, for audit records.
func (p Principal) PrimaryRole() string {
	for _, r := range []string{RoleAdmin, RoleDoctor, RolePatient} {
		if p.Has(r) {
			return r
		}
	}
	return ""
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

type tokenKey struct{}

// WithToken returns ctx carrying the caller's raw bearer token, which a
// service passes on when it calls another service on the caller's behalf.
func WithToken(ctx context.Context, raw string) context.Context {
	return context.WithValue(ctx, tokenKey{}, raw)
}

// TokenFrom returns the caller's raw bearer token in ctx, or "".
func TokenFrom(ctx context.Context) string {
	raw, _ := ctx.Value(tokenKey{}).(string)
	return raw
}

// Claims are the claims of a medisync access token.
type Claims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles"`
	Email string   `json:"email,omitempty"`
	// SessionID ("sid", OpenID Connect's name) ties the token to the sign-in
	// session whose logout revokes it.
	SessionID string `json:"sid,omitempty"`
}

// Verifier checks a raw access token and returns its principal.
type Verifier interface {
	Verify(ctx context.Context, rawToken string) (Principal, error)
}

// Config tunes a JWTVerifier. The zero value uses the defaults.
type Config struct {
	Issuer        string        // default DefaultIssuer
	Audience      string        // default DefaultAudience
	Leeway        time.Duration // clock skew allowed on exp, nbf and iat; default 30 s
	Algorithms    []string      // allow-list; default EdDSA and RS256
	MaxTokenBytes int           // default DefaultMaxTokenBytes
	// MaxLifetime refuses a token whose exp is further than this after its
	// iat, which is then required; default DefaultMaxLifetime.
	MaxLifetime time.Duration
	// CacheSize bounds the cache of verified tokens (default 10,000);
	// negative disables it. A cached token is trusted until its exp (so at
	// most MaxLifetime after its iat) while the key set it was verified
	// under is unchanged.
	CacheSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Revocations, when set, withdraws tokens before they expire (logout,
	// password change, disabled account); it is checked on every call,
	// cached tokens included.
	Revocations *RevocationList
}

func (c Config) withDefaults() Config {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.Leeway == 0 {
		c.Leeway = 30 * time.Second
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"EdDSA", "RS256"}
	}
	if c.MaxTokenBytes <= 0 {
		c.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// KeyfuncCtx returns the key for a token, possibly fetching it with ctx.
type KeyfuncCtx func(ctx context.Context) jwt.Keyfunc

// JWTVerifier verifies signed access tokens with keys from a key source.
type JWTVerifier struct {
	keys   KeyfuncCtx
	parser *jwt.Parser
	cfg    Config
	cache  *verifiedCache // nil when disabled
	health *fetchHealth   // nil when the keys are not fetched (tests)
	// keysGen counts the changes of the key set; a cached token verified
	// under an earlier count is verified again.
	keysGen *atomic.Uint64
}

// KeysChanged tells the verifier that its key source now holds other keys:
// the tokens it verified before are checked again when next presented, so
// that a withdrawn key's tokens stop passing at once. A JWKS verifier calls
// it itself whenever a fetch brings a different key set.
func (v *JWTVerifier) KeysChanged() { v.keysGen.Add(1) }

// Ready reports whether the verifier can check tokens: nil once its keys
// have been fetched, even while later fetches fail (the keys held verify);
// until then why not. It retries a failed first fetch, so a readiness probe
// sees auth come.
func (v *JWTVerifier) Ready(ctx context.Context) error {
	if v.health == nil {
		return nil
	}
	return v.health.check(ctx)
}

// NewVerifier returns a verifier using keys to find the verification key of a
// token by its kid.
func NewVerifier(keys KeyfuncCtx, cfg Config) *JWTVerifier {
	cfg = cfg.withDefaults()
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
	}
	opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	v := &JWTVerifier{keys: keys, parser: jwt.NewParser(opts...), cfg: cfg, keysGen: new(atomic.Uint64)}
	if cfg.CacheSize > 0 {
		v.cache = newVerifiedCache(cfg.CacheSize)
	}
	return v
}

// Verify checks the token's size, algorithm, kid, signature, issuer,
// audience, expiry, not-before, lifetime and subject, and returns its
// principal.
func (v *JWTVerifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrNoToken
	}
	if len(raw) > v.cfg.MaxTokenBytes {
		return Principal{}, fmt.Errorf("%w: token too large", ErrInvalidToken)
	}
	// Read before the key lookup: a token verified with a key that a
	// concurrent refresh withdraws is then cached under the old generation
	// and checked again.
	keysGen := v.keysGen.Load()
	if v.cache != nil {
		if p, ok := v.cache.get(raw, v.cfg.Now(), keysGen); ok {
			return v.checkRevoked(p)
		}
	}
	var claims Claims
	keyfunc := v.keys(ctx)
	lookupFailed := false
	tok, err := v.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		// Without a kid a key source may try every key; demand one.
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, errors.New("token has no kid")
		}
		// RFC 7515 4.1.11: a recipient must refuse critical extensions it
		// does not understand, and this verifier understands none.
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("token has critical header extensions")
		}
		key, err := keyfunc(t)
		lookupFailed = err != nil
		return key, err
	})
	if lookupFailed && v.health != nil && v.health.last() != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrKeysUnavailable, v.health.last())
	}
	if err != nil || !tok.Valid {
		return Principal{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if claims.IssuedAt == nil {
		return Principal{}, fmt.Errorf("%w: no iat", ErrInvalidToken)
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life > v.cfg.MaxLifetime {
		return Principal{}, fmt.Errorf("%w: lifetime %s exceeds %s", ErrInvalidToken, life, v.cfg.MaxLifetime)
	}
	if claims.Subject == "" {
		return Principal{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	if len(claims.Roles) == 0 {
		return Principal{}, fmt.Errorf("%w: no roles", ErrInvalidToken)
	}
	for _, r := range claims.Roles {
		if !ValidRole(r) {
			return Principal{}, fmt.Errorf("%w: unknown role", ErrInvalidToken)
		}
	}
	p := Principal{
		UserID: claims.Subject, Email: claims.Email, Roles: claims.Roles, TokenID: claims.ID, SessionID: claims.SessionID,
		IssuedAt: claims.IssuedAt.Time, ExpiresAt: claims.ExpiresAt.Time,
	}
	if v.cache != nil {
		v.cache.put(raw, p, v.cfg.Now(), keysGen)
	}
	return v.checkRevoked(p)
}

// ErrRevoked means the token was withdrawn before its expiry.
var ErrRevoked = fmt.Errorf("%w: revoked", ErrInvalidToken)

func (v *JWTVerifier) checkRevoked(p Principal) (Principal, error) {
	if v.cfg.Revocations != nil && v.cfg.Revocations.Revoked(p) {
		return Principal{}, ErrRevoked
	}
	return p, nil
}

// BearerToken extracts the token from an Authorization header value.
func BearerToken(header string) (string, bool) {
	const prefix = "bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(header[len(prefix):])
	return tok, tok != ""
}
