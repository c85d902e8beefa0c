package authn

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"
)

// JWKSOptions configure NewJWKSVerifier.
type JWKSOptions struct {
	// URL of the JWKS document, for example http://auth/.well-known/jwks.json
	// with a client whose transport resolves "auth" through discovery.
	URL string
	// Client fetches the JWKS; it must have a timeout.
	Client *http.Client
	// RefreshInterval re-reads the JWKS in the background; default 5 min.
	RefreshInterval time.Duration
	// UnknownKIDEvery bounds refreshes triggered by tokens with an unknown
	// kid, so forged kids cannot flood the auth service; default 5 s.
	UnknownKIDEvery time.Duration
	// OnError hears background refresh failures (for logging).
	OnError func(err error)
}

// NewJWKSVerifier returns a verifier whose keys come from a JWKS URL, cached
// and refreshed periodically and whenever a token names an unknown kid. It
// does not fail when the JWKS is not reachable yet: services may start before
// auth. The background refresh stops when ctx ends.
func NewJWKSVerifier(ctx context.Context, o JWKSOptions, cfg Config) (*JWTVerifier, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("jwks: no URL")
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 5 * time.Minute
	}
	if o.UnknownKIDEvery <= 0 {
		o.UnknownKIDEvery = 5 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	// A fetch succeeds when its keys are stored, its answer read and parsed
	// in full: 200 headers followed by a body that never ends, or that is no
	// JWKS, are a failure like any other.
	health := &fetchHealth{url: o.URL, client: o.Client}
	health.set(errNotFetched)
	// The keys fetched are kept in a store that notices when a fetch brings
	// a different set, so that the verifier stops trusting the tokens it
	// cached under the keys withdrawn; hence the storage is assembled here
	// rather than by keyfunc.NewDefaultOverrideCtx, which offers no such hook.
	keys := &watchedKeys{Storage: jwkset.NewMemoryStorage(), gen: new(atomic.Uint64), health: health}
	health.keys = keys
	remote, err := jwkset.NewStorageFromHTTP(o.URL, jwkset.HTTPClientStorageOptions{
		Client:                    o.Client,
		Ctx:                       ctx,
		HTTPTimeout:               jwksFetchTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshInterval:           o.RefreshInterval,
		// Every failed fetch comes here: the first, the periodic ones and
		// those an unknown kid triggers.
		RefreshErrorHandler: func(_ context.Context, err error) {
			health.failed(err)
			if o.OnError != nil {
				o.OnError(err)
			}
		},
		Storage: keys,
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", o.URL, err)
	}
	storage, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{o.URL: remote},
		RefreshUnknownKID: rate.NewLimiter(rate.Every(o.UnknownKIDEvery), 1),
		// jwkset bounds both the wait for the limiter and the refresh itself
		// with this one deadline, so it must leave the fetch time to finish.
		// A request whose turn is further off than this fails at once
		// (rate.Limiter sees the deadline), so no request waits longer.
		RateLimitWaitMax: unknownKIDFetchTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", o.URL, err)
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage})
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", o.URL, err)
	}
	v := NewVerifier(kf.KeyfuncCtx, cfg)
	v.health = health
	v.keysGen = keys.gen
	return v, nil
}

// errNoKeys is a fetch whose answer held no usable key.
var errNoKeys = errors.New("the key set holds no usable key")

// watchedKeys holds the fetched keys and counts the fetches that changed
// them (a key added, withdrawn or replaced under its kid), the verifier's
// key-set generation. A fetch bringing the same keys changes nothing, so
// the periodic refresh and refreshes forced by unknown kids leave the
// verified-token cache alone.
type watchedKeys struct {
	jwkset.Storage
	mu     sync.Mutex // one replacement at a time, compared with the set it replaces
	gen    *atomic.Uint64
	health *fetchHealth // told of each fetch that ends here, its keys parsed
}

func (w *watchedKeys) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	// Any JSON object parses, into no keys: a proxy's {"error":...} or an
	// empty set is a failed fetch, never a reason to drop the keys held.
	if len(given) == 0 {
		return errNoKeys
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	held, err := w.Storage.KeyReadAll(ctx)
	if err != nil {
		return err
	}
	if err := w.Storage.KeyReplaceAll(ctx, given); err != nil {
		return err
	}
	if !sameKeys(held, given) {
		w.gen.Add(1)
	}
	w.health.set(nil)
	return nil
}

// sameKeys reports whether a and b hold the same keys under the same kids,
// in the same order (auth publishes them in a stable order; another order
// only costs a check of each cached token again).
func sameKeys(a, b []jwkset.JWK) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ma, mb := a[i].Marshal(), b[i].Marshal()
		if ma.KID != mb.KID || ma.ALG != mb.ALG || ma.USE != mb.USE {
			return false
		}
		ka, ok := publicOf(a[i].Key()).(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !ka.Equal(publicOf(b[i].Key())) {
			return false
		}
	}
	return true
}

// publicOf returns the public half of key, as keyfunc verifies with it.
func publicOf(key any) any {
	if k, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return k.Public()
	}
	return key
}

// jwksFetchTimeout bounds a fetch of the JWKS, whatever its context allows.
const jwksFetchTimeout = 5 * time.Second

// unknownKIDFetchTimeout bounds the refresh a token with an unknown kid
// triggers, waiting for the limiter included.
const unknownKIDFetchTimeout = 3 * time.Second

// ErrKeysUnavailable means a token names a key this verifier does not hold
// while the JWKS cannot be fetched: the token may well be valid, so the
// answer is 503, not 401 (which would send clients to log in again in a loop).
var ErrKeysUnavailable = errors.New("the signing keys cannot be fetched")

var errNotFetched = errors.New("the JWKS has not been fetched yet")

// fetchHealth records whether the last fetch of the JWKS succeeded, and
// whether one ever did.
type fetchHealth struct {
	url     string
	client  *http.Client
	keys    jwkset.Storage        // where a fetch stores the keys it parsed
	err     atomic.Pointer[error] // nil error when the last fetch succeeded
	fetched atomic.Bool
}

func (h *fetchHealth) set(err error) {
	h.err.Store(&err)
	if err == nil {
		h.fetched.Store(true)
	}
}

// failed records a failed fetch, unless its caller went away: that says
// nothing about the JWKS.
func (h *fetchHealth) failed(err error) {
	if !errors.Is(err, context.Canceled) {
		h.set(fmt.Errorf("fetch: %w", err))
	}
}

func (h *fetchHealth) last() error { return *h.err.Load() }

// check passes once a key set was fetched: the keys held verify tokens
// while auth is away (a token naming a key not held gets its own 503,
// ErrKeysUnavailable), and auth away must not take every instance of every
// service out of the rotation. Until then it fetches the JWKS when asked,
// within ctx, storing the keys, so that readiness comes as soon as auth
// answers.
func (h *fetchHealth) check(ctx context.Context) error {
	if h.fetched.Load() {
		return nil
	}
	// A storage with no refresh interval fetches once, into the keys held.
	if _, err := jwkset.NewStorageFromHTTP(h.url, jwkset.HTTPClientStorageOptions{
		Client: h.client, Ctx: ctx, HTTPTimeout: jwksFetchTimeout, Storage: h.keys,
	}); err != nil {
		h.failed(err)
		return fmt.Errorf("jwks %s: %w", h.url, err)
	}
	return nil
}
