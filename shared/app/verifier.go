package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/discovery"
	"github.com/medisync/medisync/shared/requestid"
	"github.com/medisync/medisync/shared/server"
)

// trustedService is the service whose instances are used only when the
// discovery server authenticated their registration with the service's own
// token: auth signs the tokens, publishes the keys and the revocations, and
// receives the passwords (docs/adr/0011-authenticated-registrations.md).
const trustedService = "auth"

// RevocationWait is how long one request to the revocation feed may be held
// open by auth.
const RevocationWait = 30 * time.Second

// trustSettings are the flags about whom a verifier trusts.
type trustSettings struct {
	// insecureTrustRegistry uses auth instances the registry did not
	// authenticate (development with an open registry only).
	insecureTrustRegistry bool
	// revocationsURL is auth's revocation feed; empty derives it.
	revocationsURL string
}

func (t *trustSettings) register(fs *flag.FlagSet) {
	fs.BoolVar(&t.insecureTrustRegistry, "insecure-trust-registry", false,
		"INSECURE: use auth instances that discovery did not authenticate with auth's own token (development with an open registry only)")
	fs.StringVar(&t.revocationsURL, "revocations-url", "",
		"auth's revocation feed; empty means next to -jwks-url, or http://auth/internal/revocations through discovery")
}

// discoveryOptions are the discovery client's options for this process.
func (a *App) discoveryOptions() []discovery.Option {
	if a.trust.insecureTrustRegistry {
		_ = level.Warn(a.Logger).Log("msg", "INSECURE: -insecure-trust-registry is set: any instance registered as auth is trusted with logins and signing keys; development only")
		return nil
	}
	return []discovery.Option{discovery.WithAuthenticated(trustedService)}
}

// Verifier returns the token verifier of the service: the auth JWKS at
// -jwks-url, or at http://auth/.well-known/jwks.json resolved through
// discovery among the auth instances discovery authenticated. Keys are
// cached and refreshed until the App closes. It also follows auth's
// revocation feed, so a logout withdraws a token here within moments, and
// adds a readiness check that fails, saying why, until the JWKS is first
// fetched.
func (a *App) Verifier(ctx context.Context) (authn.Verifier, error) {
	jwksURL := a.Config.JWKSURL
	if jwksURL == "" {
		if a.Discovery == nil {
			return nil, errors.New("token verification needs -jwks-url or a discovery URL")
		}
		jwksURL = "http://auth/.well-known/jwks.json"
	}
	feedURL, err := a.revocationsURL()
	if err != nil {
		return nil, err
	}
	// Keys and revocations are followed until the process closes, not
	// until the signal that begins shutdown: requests still draining are
	// checked against the revocations of their moment.
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.following = append(a.following, stop)
	revoked := authn.NewRevocationList(nil)
	v, err := authn.NewJWKSVerifier(ctx, authn.JWKSOptions{
		URL:    jwksURL,
		Client: a.HTTPClient,
		OnError: func(err error) {
			_ = level.Warn(a.Logger).Log("msg", "JWKS refresh failed", "err", err)
		},
	}, authn.Config{Revocations: revoked})
	if err != nil {
		return nil, err
	}
	a.Health.Add("jwks", v.Ready)
	go revoked.Follow(ctx, authn.FollowOptions{
		URL:     feedURL,
		Client:  a.feedClient(),
		Wait:    RevocationWait,
		OnError: everyMinute(a.Logger, "revocation feed unreachable; revocations already known still apply"),
	})
	return v, nil
}

// revocationsURL is -revocations-url, else the feed of the auth whose JWKS
// -jwks-url pins, else auth's feed through discovery.
func (a *App) revocationsURL() (string, error) {
	if a.trust.revocationsURL != "" {
		return a.trust.revocationsURL, nil
	}
	if a.Config.JWKSURL != "" {
		u, err := url.Parse(a.Config.JWKSURL)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("jwks-url %q is not a URL", a.Config.JWKSURL)
		}
		return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/internal/revocations"}).String(), nil
	}
	return "http://auth/internal/revocations", nil
}

// feedClient holds a blocking request for longer than the wait: its
// transport has no response-header timeout, and its own deadline is the
// wait plus a margin.
func (a *App) feedClient() *http.Client {
	t := server.NewTransport()
	t.ResponseHeaderTimeout = 0
	var rt http.RoundTripper = requestid.Transport{Base: t}
	if a.Discovery != nil {
		rt = a.Discovery.Transport(rt)
	}
	return &http.Client{Transport: rt, Timeout: RevocationWait + 15*time.Second}
}

// everyMinute logs msg with the error at most once a minute, so that an
// unreachable feed, retried every second, does not flood the log.
func everyMinute(logger log.Logger, msg string) func(error) {
	var last atomic.Int64
	return func(err error) {
		now := time.Now().UnixNano()
		prev := last.Load()
		if prev != 0 && now-prev < int64(time.Minute) {
			return
		}
		if last.CompareAndSwap(prev, now) {
			_ = level.Warn(logger).Log("msg", msg, "err", err)
		}
	}
}
