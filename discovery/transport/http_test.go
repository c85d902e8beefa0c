package transport_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/transport"
	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/openapitest"
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
	// Every exchange of the tests is held to the OpenAPI document.
	srv := httptest.NewServer(openapitest.Load(t, transport.OpenAPI()).Handler(t, a.Handler))
	t.Cleanup(srv.Close)
	return &fixture{t: t, srv: srv, app: a, clock: c}
}

type response = apitest.Response

// do sends body ("" for none) with the Authorization and Content-Type
// headers given ("" for none).
func (f *fixture) do(method, path, auth, contentType, body string) response {
	f.t.Helper()
	var b any
	if body != "" {
		b = body
	}
	var headers []string
	if auth != "" {
		headers = append(headers, "Authorization", auth)
	}
	if contentType != "" {
		headers = append(headers, "Content-Type", contentType)
	}
	return apitest.Do(f.t, f.srv.Client(), apitest.NewRequest(f.t, method, f.srv.URL+path, b, headers...))
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
	assert.Equal(t, status, r.Status, string(r.Body))
	assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	var p map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &p))
	assert.EqualValues(t, status, p["status"])
	assert.NotEmpty(t, p["requestId"])
}

const auth1 = `{"address":"127.0.0.1","port":8081,"ttlSeconds":10,"metadata":{"version":"1.4.0"}}`

func TestRegisterLookupAndDeregister(t *testing.T) {
	f := newFixture(t, token)

	r := f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	body := r.JSON(t)
	assert.Equal(t, "auth", body["service"])
	assert.Equal(t, "auth-1", body["id"])
	assert.Equal(t, "UP", body["status"])
	assert.EqualValues(t, 10, body["ttlSeconds"])
	assert.Equal(t, "2027-03-15T09:00:10Z", body["leaseExpiresAt"])

	r = f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1)
	assert.Equal(t, http.StatusOK, r.Status, "registering again replaces")

	r = f.get("/api/v1/registry/auth")
	require.Equal(t, http.StatusOK, r.Status)
	body = r.JSON(t)
	assert.Equal(t, "auth", body["service"])
	idx := body["index"].(float64)
	assert.Equal(t, strconv.Itoa(int(idx)), r.Header.Get("X-Registry-Index"))
	insts := body["instances"].([]any)
	require.Len(t, insts, 1)
	inst := insts[0].(map[string]any)
	for _, k := range []string{"id", "address", "port", "status", "metadata", "lastHeartbeat", "leaseExpiresAt"} {
		assert.Contains(t, inst, k)
	}
	assert.Equal(t, map[string]any{"version": "1.4.0"}, inst["metadata"])

	r = f.get("/api/v1/registry")
	require.Equal(t, http.StatusOK, r.Status)
	all := r.JSON(t)
	assert.NotEmpty(t, r.Header.Get("X-Registry-Index"))
	assert.Len(t, all["services"], 1)
	assert.Contains(t, all, "index")

	r = f.get("/api/v1/registry/patient")
	require.Equal(t, http.StatusOK, r.Status, "an unknown service is an empty list")
	assert.Equal(t, []any{}, r.JSON(t)["instances"])
	assert.Equal(t, "0", r.Header.Get("X-Registry-Index"))

	r = f.write(http.MethodDelete, "/api/v1/registry/auth/auth-1", "")
	assert.Equal(t, http.StatusNoContent, r.Status)
	assert.Empty(t, r.Body)
	r = f.write(http.MethodDelete, "/api/v1/registry/auth/auth-1", "")
	assertProblem(t, r, http.StatusNotFound)
	assert.Empty(t, f.get("/api/v1/registry/auth").JSON(t)["instances"])
}

