package signing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/ids"
)

// Repository stores signing keys. Its adapters live in adapter/sqlstore.
type Repository interface {
	// Published returns every key not retired, or retired after t.
	Published(ctx context.Context, retiredAfter time.Time) ([]Record, error)
	// Insert stores a key as it is.
	Insert(ctx context.Context, r Record) error
	// Rotate retires every unretired key at next.ActivatesAt and stores
	// next, in one transaction.
	Rotate(ctx context.Context, next Record) error
	// Prune deletes the keys retired before t.
	Prune(ctx context.Context, retiredBefore time.Time) (int64, error)
}

// ErrNoKey means no key can sign at the moment.
var ErrNoKey = errors.New("no active signing key")

// Options configure a Ring.
type Options struct {
	// Issuer and Audience go into every token.
	Issuer, Audience string
	// Retention is how long a retired key stays published: at least the
	// access-token lifetime plus the key reload interval and a margin, so
	// every token it signed still verifies until it expires.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sealer protects private keys at rest; nil stores them unsealed.
	Sealer *Sealer
}

// Ring is the set of keys a service signs and publishes with. It reads the
// repository on Load; Run reloads it periodically so that a rotation made by
// another process (the rotate-key command) is picked up.
type Ring struct {
	repo Repository
	opt  Options
	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serializes Load, EnsureKey and Rotate of this process
	// onChange is called after a load that changed the published keys.
	onChange atomic.Pointer[func()]
}

type snapshot struct {
	keys  []Key // newest activation first
	byKID map[string]Key
	jwks  []byte
}

// NewRing returns a ring over repo; call EnsureKey (or Load) before use.
func NewRing(repo Repository, o Options) *Ring {
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Ring{repo: repo, opt: o}
	r.snap.Store(&snapshot{byKID: map[string]Key{}, jwks: []byte(`{"keys":[]}`)})
	return r
}

// Load reads the published keys from the repository.
func (r *Ring) Load(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load(ctx)
}

