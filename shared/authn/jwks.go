package authn

import (
	"context"
	"fmt"
	"net/http"
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
	noErr := true
	override := keyfunc.Override{
		Client:                    o.Client,
		HTTPTimeout:               5 * time.Second,
		NoErrorReturnFirstHTTPReq: &noErr,
		RefreshInterval:           o.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(o.UnknownKIDEvery), 1),
		// Waiting for the limiter fails at once rather than holding requests.
		RateLimitWaitMax: time.Millisecond,
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
	return NewVerifier(kf.KeyfuncCtx, cfg), nil
}
