package app_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/discovery"
	"github.com/medisync/medisync/shared/logging/logtest"
)

// fakeAuth serves an issuer's JWKS and a revocation feed that holds each
// request until a revocation is published or the wait ends.
type fakeAuth struct {
	iss     *authntest.Issuer
	srv     *httptest.Server
	jwksOff atomic.Bool
	feedHit atomic.Int64

	mu      sync.Mutex
	entries []authn.Revocation
	changed chan struct{}
}

func newFakeAuth(t *testing.T) *fakeAuth {
	f := &fakeAuth{iss: authntest.NewIssuer(t), changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		if f.jwksOff.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.iss.JWKS(t))
	})
	mux.HandleFunc("/internal/revocations", func(w http.ResponseWriter, r *http.Request) {
		f.feedHit.Add(1)
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
		f.mu.Lock()
		n, ch := len(f.entries), f.changed
		f.mu.Unlock()
		if uint64(n) <= after {
			select {
			case <-ch:
			case <-time.After(wait):
			case <-r.Context().Done():
				return
			}
		}
		f.mu.Lock()
		page := authn.RevocationPage{Index: uint64(len(f.entries)), Revocations: append([]authn.Revocation{}, f.entries[min(after, uint64(len(f.entries))):]...)}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(page)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAuth) revoke(r authn.Revocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, r)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAuth) hostport() (string, int) {
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(f.srv.URL, "http://"))
	p, _ := strconv.Atoi(port)
	return host, p
}

func newApp(t *testing.T, env map[string]string) (*app.App, *logtest.Buffer) {
	t.Helper()
	logs := &logtest.Buffer{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := app.New(context.Background(), app.Options{Name: "widget", DefaultAddr: ":0"}, nil, lookup, logs)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a, logs
}

func ready(a *app.App) (int, string) {
	rec := httptest.NewRecorder()
	a.Health.Ready().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/ready", nil))
	return rec.Code, rec.Body.String()
}

func TestVerifierAppliesTheRevocationFeed(t *testing.T) {
	auth := newFakeAuth(t)
	a, _ := newApp(t, map[string]string{"MEDISYNC_JWKS_URL": auth.srv.URL + "/.well-known/jwks.json"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := a.Verifier(ctx)
	require.NoError(t, err)

	alice := auth.iss.Token(t, authntest.Claims{UserID: "alice"})
	bob := auth.iss.Token(t, authntest.Claims{UserID: "bob"})
	_, err = v.Verify(ctx, alice)
	require.NoError(t, err)
	// The follower is parked on the feed before the revocation is made.
	require.Eventually(t, func() bool { return auth.feedHit.Load() > 0 }, 10*time.Second, time.Millisecond)

	// Alice changed her password: every token she got before is withdrawn.
	auth.revoke(authn.Revocation{UserID: "alice", NotBefore: time.Now().Add(time.Minute), ExpiresAt: time.Now().Add(time.Hour)})
	require.Eventually(t, func() bool {
		_, err := v.Verify(ctx, alice)
		return err != nil
	}, 10*time.Second, 5*time.Millisecond, "the revoked token is refused")
	_, err = v.Verify(ctx, alice)
	assert.ErrorIs(t, err, authn.ErrRevoked)
	_, err = v.Verify(ctx, bob)
	assert.NoError(t, err, "other users' tokens still pass")
}

// The signal that begins shutdown does not stop the revocation feed:
// requests still draining are checked against the revocations of their
// moment, until the process closes.
func TestVerifierFollowsRevocationsUntilClose(t *testing.T) {
	auth := newFakeAuth(t)
	a, _ := newApp(t, map[string]string{"MEDISYNC_JWKS_URL": auth.srv.URL + "/.well-known/jwks.json"})
	signal, cancel := context.WithCancel(context.Background())
	v, err := a.Verifier(signal)
	require.NoError(t, err)
	ctx := context.Background()
	alice := auth.iss.Token(t, authntest.Claims{UserID: "alice"})
	_, err = v.Verify(ctx, alice)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return auth.feedHit.Load() > 0 }, 10*time.Second, time.Millisecond)

	cancel() // shutdown begins; requests drain
	auth.revoke(authn.Revocation{UserID: "alice", NotBefore: time.Now().Add(time.Minute), ExpiresAt: time.Now().Add(time.Hour)})
	require.Eventually(t, func() bool {
		_, err := v.Verify(ctx, alice)
		return err != nil
	}, 10*time.Second, 5*time.Millisecond, "a revocation made while requests drain is applied")

	require.NoError(t, a.Close())
	hits := auth.feedHit.Load()
	auth.revoke(authn.Revocation{UserID: "bob", NotBefore: time.Now().Add(time.Minute), ExpiresAt: time.Now().Add(time.Hour)})
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, hits, auth.feedHit.Load(), "the feed is no longer asked once the process closes")
}

