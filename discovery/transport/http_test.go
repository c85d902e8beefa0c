package transport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

const token = "t0ken-for-tests"

type fixture struct {
	t     *testing.T
	srv   *httptest.Server
	app   *wire.Server
	clock *clocktest.Clock
}

func newFixture(t *testing.T, tok string, args ...string) *fixture {
	t.Helper()
	c := clocktest.New(time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC))
	cfg := wire.DefaultConfig()
	cfg.Clock = c
	a, err := wire.New(cfg, append([]string{"-discovery-token", tok}, args...), io.Discard)
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, app: a, clock: c}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

// fields returns the fields named by a validation problem.
func (r response) fields(t *testing.T) []string {
	t.Helper()
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(r.body, &p), string(r.body))
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}

func (f *fixture) do(method, path, auth, contentType, body string) response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	require.NoError(f.t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) write(method, path, body string) response {
	f.t.Helper()
	return f.do(method, path, "Bearer "+token, "application/json", body)
}

func (f *fixture) get(path string) response {
	f.t.Helper()
	return f.do(http.MethodGet, path, "", "", "")
}

func assertProblem(t *testing.T, r response, status int) {
	t.Helper()
	assert.Equal(t, status, r.status, string(r.body))
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(r.body, &p))
	assert.EqualValues(t, status, p["status"])
	assert.NotEmpty(t, p["requestId"])
}

const auth1 = `{"address":"127.0.0.1","port":8081,"ttlSeconds":10,"metadata":{"version":"1.4.0"}}`

func TestRegisterLookupAndDeregister(t *testing.T) {
	f := newFixture(t, token)

	r := f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	body := r.json(t)
	assert.Equal(t, "auth", body["service"])
	assert.Equal(t, "auth-1", body["id"])
	assert.Equal(t, "UP", body["status"])
	assert.EqualValues(t, 10, body["ttlSeconds"])
	assert.Equal(t, "2027-03-15T09:00:10Z", body["leaseExpiresAt"])

	r = f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1)
	assert.Equal(t, http.StatusOK, r.status, "registering again replaces")

	r = f.get("/api/v1/registry/auth")
	require.Equal(t, http.StatusOK, r.status)
	body = r.json(t)
	assert.Equal(t, "auth", body["service"])
	idx := body["index"].(float64)
	assert.Equal(t, strconv.Itoa(int(idx)), r.header.Get("X-Registry-Index"))
	insts := body["instances"].([]any)
	require.Len(t, insts, 1)
	inst := insts[0].(map[string]any)
	for _, k := range []string{"id", "address", "port", "status", "metadata", "lastHeartbeat", "leaseExpiresAt"} {
		assert.Contains(t, inst, k)
	}
	assert.Equal(t, map[string]any{"version": "1.4.0"}, inst["metadata"])

	r = f.get("/api/v1/registry")
	require.Equal(t, http.StatusOK, r.status)
	all := r.json(t)
	assert.NotEmpty(t, r.header.Get("X-Registry-Index"))
	assert.Len(t, all["services"], 1)
	assert.Contains(t, all, "index")

	r = f.get("/api/v1/registry/patient")
	require.Equal(t, http.StatusOK, r.status, "an unknown service is an empty list")
	assert.Equal(t, []any{}, r.json(t)["instances"])
	assert.Equal(t, "0", r.header.Get("X-Registry-Index"))

	r = f.write(http.MethodDelete, "/api/v1/registry/auth/auth-1", "")
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, r.body)
	r = f.write(http.MethodDelete, "/api/v1/registry/auth/auth-1", "")
	assertProblem(t, r, http.StatusNotFound)
	assert.Empty(t, f.get("/api/v1/registry/auth").json(t)["instances"])
}