func TestHeartbeat(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).Status)
	idx := f.get("/api/v1/registry/auth").Header.Get("X-Registry-Index")

	f.clock.Advance(4 * time.Second)
	r := f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/heartbeat", "")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, "2027-03-15T09:00:14Z", r.JSON(t)["leaseExpiresAt"])
	assert.Equal(t, idx, f.get("/api/v1/registry/auth").Header.Get("X-Registry-Index"), "a heartbeat moves no index")

	r = f.write(http.MethodPut, "/api/v1/registry/auth/ghost/heartbeat", "")
	assertProblem(t, r, http.StatusNotFound)
	assert.Contains(t, r.JSON(t)["detail"], "ghost")

	r = f.write(http.MethodPut, "/api/v1/registry/auth/bad%20id/heartbeat", "")
	assertProblem(t, r, http.StatusBadRequest)
	assert.Equal(t, []string{"instanceId"}, r.Fields(t))
}

func TestStatus(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).Status)

	r := f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/status", `{"status":"OUT_OF_SERVICE"}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, "OUT_OF_SERVICE", r.JSON(t)["status"])

	for _, body := range []string{`{"status":"down"}`, `{}`, `{"status":3}`} {
		r = f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/status", body)
		assertProblem(t, r, http.StatusBadRequest)
		assert.Equal(t, []string{"status"}, r.Fields(t), body)
	}
	r = f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/status", `{"status":"UP","extra":true}`)
	assertProblem(t, r, http.StatusBadRequest)
	assert.Equal(t, []string{"extra"}, r.Fields(t))

	r = f.write(http.MethodPut, "/api/v1/registry/auth/ghost/status", `{"status":"UP"}`)
	assertProblem(t, r, http.StatusNotFound)
}