func TestReadinessFollowsTheJWKS(t *testing.T) {
	auth := newFakeAuth(t)
	auth.jwksOff.Store(true)
	a, _ := newApp(t, map[string]string{"MEDISYNC_JWKS_URL": auth.srv.URL + "/.well-known/jwks.json"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := a.Verifier(ctx)
	require.NoError(t, err)

	code, body := ready(a)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, `"jwks":"DOWN"`, "the answer says why")

	// Auth answers again: readiness recovers without a restart.
	auth.jwksOff.Store(false)
	require.Eventually(t, func() bool { code, _ := ready(a); return code == http.StatusOK }, 10*time.Second, 10*time.Millisecond)
}

// registryOf is a discovery stand-in listing one auth instance at addr,
// with the metadata given.
func registryOf(t *testing.T, host string, port int, md map[string]string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusOK)
			return
		}
		if r.URL.Query().Get("index") != "" {
			<-r.Context().Done()
			return
		}
		v := discovery.ServiceView{Service: "auth", Index: 2}
		if strings.HasSuffix(r.URL.Path, "/auth") {
			v.Instances = []discovery.Instance{{ID: "auth-1", Address: host, Port: port, Status: discovery.StatusUp, Metadata: md}}
		}
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestVerifierTrustsOnlyAnAuthenticatedAuth(t *testing.T) {
	auth := newFakeAuth(t)
	host, port := auth.hostport()
	token := auth.iss.Token(t, authntest.Claims{UserID: "mallory", Roles: []string{authn.RoleAdmin}})

	for _, c := range []struct {
		name  string
		md    map[string]string
		env   map[string]string
		trust bool
	}{
		{name: "registered with the shared token", md: map[string]string{"version": "v1"}},
		{name: "claiming authentication itself", md: map[string]string{discovery.MetaAuthenticated: "yes"}},
		{name: "authenticated by discovery", md: map[string]string{discovery.MetaAuthenticated: "true"}, trust: true},
		{name: "insecure flag", md: nil, env: map[string]string{"MEDISYNC_INSECURE_TRUST_REGISTRY": "true"}, trust: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"MEDISYNC_DISCOVERY_URLS": registryOf(t, host, port, c.md)}
			for k, v := range c.env {
				env[k] = v
			}
			a, logs := newApp(t, env)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			v, err := a.Verifier(ctx)
			require.NoError(t, err)
			_, err = v.Verify(ctx, token)
			code, _ := ready(a)
			if c.trust {
				assert.NoError(t, err)
				assert.Equal(t, http.StatusOK, code)
			} else {
				assert.Error(t, err, "a token signed by an unauthenticated instance's key is refused")
				assert.Equal(t, http.StatusServiceUnavailable, code)
			}
			if c.env != nil {
				assert.Contains(t, logs.String(), "INSECURE")
			}
		})
	}
}

func TestRevocationFeedErrorsAreLoggedRarely(t *testing.T) {
	auth := newFakeAuth(t)
	a, logs := newApp(t, map[string]string{
		"MEDISYNC_JWKS_URL":        auth.srv.URL + "/.well-known/jwks.json",
		"MEDISYNC_REVOCATIONS_URL": auth.srv.URL + "/nowhere",
	})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := a.Verifier(ctx)
	require.NoError(t, err)
	const line = "revocation feed unreachable"
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), line) }, 10*time.Second, 10*time.Millisecond)
	// The feed is retried every second; the retries log nothing more.
	time.Sleep(1500 * time.Millisecond)
	cancel()
	assert.Equal(t, 1, strings.Count(logs.String(), line))
}