func TestHeartbeat(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).status)
	idx := f.get("/api/v1/registry/auth").header.Get("X-Registry-Index")

	f.clock.Advance(4 * time.Second)
	r := f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/heartbeat", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "2027-03-15T09:00:14Z", r.json(t)["leaseExpiresAt"])
	assert.Equal(t, idx, f.get("/api/v1/registry/auth").header.Get("X-Registry-Index"), "a heartbeat moves no index")

	r = f.write(http.MethodPut, "/api/v1/registry/auth/ghost/heartbeat", "")
	assertProblem(t, r, http.StatusNotFound)
	assert.Contains(t, r.json(t)["detail"], "ghost")

	r = f.write(http.MethodPut, "/api/v1/registry/auth/bad%20id/heartbeat", "")
	assertProblem(t, r, http.StatusBadRequest)
	assert.Equal(t, []string{"instanceId"}, r.fields(t))
}

func TestStatus(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).status)

	r := f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/status", `{"status":"OUT_OF_SERVICE"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "OUT_OF_SERVICE", r.json(t)["status"])

	for _, body := range []string{`{"status":"down"}`, `{}`, `{"status":3}`} {
		r = f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/status", body)
		assertProblem(t, r, http.StatusBadRequest)
		assert.Equal(t, []string{"status"}, r.fields(t), body)
	}
	r = f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/status", `{"status":"UP","extra":true}`)
	assertProblem(t, r, http.StatusBadRequest)
	assert.Equal(t, []string{"extra"}, r.fields(t))

	r = f.write(http.MethodPut, "/api/v1/registry/auth/ghost/status", `{"status":"UP"}`)
	assertProblem(t, r, http.StatusNotFound)
}

