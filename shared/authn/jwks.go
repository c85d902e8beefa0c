package authn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

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
	health := &fetchHealth{url: o.URL, client: o.Client}
	health.set(errNotFetched)
	client := *o.Client
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = recordingTransport{base: base, h: health}
	health.client = &client
	noErr := true
	override := keyfunc.Override{
		Client:                    &client,
		HTTPTimeout:               5 * time.Second,
		NoErrorReturnFirstHTTPReq: &noErr,
		RefreshInterval:           o.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(o.UnknownKIDEvery), 1),
		// jwkset bounds both the wait for the limiter and the refresh itself
		// with this one deadline, so it must leave the fetch time to finish.
		// A request whose turn is further off than this fails at once
		// (rate.Limiter sees the deadline), so no request waits longer.
		RateLimitWaitMax: unknownKIDFetchTimeout,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				if o.OnError != nil {
					o.OnError(err)
				}
			}
		},
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{o.URL}, override)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", o.URL, err)
	}
	v := NewVerifier(kf.KeyfuncCtx, cfg)
	v.health = health
	return v, nil
}

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
	err     atomic.Pointer[error] // nil error when the last fetch succeeded
	fetched atomic.Bool
}

func (h *fetchHealth) set(err error) {
	h.err.Store(&err)
	if err == nil {
		h.fetched.Store(true)
	}
}

func (h *fetchHealth) last() error { return *h.err.Load() }

// check passes once a key set was fetched: the keys held verify tokens
// while auth is away (a token naming a key not held gets its own 503,
// ErrKeysUnavailable), and auth away must not take every instance of every
// service out of the rotation. Until then it fetches the JWKS when asked,
// so that readiness comes as soon as auth answers.
func (h *fetchHealth) check(ctx context.Context) error {
	if h.fetched.Load() {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return err
	}
	if resp, err := h.client.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
	}
	if err := h.last(); err != nil {
		return fmt.Errorf("jwks %s: %w", h.url, err)
	}
	return nil
}

// recordingTransport notes the outcome of every JWKS fetch.
type recordingTransport struct {
	base http.RoundTripper
	h    *fetchHealth
}

func (t recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	switch {
	case err != nil && errors.Is(r.Context().Err(), context.Canceled):
		// The caller went away: that says nothing about the JWKS.
	case err != nil:
		t.h.set(fmt.Errorf("fetch: %w", err))
	case resp.StatusCode != http.StatusOK:
		t.h.set(fmt.Errorf("fetch: status %d", resp.StatusCode))
	default:
		t.h.set(nil)
	}
	return resp, err
}