func (r *Ring) load(ctx context.Context) error {
	now := r.opt.Now().UTC()
	recs, err := r.repo.Published(ctx, now.Add(-r.opt.Retention))
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	s := &snapshot{byKID: make(map[string]Key, len(recs))}
	for _, rec := range recs {
		k, err := r.opt.Sealer.Open(rec)
		if err != nil {
			return err
		}
		s.keys = append(s.keys, k)
		s.byKID[k.KID] = k
	}
	slices.SortFunc(s.keys, func(a, b Key) int {
		if c := b.ActivatesAt.Compare(a.ActivatesAt); c != 0 {
			return c
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	if s.jwks, err = publicJWKS(s.keys); err != nil {
		return err
	}
	old := r.snap.Swap(s)
	if f := r.onChange.Load(); f != nil && !bytes.Equal(old.jwks, s.jwks) {
		(*f)()
	}
	return nil
}

// OnChange has f called after each load that changes the published keys
// (a rotation, a key retired past the retention), once the ring holds the
// new ones: a verifier of the ring's tokens then checks the tokens it
// cached again, so that a withdrawn key's tokens stop passing at once.
func (r *Ring) OnChange(f func()) { r.onChange.Store(&f) }

// EnsureKey makes the first key when none can sign; it reports whether it
// made one.
func (r *Ring) EnsureKey(ctx context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.load(ctx); err != nil {
		return false, err
	}
	if _, err := r.current(); err == nil {
		return false, nil
	}
	now := r.opt.Now().UTC()
	k, err := Generate(now, now)
	if err != nil {
		return false, err
	}
	rec, err := r.opt.Sealer.Seal(k)
	if err != nil {
		return false, err
	}
	if err := r.repo.Rotate(ctx, rec); err != nil {
		return false, fmt.Errorf("store the first signing key: %w", err)
	}
	return true, r.load(ctx)
}

// Rotate makes a new key that signs from now+activateIn on; the keys before
// it retire then and stay published for the retention period.
func (r *Ring) Rotate(ctx context.Context, activateIn time.Duration) (Key, error) {
	if activateIn < 0 {
		// A past activation would backdate the old keys' retirement, and
		// they could leave the JWKS while tokens they signed still live.
		return Key{}, errors.New("rotate signing key: the activation delay must not be negative")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opt.Now().UTC()
	k, err := Generate(now, now.Add(activateIn))
	if err != nil {
		return Key{}, err
	}
	rec, err := r.opt.Sealer.Seal(k)
	if err != nil {
		return Key{}, err
	}
	if err := r.repo.Rotate(ctx, rec); err != nil {
		return Key{}, fmt.Errorf("rotate signing key: %w", err)
	}
	return k, r.load(ctx)
}

// Prune deletes keys retired longer ago than the retention period; they no
// longer verify any unexpired token.
func (r *Ring) Prune(ctx context.Context) (int64, error) {
	n, err := r.repo.Prune(ctx, r.opt.Now().UTC().Add(-r.opt.Retention))
	if err != nil {
		return 0, fmt.Errorf("prune signing keys: %w", err)
	}
	return n, nil
}

// Run reloads the keys every interval until ctx ends, reporting failures to
// onErr; the last good set stays in use meanwhile.
func (r *Ring) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	clock.Every(ctx, interval, func() {
		if err := r.Load(ctx); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
	})
}

func (r *Ring) current() (Key, error) {
	now := r.opt.Now()
	for _, k := range r.snap.Load().keys {
		if k.SigningAt(now) {
			return k, nil
		}
	}
	return Key{}, ErrNoKey
}

// SigningKeyAge returns how long ago the key that signs now was created,
// false when no key signs: what tells that a rotation is overdue.
func (r *Ring) SigningKeyAge() (time.Duration, bool) {
	k, err := r.current()
	if err != nil {
		return 0, false
	}
	return r.opt.Now().Sub(k.CreatedAt), true
}

// CurrentKID returns the kid that signs now.
func (r *Ring) CurrentKID() (string, error) {
	k, err := r.current()
	return k.KID, err
}

// PublishedKIDs lists the kids of the published keys, newest first.
func (r *Ring) PublishedKIDs() []string {
	var out []string
	for _, k := range r.snap.Load().keys {
		out = append(out, k.KID)
	}
	return out
}

// JWKS returns the JSON Web Key Set of the published public keys.
func (r *Ring) JWKS() []byte { return r.snap.Load().jwks }

// PublicKey returns the published key with kid.
func (r *Ring) PublicKey(kid string) (ed25519.PublicKey, bool) {
	k, ok := r.snap.Load().byKID[kid]
	return k.Public, ok
}

// Keyfunc resolves a token's kid to a published public key, for verifying
// tokens with golang-jwt.
func (r *Ring) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token has no kid")
	}
	pub, ok := r.PublicKey(kid)
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return pub, nil
}

// publicJWKS builds the JWKS from the public halves only, so private
// material cannot reach the document.
func publicJWKS(keys []Key) ([]byte, error) {
	set := jwkset.JWKSMarshal{Keys: make([]jwkset.JWKMarshal, 0, len(keys))}
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.Public, jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgEdDSA, KID: k.KID, USE: jwkset.UseSig},
		})
		if err != nil {
			return nil, fmt.Errorf("JWK for %s: %w", k.KID, err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	return b, nil
}

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles"`
	Email string   `json:"email"`
	// SessionID is the sign-in session (refresh-token family): a logout
	// revokes the tokens that carry it (authn.Claims.SessionID).
	SessionID string `json:"sid,omitempty"`
}

// Access describes the access token to issue.
type Access struct {
	UserID    string
	Email     string
	Roles     []string
	SessionID string
	IssuedAt  time.Time
	TTL       time.Duration
}

// Issue signs an access token with the current key and returns it with its
// expiry.
func (r *Ring) Issue(a Access) (string, time.Time, error) {
	k, err := r.current()
	if err != nil {
		return "", time.Time{}, err
	}
	iat := a.IssuedAt.UTC().Truncate(time.Second)
	exp := iat.Add(a.TTL)
	jti := ids.New()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    r.opt.Issuer,
			Subject:   a.UserID,
			Audience:  jwt.ClaimStrings{r.opt.Audience},
			IssuedAt:  jwt.NewNumericDate(iat),
			NotBefore: jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        jti,
		},
		Roles:     append([]string{}, a.Roles...),
		Email:     a.Email,
		SessionID: a.SessionID,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = k.KID
	s, err := tok.SignedString(k.Private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, exp, nil
}