// The status route decodes its body as a registration's is decoded, so it
// answers 415 to another content type and 413 to a body over 16 KiB, both
// in the document (the fixture holds every exchange to it).
func TestStatusRefusesAnotherContentTypeAndAnOversizedBody(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).Status)
	r := f.do(http.MethodPut, "/api/v1/registry/auth/auth-1/status", "Bearer "+token, "text/plain", `{"status":"DOWN"}`)
	assertProblem(t, r, http.StatusUnsupportedMediaType)
	r = f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/status", `{"status":"DOWN","x":"`+strings.Repeat("a", 20<<10)+`"}`)
	assertProblem(t, r, http.StatusRequestEntityTooLarge)
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
		// The document refuses both; read as omitted they were stored as UP and "".
		{"empty status", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"status":""}`, 400, []string{"status"}},
		{"metadata value null", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"metadata":{"k":null,"v":"1"}}`, 400, []string{"metadata.k"}},
		{"metadata not strings", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"metadata":{"a":1}}`, 400, []string{"metadata.a"}},
		{"metadata value too long", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"metadata":{"a":"` + strings.Repeat("x", 600) + `"}}`, 400, []string{"metadata.a"}},
		{"metadata value with an escape sequence", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"metadata":{"version":"\u001b[2J\u001b]0;x\u0007"}}`, 400, []string{"metadata.version"}},
		{"metadata value with a newline", "/api/v1/registry/auth/a1", `{"address":"h","port":1,"metadata":{"version":"1.4\n"}}`, 400, []string{"metadata.version"}},
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
				assert.ElementsMatch(t, tc.fields, r.Fields(t))
			}
		})
	}
	t.Run("wrong content type", func(t *testing.T) {
		r := f.do(http.MethodPut, "/api/v1/registry/auth/a1", "Bearer "+token, "text/plain", `{"address":"h","port":1}`)
		assertProblem(t, r, http.StatusUnsupportedMediaType)
	})
	assert.Empty(t, f.get("/api/v1/registry").JSON(t)["services"], "nothing was registered")
}

func TestFullRegistryIs507(t *testing.T) {
	cfg := wire.DefaultConfig()
	cfg.Limits.MaxInstances = 1
	a, err := wire.New(cfg, []string{"-discovery-token", token}, io.Discard)
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, app: a}
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/a1", auth1).Status)
	r := f.write(http.MethodPut, "/api/v1/registry/auth/a2", auth1)
	assertProblem(t, r, http.StatusInsufficientStorage)
	assert.Contains(t, r.JSON(t)["detail"], "full")
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
		// A scheme other than Bearer or Basic carries no credential, even
		// the token itself.
		for _, hdr := range []string{"", "Basic dXNlcjo=", "Bearer", "Bearer ", "Token " + token, token} {
			r := f.do(w.method, w.path, hdr, "application/json", w.body)
			assertProblem(t, r, http.StatusUnauthorized)
			assert.Equal(t, []string{"Authorization"}, r.Fields(t))
			assert.NotEmpty(t, r.Header.Get("WWW-Authenticate"))
		}
		for _, hdr := range []string{"Bearer wrong", "Bearer " + token + "x", "Bearer " + token[:5], "Basic dXNlcjpwYXNz"} {
			r := f.do(w.method, w.path, hdr, "application/json", w.body)
			assertProblem(t, r, http.StatusForbidden)
			assert.Equal(t, []string{"Authorization"}, r.Fields(t))
		}
	}
	assert.Empty(t, f.get("/api/v1/registry").JSON(t)["services"], "a rogue writer registered nothing")

	// The scheme is case-insensitive; reads need no token.
	r := f.do(http.MethodPut, "/api/v1/registry/auth/a1", "bearer "+token, "application/json", auth1)
	assert.Equal(t, http.StatusCreated, r.Status)
	// HTTP basic with the token as the password, as Eureka clients send it.
	r = f.do(http.MethodPut, "/api/v1/registry/auth/a1/heartbeat", "Basic "+base64.StdEncoding.EncodeToString([]byte("any:"+token)), "", "")
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth").Status)
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry").Status)
	assert.Equal(t, http.StatusOK, f.get("/").Status)
}

func TestNoTokenMeansNoWrites(t *testing.T) {
	// Secure by default: without any token every write is refused, with or
	// without a credential, and reads still work.
	f := newFixture(t, "")
	for _, hdr := range []string{"", "Bearer anything"} {
		r := f.do(http.MethodPut, "/api/v1/registry/auth/a1", hdr, "application/json", auth1)
		assertProblem(t, r, http.StatusForbidden)
		assert.Contains(t, r.JSON(t)["detail"], "no write token")
	}
	assert.Empty(t, f.get("/api/v1/registry").JSON(t)["services"])
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth").Status)
	page := string(f.get("/").Body)
	assert.Contains(t, page, "every write is refused", "the dashboard says writes are refused, not that they need a token")
	assert.NotContains(t, page, "required (Authorization")
}

func TestInsecureOpenRegistryAcceptsAnonymousWrites(t *testing.T) {
	f := newFixture(t, "", "-insecure-open-registry")
	r := f.do(http.MethodPut, "/api/v1/registry/auth/a1", "", "application/json", auth1)
	assert.Equal(t, http.StatusCreated, r.Status)
	_, marked := r.JSON(t)["metadata"].(map[string]any)["authenticated"]
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
		assert.Equal(t, []string{"Authorization"}, r.Fields(t))
	}
	// Nor can another service's own token.
	assertProblem(t, put("/api/v1/registry/auth/rogue", doctorTok, auth1), http.StatusForbidden)
	assert.Empty(t, f.get("/api/v1/registry").JSON(t)["services"])

	// Auth's own token registers auth, marked authenticated by the server
	// whatever the client claimed.
	r := put("/api/v1/registry/auth/a1", authTok,
		`{"address":"127.0.0.1","port":8081,"metadata":{"authenticated":"false","version":"1"}}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	assert.Equal(t, map[string]any{"authenticated": "true", "version": "1"}, r.JSON(t)["metadata"])
	assert.Equal(t, http.StatusOK, put("/api/v1/registry/auth/a1/heartbeat", authTok, "").Status)

	// A service without its own token takes the shared one, and a client's
	// claim to be authenticated is removed.
	r = put("/api/v1/registry/patient/p1", token,
		`{"address":"127.0.0.1","port":8083,"metadata":{"authenticated":"true"}}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	assert.Nil(t, r.JSON(t)["metadata"].(map[string]any)["authenticated"])
	// The shared token cannot delete auth's instance either.
	assertProblem(t, f.do(http.MethodDelete, "/api/v1/registry/auth/a1", "Bearer "+token, "", ""), http.StatusForbidden)
	assert.Equal(t, http.StatusNoContent, f.do(http.MethodDelete, "/api/v1/registry/auth/a1", "Bearer "+authTok, "", "").Status)
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
		{"index=", "index"},
		{"index=1&index=abc", "index"},
		{"index=1&wait=1s&wait=5m", "wait"},
	} {
		r := f.get("/api/v1/registry/auth?" + q.query)
		assertProblem(t, r, http.StatusBadRequest)
		assert.Equal(t, []string{q.field}, r.Fields(t), q.query)
		r = f.get("/api/v1/registry?" + q.query)
		assertProblem(t, r, http.StatusBadRequest)
	}
	r := f.get("/api/v1/registry/NotAService")
	assertProblem(t, r, http.StatusBadRequest)
	assert.Equal(t, []string{"service"}, r.Fields(t))

	// A wait without an index does not block; a stale index answers at once.
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth?wait=10m").Status)
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth?index=999999&wait=300").Status)
	assert.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth?index=0&wait=1ms").Status)
}

func TestBlockingQueryOverHTTP(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).Status)
	idx := f.get("/api/v1/registry/auth").Header.Get("X-Registry-Index")

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
	require.Equal(t, http.StatusOK, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/heartbeat", "").Status)
	select {
	case a := <-got:
		t.Fatalf("reader answered before the change: %+v", a)
	default:
	}
	changed := time.Now()
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-2",
		`{"address":"127.0.0.1","port":9081}`).Status)

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

// Reads need no token and a blocking one may be held for 5 minutes, each
// with its goroutine, connection and timer: past -max-blocked-readers a
// blocking read is answered at once with the view as it is (its client
// pauses before it asks again), so that anyone reaching the registry cannot
// park reads until the pod runs out of memory.
func TestBlockedReadersAreBounded(t *testing.T) {
	assert.Equal(t, 1000, wire.DefaultConfig().Limits.MaxBlocked)
	const bound = 3
	f := newFixture(t, token, "-max-blocked-readers", strconv.Itoa(bound))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readers := make([]context.CancelFunc, bound)
	done := make(chan struct{}, bound+1)
	park := func(i int) {
		rctx, stop := context.WithCancel(ctx)
		readers[i] = stop
		go func() {
			defer func() { done <- struct{}{} }()
			req, _ := http.NewRequestWithContext(rctx, http.MethodGet,
				fmt.Sprintf("%s/api/v1/registry/ghost-%d?index=0&wait=5m", f.srv.URL, i), nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	blocked := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool { return f.app.Registry.Blocked() == n }, 10*time.Second, time.Millisecond)
	}
	for i := range bound {
		park(i)
	}
	blocked(bound)

	// One more is answered at once, with the index it holds, and parks
	// nothing.
	began := time.Now()
	r := f.get("/api/v1/registry/ghost-x?index=0&wait=5m")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Less(t, time.Since(began), 30*time.Second, "answered at once, not after its wait")
	assert.Equal(t, "0", r.Header.Get("X-Registry-Index"))
	r = f.get("/api/v1/registry?index=999999999&wait=5m")
	require.Equal(t, http.StatusOK, r.Status, "an index from an earlier run is answered at once, as always")
	r = f.get("/api/v1/registry?index=1&wait=5m")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, bound, f.app.Registry.Blocked())
	m := string(f.get("/metrics").Body)
	assert.Contains(t, m, fmt.Sprintf("medisync_discovery_blocked_readers %d\n", bound))
	assert.Contains(t, m, "medisync_discovery_blocking_queries_turned_away_total 2\n")

	// A reader that leaves frees its place.
	readers[0]()
	<-done
	blocked(bound - 1)
	park(0)
	blocked(bound)
	cancel()
	for range bound {
		<-done
	}
	blocked(0)
}

func TestEvictionOverHTTP(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).Status)
	f.clock.Advance(10*time.Second + time.Millisecond)
	gone, err := f.app.Service.Evict(context.Background())
	require.NoError(t, err)
	require.Len(t, gone, 1)
	assert.Empty(t, f.get("/api/v1/registry/auth").JSON(t)["instances"])
	r := f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/heartbeat", "")
	assertProblem(t, r, http.StatusNotFound)
	metrics := string(f.get("/metrics").Body)
	assert.Contains(t, metrics, `medisync_discovery_evictions_total{service="auth"} 1`)
}

// The eviction counter is as bounded as the registry (-max-services): a
// writer registering ever new names and letting them lapse must not grow
// /metrics, and the server's memory, with every name ever evicted.
func TestEvictionSeriesStayBoundedByMaxServices(t *testing.T) {
	const maxServices = 2
	f := newFixture(t, token, "-max-services", fmt.Sprint(maxServices))
	for i := range 50 {
		r := f.write(http.MethodPut, fmt.Sprintf("/api/v1/registry/churn-%d/x", i), `{"address":"10.0.0.1","port":1,"ttlSeconds":5}`)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		f.clock.Advance(6 * time.Second)
		gone, err := f.app.Service.Evict(context.Background())
		require.NoError(t, err)
		require.Len(t, gone, 1)
	}
	m := string(f.get("/metrics").Body)
	assert.LessOrEqual(t, strings.Count(m, "medisync_discovery_evictions_total{service="), maxServices)
	assert.Contains(t, m, `medisync_discovery_evictions_total{service="churn-49"} 1`)
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).Status)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-2", auth1).Status)
	require.Equal(t, http.StatusOK, f.write(http.MethodPut, "/api/v1/registry/auth/auth-2/status", `{"status":"DOWN"}`).Status)
	require.Equal(t, http.StatusOK, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1/heartbeat", "").Status)
	require.Equal(t, http.StatusNotFound, f.write(http.MethodPut, "/api/v1/registry/auth/x/heartbeat", "").Status)
	r := f.get("/metrics")
	require.Equal(t, http.StatusOK, r.Status)
	m := string(r.Body)
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

// A blocking read waits for a change by design: it is timed apart, so that
// the latency percentiles of the other requests are not its wait.
func TestBlockingReadsTimedApart(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).Status)
	// The index has passed 0, so these answer at once, yet they are blocking queries.
	require.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth?index=0&wait=30s").Status)
	require.Equal(t, http.StatusOK, f.get("/api/v1/registry?index=0").Status)
	require.Equal(t, http.StatusOK, f.get("/api/v1/registry/auth").Status)

	m := string(f.get("/metrics").Body)
	for _, want := range []string{
		`medisync_http_request_duration_seconds_count{method="GET",route="/api/v1/registry/{service}"} 1`,
		`medisync_http_long_poll_duration_seconds_count{method="GET",route="/api/v1/registry/{service}"} 1`,
		`medisync_http_long_poll_duration_seconds_count{method="GET",route="/api/v1/registry"} 1`,
		`medisync_http_requests_total{code="200",method="GET",route="/api/v1/registry/{service}"} 2`,
		`medisync_discovery_method_duration_seconds_count{method="Service",success="true"} 1`,
		`medisync_discovery_method_calls_total{method="Service",success="true"} 2`,
		`medisync_discovery_blocking_query_duration_seconds_count{method="Service"} 1`,
		`medisync_discovery_blocking_query_duration_seconds_count{method="Registry"} 1`,
	} {
		assert.Contains(t, m, want)
	}
	assert.NotContains(t, m, `medisync_http_request_duration_seconds_count{method="GET",route="/api/v1/registry"}`)
	assert.NotContains(t, m, `medisync_discovery_method_duration_seconds_count{method="Registry"`)
}

func TestDashboard(t *testing.T) {
	f := newFixture(t, token)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/auth/auth-1", auth1).Status)
	require.Equal(t, http.StatusCreated, f.write(http.MethodPut, "/api/v1/registry/doctor/doc-1",
		`{"address":"10.1.2.3","port":8082,"status":"DOWN","metadata":{"note":"<script>x</script>"}}`).Status)
	f.clock.Advance(3*time.Second + 10*time.Minute)

	r := f.get("/")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "text/html; charset=utf-8", r.Header.Get("Content-Type"))
	assert.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), "the page, which lists every instance's address, is never cached")
	page := string(r.Body)
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

// The "Out of service" card counts OUT_OF_SERVICE instances only: one
// STARTING or UNKNOWN is counted apart, so an operator watching a rollout
// is not told that instances were taken out of traffic by hand.
func TestDashboardCountsEachStatusApart(t *testing.T) {
	f := newFixture(t, token)
	for i, st := range []string{"STARTING", "UNKNOWN", "OUT_OF_SERVICE", "DOWN", "UP"} {
		body := fmt.Sprintf(`{"address":"10.0.0.1","port":%d,"status":%q}`, i+1, st)
		require.Equal(t, http.StatusCreated, f.write(http.MethodPut, fmt.Sprintf("/api/v1/registry/doctor/d%d", i), body).Status)
	}
	page := string(f.get("/").Body)
	for card, want := range map[string]string{"UP": "1", "DOWN": "1", "Out of service": "1", "Starting / unknown": "2"} {
		m := regexp.MustCompile(`>` + card + `</div><div class="v"[^>]*>(\d+)<`).FindStringSubmatch(page)
		if assert.NotNil(t, m, card) {
			assert.Equal(t, want, m[1], card)
		}
	}
}

func TestDashboardEmpty(t *testing.T) {
	f := newFixture(t, "", "-insecure-open-registry")
	page := string(f.get("/").Body)
	assert.Contains(t, page, "No instance is registered")
	assert.Contains(t, page, "not required")
}

func TestOpenAPIAndHealth(t *testing.T) {
	f := newFixture(t, token)
	r := f.get("/openapi.yaml")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "application/yaml", r.Header.Get("Content-Type"))
	doc := string(r.Body)
	assert.True(t, strings.HasPrefix(doc, "openapi: 3."))
	for _, p := range []string{
		"/api/v1/registry:", "/api/v1/registry/{service}:", "/api/v1/registry/{service}/{instanceId}:",
		"/api/v1/registry/{service}/{instanceId}/heartbeat:", "/api/v1/registry/{service}/{instanceId}/status:",
	} {
		assert.Contains(t, doc, "  "+p+"\n")
	}
	assert.Equal(t, http.StatusOK, f.get("/health/live").Status)
	assert.Equal(t, http.StatusOK, f.get("/health/ready").Status)
	require.NoError(t, f.app.BeforeDrain(context.Background()))
	assert.Equal(t, http.StatusServiceUnavailable, f.get("/health/ready").Status)
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
		require.Equal(t, http.StatusCreated, f.write(http.MethodPut, fmt.Sprintf("/api/v1/registry/auth/a%d", i), auth1).Status)
	}
	r := f.get("/api/v1/registry")
	assert.Equal(t, fmt.Sprint(r.JSON(t)["index"]), r.Header.Get("X-Registry-Index"))
}

func TestDashboardCapsRowsPerService(t *testing.T) {
	f := newFixture(t, "", "-insecure-open-registry")
	for i := 0; i < 205; i++ {
		r := f.do(http.MethodPut, fmt.Sprintf("/api/v1/registry/big/i%03d", i), "", "application/json", `{"address":"h","port":1}`)
		require.Equal(t, http.StatusCreated, r.Status)
	}
	page := string(f.get("/").Body)
	assert.Contains(t, page, "i199")
	assert.NotContains(t, page, "i200")
	assert.Contains(t, page, "and 5 more")
	assert.Contains(t, page, "205 of 205 UP")
}
