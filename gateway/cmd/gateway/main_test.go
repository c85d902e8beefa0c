package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/discovery"
	"github.com/medisync/medisync/shared/runtest"
)

// registry is a small stand-in for the discovery server: it answers the
// reads the gateway makes (including blocking queries) and records writes.
type registry struct {
	mu       sync.Mutex
	index    uint64
	services map[string][]discovery.Instance
	changed  chan struct{}
	writes   []string
	down     atomic.Bool // answers every request 503, as a discovery away
}

func newRegistry(t *testing.T) (*registry, *httptest.Server) {
	r := &registry{services: map[string][]discovery.Instance{}, changed: make(chan struct{}), index: 1}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *registry) set(service string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var in []discovery.Instance
	for i, a := range addrs {
		// As a server with per-service tokens would, the stand-in marks an
		// instance authenticated, unless its address says "rogue:" (one
		// registered with the shared token only).
		md := map[string]string{discovery.MetaAuthenticated: "true"}
		if rest, ok := strings.CutPrefix(a, "rogue:"); ok {
			a, md = rest, nil
		}
		host, port, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(port)
		in = append(in, discovery.Instance{ID: service + "-" + strconv.Itoa(i), Address: host, Port: p, Status: discovery.StatusUp, Metadata: md})
	}
	r.services[service] = in
	r.index++
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *registry) wrote(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.writes {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}

func (r *registry) serve(w http.ResponseWriter, req *http.Request) {
	if r.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if req.Method != http.MethodGet {
		r.mu.Lock()
		r.writes = append(r.writes, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "{}")
		return
	}
	if req.URL.Path == "/api/v1/registry" {
		r.mu.Lock()
		defer r.mu.Unlock()
		_ = json.NewEncoder(w).Encode(discovery.RegistryView{Index: r.index})
		return
	}
	service := strings.TrimPrefix(req.URL.Path, "/api/v1/registry/")
	if q := req.URL.Query().Get("index"); q != "" {
		after, _ := strconv.ParseUint(q, 10, 64)
		r.mu.Lock()
		idx, ch := r.index, r.changed
		r.mu.Unlock()
		if idx <= after {
			select {
			case <-ch:
			case <-time.After(2 * time.Second):
			case <-req.Context().Done():
				return
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = json.NewEncoder(w).Encode(discovery.ServiceView{Service: service, Index: r.index, Instances: r.services[service]})
}

// instance is an upstream that names itself in its answers.
func instance(t *testing.T, name string, jwks []byte) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/jwks.json" && jwks != nil {
			_, _ = w.Write(jwks)
			return
		}
		if r.URL.Path == "/internal/revocations" && jwks != nil {
			// Auth's revocation feed with nothing to report: hold the
			// request for its wait, as auth does.
			wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
			select {
			case <-time.After(wait):
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, `{"index":0,"revocations":[]}`)
			return
		}
		hits.Add(1)
		w.Header().Set("X-Served-By", name)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func hostport(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// start runs the gateway until the test ends and waits until it is ready;
// it returns the public and the internal (metrics) base URLs.
func start(t *testing.T, args []string, env map[string]string) (string, string) {
	t.Helper()
	internal := runtest.FreeAddr(t)
	svc := runtest.Start(t, func(ctx context.Context, args []string) error {
		return run(ctx, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	}, append([]string{"-metrics-addr", internal, "-log-level", "warn"}, args...)...)
	t.Cleanup(func() { svc.Stop(t) })
	return svc.URL, "http://" + internal
}

func get(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestGatewayFollowsDiscovery(t *testing.T) {
	iss := authntest.NewIssuer(t)
	reg, regSrv := newRegistry(t)
	auth, authHits := instance(t, "auth", iss.JWKS(t))
	rogueIss := authntest.NewIssuer(t)
	rogue, rogueHits := instance(t, "rogue", rogueIss.JWKS(t))
	a, aHits := instance(t, "patient-a", nil)
	b, bHits := instance(t, "patient-b", nil)
	reg.set("auth", hostport(auth), "rogue:"+hostport(rogue))
	reg.set("patient", hostport(a))

	// The JWKS is fetched from http://auth/... through discovery.
	base, internal := start(t, nil, map[string]string{"MEDISYNC_DISCOVERY_URLS": regSrv.URL, "MEDISYNC_RATE_LIMIT_RPS": "0"})
	tok := iss.Token(t, authntest.Claims{UserID: "u1"})

	// An auth instance discovery did not authenticate gets no login, and
	// its key signs nothing the gateway accepts.
	for range 4 {
		req, err := http.NewRequest(http.MethodPost, base+"/api/v1/auth/login", strings.NewReader(`{}`))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "auth", resp.Header.Get("X-Served-By"))
	}
	assert.EqualValues(t, 4, authHits.Load())
	assert.Zero(t, rogueHits.Load(), "the rogue saw no login")
	resp := get(t, base+"/api/v1/patients/1", rogueIss.Token(t, authntest.Claims{UserID: "u1", Roles: []string{"ADMIN"}}))
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp = get(t, base+"/api/v1/patients/1", tok)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "patient-a", resp.Header.Get("X-Served-By"))
	assert.EqualValues(t, 1, aHits.Load())

	resp = get(t, base+"/api/v1/patients/1", iss.Token(t, authntest.Claims{ExpiresAt: time.Now().Add(-time.Minute), IssuedAt: time.Now().Add(-time.Hour)}))
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp = get(t, base+"/api/v1/patients/1", authntest.NewIssuer(t).Token(t, authntest.Claims{}))
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.EqualValues(t, 1, aHits.Load(), "refused tokens reach no service")

	// A new instance gets traffic as soon as discovery says so.
	reg.set("patient", hostport(a), hostport(b))
	require.Eventually(t, func() bool {
		return get(t, base+"/api/v1/patients/1", tok).Header.Get("X-Served-By") == "patient-b"
	}, 5*time.Second, 5*time.Millisecond)

	// A removed one gets none.
	reg.set("patient", hostport(b))
	require.Eventually(t, func() bool {
		before := aHits.Load()
		for range 4 {
			get(t, base+"/api/v1/patients/1", tok)
		}
		return aHits.Load() == before
	}, 5*time.Second, 5*time.Millisecond)
	assert.Positive(t, bHits.Load())

	// Nobody left: a 503 problem.
	reg.set("patient")
	require.Eventually(t, func() bool {
		return get(t, base+"/api/v1/patients/1", tok).StatusCode == http.StatusServiceUnavailable
	}, 5*time.Second, 5*time.Millisecond)

	// Metrics name upstream addresses: internal listener only.
	assert.Equal(t, http.StatusNotFound, get(t, base+"/metrics", "").StatusCode)
	resp = get(t, internal+"/metrics", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, http.StatusOK, get(t, internal+"/health/ready", "").StatusCode)
	assert.Equal(t, http.StatusOK, get(t, base+"/health/ready", "").StatusCode, "probes keep their public path")
	assert.True(t, reg.wrote("PUT /api/v1/registry/gateway/"), "the gateway registers itself")

	// Discovery away: the gateway keeps routing to the instances it knows,
	// and stays ready, so that an outage of discovery does not take every
	// gateway out of the load balancer's rotation.
	reg.set("patient", hostport(b))
	require.Eventually(t, func() bool {
		return get(t, base+"/api/v1/patients/1", tok).StatusCode == http.StatusOK
	}, 5*time.Second, 5*time.Millisecond)
	reg.down.Store(true)
	regSrv.CloseClientConnections()
	assert.Equal(t, http.StatusOK, get(t, base+"/api/v1/patients/1", tok).StatusCode)
	assert.Equal(t, http.StatusOK, get(t, internal+"/health/ready", "").StatusCode)
}

func TestGatewayWithFixedUpstreamsAndRouteFile(t *testing.T) {
	iss := authntest.NewIssuer(t)
	things, hits := instance(t, "things", nil)
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	require.NoError(t, os.WriteFile(routes, []byte(`
routes:
  - path: /api/v1/things/**
    service: things
    methods: [GET]
  - path: /api/v1/open
    service: things
    auth: public
    rateLimit: none
  - path: /api/v1/things/*/files
    service: things
    methods: [POST]
    maxBody: 4KiB
`), 0o600))
	base, _ := start(t, []string{"-routes-file", routes, "-discovery-urls", "", "-jwks-url", iss.JWKSURL()},
		map[string]string{"MEDISYNC_UPSTREAMS": "things=" + hostport(things), "MEDISYNC_CORS_ORIGINS": "https://app.example"})

	assert.Equal(t, http.StatusOK, get(t, base+"/api/v1/things/1", iss.Token(t, authntest.Claims{})).StatusCode)
	assert.Equal(t, http.StatusUnauthorized, get(t, base+"/api/v1/things/1", "").StatusCode)
	assert.Equal(t, http.StatusOK, get(t, base+"/api/v1/open", "").StatusCode)
	assert.Equal(t, http.StatusNotFound, get(t, base+"/api/v1/patients/1", "").StatusCode, "the file replaces the defaults")
	assert.EqualValues(t, 2, hits.Load())

	// The files route has a body limit of its own.
	post := func(size int) int {
		req, err := http.NewRequest(http.MethodPost, base+"/api/v1/things/1/files", strings.NewReader(strings.Repeat("x", size)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+iss.Token(t, authntest.Claims{}))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, post(4096))
	assert.Equal(t, http.StatusRequestEntityTooLarge, post(4097))
	assert.EqualValues(t, 3, hits.Load())

	req, _ := http.NewRequest(http.MethodOptions, base+"/api/v1/things/1", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "https://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestConfigurationErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("routes:\n  - path: /x\n    service: x\n    auth: sometimes\n"), 0o600))
	badBody := filepath.Join(t.TempDir(), "bad-body.yaml")
	require.NoError(t, os.WriteFile(badBody, []byte("routes:\n  - path: /x\n    service: x\n    maxBody: 60 potatoes\n"), 0o600))
	cases := map[string][]string{
		"bad route file":      {"-routes-file", bad},
		"bad route body size": {"-routes-file", badBody},
		"missing route file":  {"-routes-file", filepath.Join(t.TempDir(), "none.yaml")},
		"bad trusted proxies": {"-trusted-proxies", "10.0.0.0/99"},
		"bad upstreams":       {"-upstreams", "patient"},
		"no way to find":      {"-discovery-urls", ""},
		"bad breaker":         {"-breaker-failures", "0"},
		"bad metrics address": {"-metrics-addr", "127.0.0.1:99999"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, args := range cases {
		err := run(ctx, append([]string{"-http-addr", "127.0.0.1:0", "-jwks-url", "http://127.0.0.1:1/jwks"}, args...),
			func(string) (string, bool) { return "", false }, io.Discard)
		assert.Error(t, err, name)
	}
}

func TestHelpPrintsUsage(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-help"}, func(string) (string, bool) { return "", false }, &out)
	assert.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, out.String(), "-rate-limit-rps")
	assert.Equal(t, 0, app.ExitCode(io.Discard, "gateway", err))
}