func TestRegisterRejectsBadInput(t *testing.T) {
	f := newFixture(t, token)
	cases := []struct {
		name, path, body string
		status           int
		fields           []string
	}{
		{"malformed JSON", "/api/v1/registry/auth/a1", `{"address":`, 400, nil},
		{"not an object", "/api/v1/registry/auth/a1", `[1,2]`, 400, []string{"body"}},
		{"empty body", "/api/v1/registry/auth/a1", ``, 400, nil},
		{"trailing data", "/api/v1/registry/auth/a1", `{"address":"h","port":1} {}`, 400, nil},
		{"unknown field", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"host":"x"}`, 400, []string{"host"}},
		{"missing address", "/api/v1/registry/auth/a1", `{"port":8081}`, 400, []string{"address"}},
		{"address with scheme", "/api/v1/registry/auth/a1", `{"address":"http://h","port":8081}`, 400, []string{"address"}},
		{"address with port", "/api/v1/registry/auth/a1", `{"address":"h:1","port":8081}`, 400, []string{"address"}},
		{"missing port", "/api/v1/registry/auth/a1", `{"address":"h"}`, 400, []string{"port"}},
		{"port zero", "/api/v1/registry/auth/a1", `{"address":"h","port":0}`, 400, []string{"port"}},
		{"port too high", "/api/v1/registry/auth/a1", `{"address":"h","port":65536}`, 400, []string{"port"}},
		{"port as string", "/api/v1/registry/auth/a1", `{"address":"h","port":"80"}`, 400, []string{"port"}},
		{"port fraction", "/api/v1/registry/auth/a1", `{"address":"h","port":80.5}`, 400, []string{"port"}},
		{"port overflow", "/api/v1/registry/auth/a1", `{"address":"h","port":1e30}`, 400, []string{"port"}},
		{"TTL too short", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"ttlSeconds":1}`, 400, []string{"ttlSeconds"}},
		{"TTL too long", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"ttlSeconds":3600}`, 400, []string{"ttlSeconds"}},
		{"bad status", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"status":"GOOD"}`, 400, []string{"status"}},
		{"metadata not strings", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"metadata":{"a":1}}`, 400, []string{"metadata"}},
		{"metadata value too long", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"metadata":{"a":"` + strings.Repeat("x", 600) + `"}}`, 400, []string{"metadata.a"}},
		{"several at once", "/api/v1/registry/auth/a1", `{"address":"","port":-1,"ttlSeconds":-1}`, 400, []string{"address", "port", "ttlSeconds"}},
		{"bad service", "/api/v1/registry/Auth_Svc/a1", `{"address":"h","port":1}`, 400, []string{"service"}},
		{"bad instance", "/api/v1/registry/auth/-a1", `{"address":"h","port":1}`, 400, []string{"instanceId"}},
		{"oversize body", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"metadata":{"a":"` + strings.Repeat("x", 20000) + `"}}`, 413, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.write(http.MethodPut, tc.path, tc.body)
			assertProblem(t, r, tc.status)
			if tc.fields != nil {
				assert.ElementsMatch(t, tc.fields, r.fields(t))
			}
		})
	}
	t.Run("wrong content type", func(t *testing.T) {
		r := f.do(http.MethodPut, "/api/v1/registry/auth/a1", "Bearer "+token, "text/plain", `{"address":"h","port":1}`)
		assertProblem(t, r, http.StatusUnsupportedMediaType)
	})
	assert.Empty(t, f.get("/api/v1/registry").json(t)["services"], "nothing was registered")
}

func TestFullRegistryIs507(t *testing.T) {
	cfg := wire.DefaultConfig()
	cfg.Limits.MaxInstances = 1
	a, err := wire.New(cfg, []string{"-discovery-token", token}, io.Discard)
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, app: a}
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/a1", auth1).status)
	r := f.write(http.MethodPut, "/api/v1/registry/auth/a2", auth1)
	assertProblem(t, r, http.StatusInsufficientStorage)
	assert.Contains(t, r.json(t)["detail"], "full")
}

func TestWriteToken(t *testing.T) {
	f := newFixture(t, token)
	writes := []struct{ method, path, body string }{
		{http.MethodPut, "/api/v1/registry/auth/a1", auth1},
		{http.MethodPut, "/api/v1/registry/auth/a1/heartbeat", ""},
		{http.MethodPut, "/api/v1/registry/auth/a1/status", `{"status":"UP"}`},
		{http.MethodDelete, "/api/v1/registry/auth/a1", ""},
	}
	for _, w := range writes {
		for _, hdr := range []string{"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer "} {
			r := f.do(w.method, w.path, hdr, "application/json", w.body)
			assertProblem(t, r, http.StatusUnauthorized)
			assert.Equal(t, []string{"Authorization"}, r.fields(t))
			assert.NotEmpty(t, r.header.Get("WWW-Authenticate"))
		}
		for _, hdr := range []string{"Bearer wrong", "Bearer " + token + "x", "Bearer " + token[:5]} {
			r := f.do(w.method, w.path, hdr, "application/json", w.body)
			assertProblem(t, r, http.StatusForbidden)
			assert.Equal(t, []string{"Authorization"}, r.fields(t))
		}
	}
	assert.Empty(t, f.get("/api/v1/registry").json(t)["services"], "a rogue writer registered nothing")

	// The scheme is case-insensitive; reads need no token.
	r := f.do(http.MethodPut, "/api/v1/registry/auth/a1", "bearer "+token, "application/json", auth1)
	assert.Equal(t, http.StatusCreated, r.status)
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth").status)
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry").status)
	assert.Equal(t, http.StatusOK, f.get("/").status)
}

func TestNoTokenMeansNoWrites(t *testing.T) {
	// Secure by default: without any token every write is refused, with or
	// without a credential, and reads still work.
	f := newFixture(t, "")
	for _, hdr := range []string{"", "Bearer anything"} {
		r := f.do(http.MethodPut, "/api/v1/registry/auth/a1", hdr, "application/json", auth1)
		assertProblem(t, r, http.StatusForbidden)
		assert.Contains(t, r.json(t)["detail"], "no write token")
	}
	assert.Empty(t, f.get("/api/v1/registry").json(t)["services"])
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth").status)
	assert.Contains(t, string(f.get("/").body), "required")
}

func TestInsecureOpenRegistryAcceptsAnonymousWrites(t *testing.T) {
	f := newFixture(t, "", "-insecure-open-registry")
	r := f.do(http.MethodPut, "/api/v1/registry/auth/a1", "", "application/json", auth1)
	assert.Equal(t, http.StatusCreated, r.status)
	_, marked := r.json(t)["metadata"].(map[string]any)["authenticated"]
	assert.False(t, marked, "an anonymous registration is not authenticated")
}

func TestServiceTokens(t *testing.T) {
	const authTok, doctorTok = "auth-own-token", "doctor-own-token"
	f := newFixture(t, token, "-discovery-service-tokens", "auth="+authTok+", doctor="+doctorTok)
	put := func(path, tok, body string) response {
		return f.do(http.MethodPut, path, "Bearer "+tok, "application/json", body)
	}
	// The shared token cannot write under a service that has its own.
	for _, w := range []struct{ path, body string }{
		{"/api/v1/registry/auth/rogue", auth1},
		{"/api/v1/registry/auth/rogue/heartbeat", ""},
		{"/api/v1/registry/auth/rogue/status", `{"status":"UP"}`},
	} {
		r := put(w.path, token, w.body)
		assertProblem(t, r, http.StatusForbidden)
		assert.Equal(t, []string{"Authorization"}, r.fields(t))
	}
	// Nor can another service's own token.
	assertProblem(t, put("/api/v1/registry/auth/rogue", doctorTok, auth1), http.StatusForbidden)
	assert.Empty(t, f.get("/api/v1/registry").json(t)["services"])

	// Auth's own token registers auth, marked authenticated by the server
	// whatever the client claimed.
	r := put("/api/v1/registry/auth/a1", authTok,
		`{"address":"127.0.0.1","port":8081,"metadata":{"authenticated":"false","version":"1"}}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, map[string]any{"authenticated": "true", "version": "1"}, r.json(t)["metadata"])
	assert.Equal(t, http.StatusOK, put("/api/v1/registry/auth/a1/heartbeat", authTok, "").status)

	// A service without its own token takes the shared one, and a client's
	// claim to be authenticated is removed.
	r = put("/api/v1/registry/patient/p1", token,
		`{"address":"127.0.0.1","port":8083,"metadata":{"authenticated":"true"}}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Nil(t, r.json(t)["metadata"].(map[string]any)["authenticated"])
	// The shared token cannot delete auth's instance either.
	assertProblem(t, f.do(http.MethodDelete, "/api/v1/registry/auth/a1", "Bearer "+token, "", ""), http.StatusForbidden)
	assert.Equal(t, http.StatusNoContent, f.do(http.MethodDelete, "/api/v1/registry/auth/a1", "Bearer "+authTok, "", "").status)
}

func TestBadServiceTokensAreRefused(t *testing.T) {
	for _, v := range []string{"auth", "auth=", "=x", "Auth=x", "auth=x,auth=y"} {
		_, err := wire.New(wire.DefaultConfig(), []string{"-discovery-service-tokens", v}, io.Discard)
		assert.Error(t, err, v)
		if err != nil {
			assert.NotContains(t, err.Error(), "=x", "the token is not echoed")
		}
	}
}

func TestQueryParameters(t *testing.T) {
	f := newFixture(t, token)
	for _, q := range []struct{ query, field string }{
		{"index=abc", "index"},
		{"index=-1", "index"},
		{"index=1&wait=soon", "wait"},
		{"index=1&wait=-5s", "wait"},
		{"index=1&wait=-5", "wait"},
	} {
		r := f.get("/api/v1/registry/auth?" + q.query)
		assertProblem(t, r, http.StatusBadRequest)
		assert.Equal(t, []string{q.field}, r.fields(t), q.query)
		r = f.get("/api/v1/registry?" + q.query)
		assertProblem(t, r, http.StatusBadRequest)
	}
	r := f.get("/api/v1/registry/NotAService")
	assertProblem(t, r, http.StatusBadRequest)
	assert.Equal(t, []string{"service"}, r.fields(t))

	// A wait without an index does not block; a stale index answers at once.
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth?wait=10m").status)
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth?index=999999&wait=300").status)
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth?index=0&wait=1ms").status)
}

func TestBlockingQueryOverHTTP(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).status)
	idx := f.get("/api/v1/registry/auth").header.Get("X-Registry-Index")

	type answer struct {
		index string
		n     int
		at    time.Time
		err   error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get(f.srv.URL + "/api/v1/registry/auth?index=" + idx + "&wait=60s")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var v struct{ Instances []any }
		err = json.NewDecoder(resp.Body).Decode(&v)
		got <- answer{index: resp.Header.Get("X-Registry-Index"), n: len(v.Instances), at: time.Now(), err: err}
	}()

	// The barrier: the change is made only once the reader is known to be
	// parked in the registry, so the answer proves the request blocked.
	deadline := time.Now().Add(10 * time.Second)
	for f.app.Registry.Blocked() < 1 {
		require.False(t, time.Now().After(deadline), "the HTTP reader never blocked")
		time.Sleep(time.Millisecond)
	}
	// Heartbeats do not answer the reader; a new instance does.
	require.Equal(t, http.StatusOK, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/heartbeat", "").status)
	select {
	case a := <-got:
		t.Fatalf("reader answered before the change: %+v", a)
	default:
	}
	changed := time.Now()
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-2",
		`{"address":"127.0.0.1","port":9081}`).status)

	select {
	case a := <-got:
		require.NoError(t, a.err)
		assert.Equal(t, 2, a.n)
		old, _ := strconv.Atoi(idx)
		now, _ := strconv.Atoi(a.index)
		assert.Greater(t, now, old)
		assert.False(t, a.at.Before(changed), "the answer came after the change")
		t.Logf("change seen by the blocked HTTP reader after %s", a.at.Sub(changed))
	case <-time.After(10 * time.Second):
		t.Fatal("blocked reader not answered")
	}
}

func TestEvictionOverHTTP(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).status)
	f.clock.Advance(10*time.Second + time.Millisecond)
	gone, err := f.app.Service.Evict(context.Background())
	require.NoError(t, err)
	require.Len(t, gone, 1)
	assert.Empty(t, f.get("/api/v1/registry/auth").json(t)["instances"])
	r := f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/heartbeat", "")
	assertProblem(t, r, http.StatusNotFound)
	metrics := string(f.get("/metrics").body)
	assert.Contains(t, metrics, `medisync_discovery_evictions_total{service="auth"} 1`)
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).status)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-2", auth1).status)
	require.Equal(t, http.StatusOK, f.write(http.MethodPut, "/api/v1/registry/auth/auth-2/status", `{"status":"DOWN"}`).status)
	require.Equal(t, http.StatusOK, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/heartbeat", "").status)
	require.Equal(t, http.StatusNotFound, f.write(http.MethodPut, "/api/v1/registry/auth/x/heartbeat", "").status)
	r := f.get("/metrics")
	require.Equal(t, http.StatusOK, r.status)
	m := string(r.body)
	for _, want := range []string{
		`medisync_discovery_instances{service="auth",status="UP"} 1`,
		`medisync_discovery_instances{service="auth",status="DOWN"} 1`,
		`medisync_discovery_instances{service="auth",status="OUT_OF_SERVICE"} 0`,
		`medisync_discovery_registrations_total{outcome="created"} 2`,
		`medisync_discovery_heartbeats_total{outcome="renewed"} 1`,
		`medisync_discovery_heartbeats_total{outcome="unknown"} 1`,
		`medisync_discovery_status_changes_total{status="DOWN"} 1`,
		`medisync_discovery_method_calls_total{method="Register",success="true"} 2`,
		`medisync_http_requests_total{code="201",method="PUT",route="/api/v1/registry/{service}/{instanceId}"} 2`,
		`medisync_discovery_registry_index`,
		`go_goroutines`,
	} {
		assert.Contains(t, m, want)
	}
}

func TestDashboard(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).status)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/doctor/doc-1",
		`{"address":"10.1.2.3","port":8082,"status":"DOWN","metadata":{"note":"<script>x</script>"}}`).status)
	f.clock.Advance(3*time.Second + 10*time.Minute)

	r := f.get("/")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	assert.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'")
	page := string(r.body)
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		"auth", "auth-1", "127.0.0.1:8081", ">UP<", "version=1.4.0",
		"doctor", "10.1.2.3:8082", ">DOWN<",
		"Uptime", "10m 03s", "Registry index", "lapsed", "required (Authorization",
	} {
		assert.Contains(t, page, want)
	}
	assert.NotContains(t, page, "<script>", "values are escaped")
	assert.Contains(t, page, "&lt;script&gt;")
}

func TestDashboardEmpty(t *testing.T) {
	f := newFixture(t, "", "-insecure-open-registry")
	page := string(f.get("/").body)
	assert.Contains(t, page, "No instance is registered")
	assert.Contains(t, page, "not required")
}

func TestOpenAPIAndHealth(t *testing.T) {
	f := newFixture(t, token)
	r := f.get("/openapi.yaml")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "application/yaml", r.header.Get("Content-Type"))
	doc := string(r.body)
	assert.True(t, strings.HasPrefix(doc, "openapi: 3."))
	for _, p := range []string{
		"/api/v1/registry:", "/api/v1/registry/{service}:", "/api/v1/registry/{service}/{instanceId}:",
		"/api/v1/registry/{service}/{instanceId}/heartbeat:", "/api/v1/registry/{service}/{instanceId}/status:",
	} {
		assert.Contains(t, doc, "  "+p+"\n")
	}
	assert.Equal(t, http.StatusOK, f.get("/health/live").status)
	assert.Equal(t, http.StatusOK, f.get("/health/ready").status)
	require.NoError(t, f.app.BeforeDrain(context.Background()))
	assert.Equal(t, http.StatusServiceUnavailable, f.get("/health/ready").status)
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	f := newFixture(t, token)
	assertProblem(t, f.get("/api/v1/nothing"), http.StatusNotFound)
	assertProblem(t, f.get("/api/v1/registry/auth/a1"), http.StatusMethodNotAllowed)
	assertProblem(t, f.do(http.MethodPost, "/api/v1/registry", "", "application/json", "{}"), http.StatusMethodNotAllowed)
	assertProblem(t, f.write(http.MethodPatch, "/api/v1/registry/auth/a1", "{}"), http.StatusMethodNotAllowed)
}

func TestIndexHeaderMatchesBody(t *testing.T) {
	f := newFixture(t, token)
	for i := 0; i < 3; i++ {
		require.Equal(t, http.StatusCreated, f.write(http.MethodPut, fmt.Sprintf("/api/v1/registry/auth/a%d", i), auth1).status)
	}
	r := f.get("/api/v1/registry")
	assert.Equal(t, fmt.Sprint(r.json(t)["index"]), r.header.Get("X-Registry-Index"))
}

func TestDashboardCapsRowsPerService(t *testing.T) {
	f := newFixture(t, "", "-insecure-open-registry")
	for i := 0; i < 205; i++ {
		r := f.do(http.MethodPut, fmt.Sprintf("/api/v1/registry/big/i%03d", i), "", "application/json", `{"address":"h","port":1}`)
		require.Equal(t, http.StatusCreated, r.status)
	}
	page := string(f.get("/").body)
	assert.Contains(t, page, "i199")
	assert.NotContains(t, page, "i200")
	assert.Contains(t, page, "and 5 more")
	assert.Contains(t, page, "205 of 205 UP")
}
