package edge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/edge"
	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/gateway/upstream"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clientip"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/health"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/runtest"
	"github.com/medisync/medisync/shared/tracing"
)

// backend is an upstream service instance that records what it receives.
type backend struct {
	*httptest.Server
	name string
	hits atomic.Int64

	mu      sync.Mutex
	last    *http.Request
	body    string
	handler http.HandlerFunc
}

func newBackend(t testing.TB, name string) *backend {
	b := &backend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.last, b.body = r.Clone(context.Background()), string(body)
		h := b.handler
		b.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("X-Served-By", b.name)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Request-ID", r.Header.Get("X-Request-ID"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"service":"`+b.name+`","path":"`+r.URL.Path+`","query":"`+r.URL.RawQuery+`"}`)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) hostport() string { return strings.TrimPrefix(b.URL, "http://") }

func (b *backend) lastRequest() *http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func (b *backend) setHandler(h http.HandlerFunc) {
	b.mu.Lock()
	b.handler = h
	b.mu.Unlock()
}

type harness struct {
	t        testing.TB
	iss      *authntest.Issuer
	handler  http.Handler
	reg      *prometheus.Registry
	auth     *backend
	patients []*backend
	doctor   *backend
	appt     *backend
	pools    map[string]*upstream.Pool
	upm      *upstream.Metrics
	clock    *clocktest.Clock
	health   *health.Checker
}

type options struct {
	specs     []route.Spec
	patients  []string // instance addresses; default: one backend
	general   ratelimit.Policy
	strict    ratelimit.Policy
	trusted   []string
	origins   []string
	maxBody   int64
	breaker   upstream.BreakerSettings
	noPatient bool
	tracing   *tracing.Tracing
	accessLog io.Writer
	// instances of other services (records...), by service name.
	instances map[string][]string
	// verifier replaces the one trusting the harness's issuer.
	verifier authn.Verifier
}

func newHarness(t testing.TB, o options) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		iss:    authntest.NewIssuer(t),
		reg:    prometheus.NewRegistry(),
		auth:   newBackend(t, "auth"),
		doctor: newBackend(t, "doctor"),
		appt:   newBackend(t, "appointment"),
		pools:  map[string]*upstream.Pool{},
		clock:  clocktest.New(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)),
		health: &health.Checker{},
	}
	h.upm = upstream.NewMetrics(h.reg)
	patientInstances := o.patients
	if patientInstances == nil && !o.noPatient {
		p := newBackend(t, "patient")
		h.patients = append(h.patients, p)
		patientInstances = []string{p.hostport()}
	}
	if o.breaker.ConsecutiveFailures == 0 {
		o.breaker.ConsecutiveFailures = 3
	}
	transport := upstream.NewTransport()
	instances := map[string][]string{
		"auth":        {h.auth.hostport()},
		"doctor":      {h.doctor.hostport()},
		"appointment": {h.appt.hostport()},
		"patient":     patientInstances,
	}
	for s, in := range o.instances {
		instances[s] = in
	}
	specs := o.specs
	if specs == nil {
		specs = route.Defaults()
	}
	// Services the tests do not exercise get a pool with no instance.
	for _, sp := range specs {
		if _, ok := instances[sp.Service]; !ok {
			instances[sp.Service] = nil
		}
	}
	ups := map[string]http.RoundTripper{}
	for s, in := range instances {
		p := upstream.NewPool(s, sd.FixedInstancer(in), transport, o.breaker, h.upm, log.NewNopLogger())
		t.Cleanup(p.Close)
		require.Eventually(t, func() bool { return p.Size() == len(in) }, 2*time.Second, time.Millisecond)
		h.pools[s] = p
		ups[s] = p
	}
	table, err := route.New(specs)
	require.NoError(t, err)
	resolver, err := clientip.New(o.trusted)
	require.NoError(t, err)
	if o.general.Name == "" {
		o.general = ratelimit.Policy{Name: "general", RPS: 1000, Burst: 1000}
	}
	if o.strict.Name == "" {
		o.strict = ratelimit.Policy{Name: "strict", RPS: 0.1, Burst: 3}
	}
	verifier := o.verifier
	if verifier == nil {
		verifier = h.iss.Verifier()
	}
	h.handler, err = edge.New(edge.Config{
		Routes:    table,
		Upstreams: ups,
		Verifier:  verifier,
		ClientIP:  resolver,
		Limits: map[string]*ratelimit.Limiter{
			route.ClassGeneral: ratelimit.New(o.general, ratelimit.WithClock(h.clock.Now)),
			route.ClassStrict:  ratelimit.New(o.strict, ratelimit.WithClock(h.clock.Now)),
		},
		CORSOrigins:  o.origins,
		MaxBodyBytes: o.maxBody,
		HTTPMetrics:  metrics.NewHTTP(h.reg),
		Registerer:   h.reg,
		Local: map[string]http.Handler{
			"/metrics":      metrics.Handler(h.reg),
			"/health/live":  h.health.Live(),
			"/health/ready": h.health.Ready(),
		},
		Tracing:   o.tracing,
		AccessLog: o.accessLog,
		Service:   "gateway",
	})
	require.NoError(t, err)
	return h
}

func (h *harness) token(user string) string {
	return h.iss.Token(h.t, authntest.Claims{UserID: user})
}

type req struct {
	method, path, body, token, remote string
	header                            http.Header
}

func (h *harness) do(r req) *httptest.ResponseRecorder {
	h.t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	for k, vs := range r.header {
		hr.Header[k] = vs
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, hr)
	return rec
}

type problemDoc struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"requestId"`
}

func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) problemDoc {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p problemDoc
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, status, p.Status)
	assert.NotEmpty(t, p.RequestID)
	assert.Equal(t, rec.Header().Get("X-Request-ID"), p.RequestID)
	return p
}

func TestRoutesByPathToServices(t *testing.T) {
	h := newHarness(t, options{})
	tok := h.token("u1")
	cases := []struct{ method, path, service string }{
		{"GET", "/api/v1/patients/0190?x=1&y=%2F", "patient"},
		{"GET", "/api/v1/patients", "patient"},
		{"PUT", "/api/v1/patients/1/history/2", "patient"},
		{"GET", "/api/v1/doctors/1/slots?from=2027-03-01", "doctor"},
		{"DELETE", "/api/v1/specializations/9", "doctor"},
		{"POST", "/api/v1/appointments", "appointment"},
		{"GET", "/api/v1/appointments/0190/cancel", "appointment"},
		{"GET", "/api/v1/auth/me", "auth"},
		{"GET", "/.well-known/jwks.json", "auth"},
	}
	for _, c := range cases {
		rec := h.do(req{method: c.method, path: c.path, token: tok})
		require.Equal(t, http.StatusOK, rec.Code, c.path)
		var got map[string]string
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
		assert.Equal(t, c.service, got["service"], c.path)
		p, q, _ := strings.Cut(c.path, "?")
		assert.Equal(t, p, got["path"], "paths are not rewritten")
		assert.Equal(t, q, got["query"])
	}
}

func TestUnknownPathIs404AndWrongMethod405(t *testing.T) {
	h := newHarness(t, options{})
	for _, p := range []string{"/", "/api/v1/nothing", "/api/v2/patients", "/index.html"} {
		pd := requireProblem(t, h.do(req{path: p, token: h.token("u")}), http.StatusNotFound)
		assert.Equal(t, p, pd.Instance)
	}
	rec := h.do(req{method: "GET", path: "/api/v1/auth/login"})
	requireProblem(t, rec, http.StatusMethodNotAllowed)
	assert.Equal(t, "POST", rec.Header().Get("Allow"))
	rec = h.do(req{method: "TRACE", path: "/api/v1/patients/1", token: h.token("u")})
	requireProblem(t, rec, http.StatusMethodNotAllowed)
	assert.Contains(t, rec.Header().Get("Allow"), "GET")
	assert.Zero(t, h.auth.hits.Load()+h.patients[0].hits.Load())
}

func TestNonCanonicalPathsRefused(t *testing.T) {
	h := newHarness(t, options{})
	for _, p := range []string{"/api/v1/auth/login/../../patients/1", "/api/v1//patients", "/api/v1/auth/./me"} {
		hr := httptest.NewRequest(http.MethodPost, "/", nil)
		hr.URL.Path = p
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, hr)
		requireProblem(t, rec, http.StatusBadRequest)
	}
	assert.Zero(t, h.auth.hits.Load()+h.patients[0].hits.Load())
}

// A query string the services could not parse is refused at the gateway,
// naming the parameter, before the token is checked and without a trip to
// the service.
func TestMalformedQueryRefused(t *testing.T) {
	h := newHarness(t, options{})
	for path, field := range map[string]string{
		"/api/v1/doctors?limit=5%zz":           "limit",
		"/api/v1/patients?q=a%":                "q",
		"/api/v1/patients?status=x;limit=5":    "status",
		"/api/v1/patients/0190?bad%G1name=yes": "query",
	} {
		rec := h.do(req{path: path})
		requireProblem(t, rec, http.StatusBadRequest)
		var p struct {
			Type   string `json:"type"`
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		assert.Equal(t, "urn:medisync:problem:validation", p.Type, path)
		if assert.Len(t, p.Errors, 1, path) {
			assert.Equal(t, field, p.Errors[0].Field, path)
		}
	}
	assert.Zero(t, h.doctor.hits.Load()+h.patients[0].hits.Load())
	rec := h.do(req{path: "/api/v1/patients?q=50%25", token: h.token("u")})
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

func noneToken(t *testing.T) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{
		"iss": "medisync-auth", "aud": "medisync", "sub": "admin", "roles": []string{"ADMIN"},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	require.NoError(t, err)
	return header + "." + enc.EncodeToString(claims) + "."
}

func TestProtectedRoutesNeedAValidToken(t *testing.T) {
	h := newHarness(t, options{})
	other := authntest.NewIssuer(t)
	valid := h.token("u1")
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","roles":["ADMIN"]}`)) + "." + parts[2]
	cases := map[string]http.Header{
		"missing":      {},
		"not bearer":   {"Authorization": {"Basic dXNlcjpwYXNz"}},
		"empty bearer": {"Authorization": {"Bearer "}},
		"garbage":      {"Authorization": {"Bearer not.a.jwt"}},
		"forged":       {"Authorization": {"Bearer " + other.Token(t, authntest.Claims{UserID: "u1"})}},
		"tampered":     {"Authorization": {"Bearer " + tampered}},
		"expired": {"Authorization": {"Bearer " + h.iss.Token(t, authntest.Claims{
			IssuedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(-30 * time.Minute)})}},
		"alg none":       {"Authorization": {"Bearer " + noneToken(t)}},
		"wrong audience": {"Authorization": {"Bearer " + h.iss.Token(t, authntest.Claims{Audience: "elsewhere"})}},
	}
	for name, hdr := range cases {
		for _, path := range []string{"/api/v1/patients/1", "/api/v1/doctors", "/api/v1/auth/me", "/api/v1/auth/users"} {
			rec := h.do(req{path: path, header: hdr})
			requireProblem(t, rec, http.StatusUnauthorized)
			assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer", name)
		}
	}
	assert.Zero(t, h.patients[0].hits.Load(), "no request reached a service")
	assert.Zero(t, h.doctor.hits.Load())
	assert.Zero(t, h.auth.hits.Load())
	assert.Equal(t, 6.0*4, counter(t, h, "medisync_gateway_auth_rejections_total", "invalid"))
	assert.Equal(t, 3.0*4, counter(t, h, "medisync_gateway_auth_rejections_total", "missing"))

	rec := h.do(req{path: "/api/v1/patients/1", token: valid})
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "Bearer "+valid, h.patients[0].lastRequest().Header.Get("Authorization"), "passed on unchanged")
}

// While auth's JWKS cannot be fetched, a token naming a key the gateway does
// not hold cannot be judged: a 503 with Retry-After, as shared/authn's
// middleware answers, not a 401 that sends the client to sign in again, and
// no spending of the client's budget, which is for failed guesses.
func TestUnfetchableKeysAreA503(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	v, err := authn.NewJWKSVerifier(context.Background(), authn.JWKSOptions{URL: down.URL + "/.well-known/jwks.json",
		Client: &http.Client{Timeout: time.Second}, UnknownKIDEvery: time.Nanosecond}, authn.Config{})
	require.NoError(t, err)
	h := newHarness(t, options{verifier: v, general: ratelimit.Policy{Name: "general", RPS: 0.001, Burst: 2}})

	for i := 0; i < 3; i++ {
		rec := h.do(req{path: "/api/v1/patients/1", token: h.token("u1")})
		requireProblem(t, rec, http.StatusServiceUnavailable)
		assert.NotEmpty(t, rec.Header().Get("Retry-After"))
		assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
	}
	assert.Zero(t, h.patients[0].hits.Load())
	assert.Zero(t, counter(t, h, "medisync_gateway_auth_rejections_total", "invalid"), "not a refused token")

	// A missing token is still a 401, and spends the budget.
	for i := 0; i < 2; i++ {
		requireProblem(t, h.do(req{path: "/api/v1/patients/1"}), http.StatusUnauthorized)
	}
	requireProblem(t, h.do(req{path: "/api/v1/patients/1"}), http.StatusTooManyRequests)
}

// counter reads a counter with one label from the registry (0 if absent).
func counter(t *testing.T, h *harness, name, label string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestPublicRoutesPassWithoutToken(t *testing.T) {
	h := newHarness(t, options{strict: ratelimit.Policy{Name: "strict", RPS: 10, Burst: 100}})
	for _, p := range []string{"/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout",
		"/api/v1/auth/password/forgot", "/api/v1/auth/password/reset"} {
		rec := h.do(req{method: "POST", path: p, body: `{"email":"a@b.c"}`})
		assert.Equal(t, http.StatusOK, rec.Code, p)
		assert.Equal(t, `{"email":"a@b.c"}`, h.auth.body, "the body is passed on")
	}
	rec := h.do(req{path: "/.well-known/jwks.json"})
	assert.Equal(t, http.StatusOK, rec.Code)
	// A bad token on a public route is not the gateway's business.
	rec = h.do(req{method: "POST", path: "/api/v1/auth/logout", header: http.Header{"Authorization": {"Bearer junk"}}})
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.EqualValues(t, 8, h.auth.hits.Load())
}

func TestImpersonationHeadersAreStripped(t *testing.T) {
	h := newHarness(t, options{})
	tok := h.token("u1")
	rec := h.do(req{path: "/api/v1/patients/1", token: tok, remote: "203.0.113.5:4000", header: http.Header{
		"X-User-Id":              {"admin"},
		"X-User-Roles":           {"ADMIN"},
		"X-Forwarded-User":       {"admin"},
		"X-Forwarded-For":        {"10.0.0.1"},
		"X-Forwarded-Host":       {"internal"},
		"X-Authenticated-User":   {"admin"},
		"X-Authenticated-Roles":  {"ADMIN"},
		"X-Real-Ip":              {"10.0.0.1"},
		"Forwarded":              {"for=10.0.0.1"},
		"X-Http-Method-Override": {"DELETE"},
		"X-Original-Url":         {"/api/v1/auth/users"},
		"X-Remote-User":          {"admin"},
		"X-Roles":                {"ADMIN"},
		"X-Auth-Request-User":    {"admin"},
		"X-Principal-Id":         {"admin"},
		"X-Remote-Group":         {"admins"},
		"X_user_id":              {"admin"},
		"X_forwarded_host":       {"internal"},
		"Remote_user":            {"admin"},
		"X-Real_Ip":              {"10.0.0.1"},
		"X_request_tag":          {"kept"},
		"Accept-Language":        {"fr"},
		"If-Match":               {`"3"`},
	}})
	require.Equal(t, http.StatusOK, rec.Code)
	got := h.patients[0].lastRequest().Header
	for _, k := range []string{"X-User-Id", "X-User-Roles", "X-Forwarded-User", "X-Forwarded-Host", "X-Authenticated-User",
		"X-Authenticated-Roles", "X-Real-Ip", "Forwarded", "X-Http-Method-Override", "X-Original-Url", "X-Remote-User", "X-Roles",
		"X-Auth-Request-User", "X-Principal-Id", "X-Remote-Group", "X_user_id", "X_forwarded_host", "Remote_user", "X-Real_Ip"} {
		assert.Empty(t, got.Values(k), k)
	}
	assert.Equal(t, "kept", got.Get("X_request_tag"), "a header with an underscore that poses as nobody is passed on")
	assert.Equal(t, []string{"203.0.113.5"}, got.Values("X-Forwarded-For"), "an untrusted peer's chain is replaced")
	assert.Equal(t, "http", got.Get("X-Forwarded-Proto"))
	assert.Equal(t, "fr", got.Get("Accept-Language"))
	assert.Equal(t, `"3"`, got.Get("If-Match"))
	assert.Equal(t, "Bearer "+tok, got.Get("Authorization"))
}

// Hop-by-hop headers, and those the client's Connection header names, are
// for the client's connection to the gateway alone; a TE asking for trailers
// is kept, as the service may answer with them.
func TestHopByHopHeadersAreNotForwarded(t *testing.T) {
	h := newHarness(t, options{})
	rec := h.do(req{path: "/api/v1/patients/1", token: h.token("u1"), header: http.Header{
		"Connection":   {"keep-alive, X-Hop-Secret"},
		"Keep-Alive":   {"timeout=5"},
		"X-Hop-Secret": {"for the first hop"},
		"Te":           {"trailers"},
		"If-Match":     {`"3"`},
	}})
	require.Equal(t, http.StatusOK, rec.Code)
	got := h.patients[0].lastRequest().Header
	for _, k := range []string{"Connection", "Keep-Alive", "X-Hop-Secret"} {
		assert.Empty(t, got.Values(k), k)
	}
	assert.Equal(t, "trailers", got.Get("Te"))
	assert.Equal(t, `"3"`, got.Get("If-Match"))
}

// Request trailers of a chunked body would reach the service as the client
// wrote them, past the stripping above; the gateway forwards none. The
// Upgrade case goes through httputil.ReverseProxy, the other through the
// lean path.
func TestRequestTrailersAreDropped(t *testing.T) {
	h := newHarness(t, options{})
	var mu sync.Mutex
	var got http.Header
	h.patients[0].setHandler(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // trailers are set once the body is read
		mu.Lock()
		got = r.Trailer.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for name, upgrade := range map[string]string{"plain": "", "upgrade": "Connection: Upgrade\r\nUpgrade: websocket\r\n"} {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			code := rawExchange(t, addr, "POST /api/v1/patients/p1/notes HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "+h.token("u-1")+"\r\n"+
				upgrade+"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: X-User-Id, X-Forwarded-For, X-Real-Ip\r\n\r\n"+
				"2\r\n{}\r\n0\r\nX-User-Id: admin-1\r\nX-Forwarded-For: 10.9.9.9\r\nX-Real-Ip: 10.9.9.9\r\n\r\n")
			require.Equal(t, http.StatusNoContent, code)
			mu.Lock()
			defer mu.Unlock()
			assert.Empty(t, got, "no client trailer reaches the service")
		})
	}
}

func TestForwardedForFromTrustedProxy(t *testing.T) {
	h := newHarness(t, options{trusted: []string{"10.0.0.0/8"}})
	rec := h.do(req{path: "/api/v1/patients/1", token: h.token("u"), remote: "10.1.1.1:80",
		header: http.Header{"X-Forwarded-For": {"198.51.100.7"}}})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "198.51.100.7, 10.1.1.1", h.patients[0].lastRequest().Header.Get("X-Forwarded-For"))
	assert.Equal(t, "http", h.patients[0].lastRequest().Header.Get("X-Forwarded-Proto"))

	rec = h.do(req{path: "/api/v1/patients/1", token: h.token("u"), remote: "10.1.1.1:80",
		header: http.Header{"X-Forwarded-Proto": {"https"}}})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "https", h.patients[0].lastRequest().Header.Get("X-Forwarded-Proto"), "a trusted proxy terminated TLS")

	rec = h.do(req{path: "/api/v1/patients/1", token: h.token("u"), remote: "203.0.113.1:80",
		header: http.Header{"X-Forwarded-Proto": {"https"}}})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "http", h.patients[0].lastRequest().Header.Get("X-Forwarded-Proto"), "anyone else's claim is ignored")
}

func TestStrictRateLimitOnLogin(t *testing.T) {
	h := newHarness(t, options{strict: ratelimit.Policy{Name: "strict", RPS: 0.1, Burst: 3}})
	login := req{method: "POST", path: "/api/v1/auth/login", body: "{}", remote: "198.51.100.1:1000"}
	for i := 2; i >= 0; i-- {
		rec := h.do(login)
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, `"strict";q=3;w=30`, rec.Header().Get("RateLimit-Policy"))
		assert.True(t, strings.HasPrefix(rec.Header().Get("RateLimit"), `"strict";r=`+string(rune('0'+i))+";t="), rec.Header().Get("RateLimit"))
	}
	rec := h.do(login)
	requireProblem(t, rec, http.StatusTooManyRequests)
	assert.Equal(t, "10", rec.Header().Get("Retry-After"))
	assert.Equal(t, `"strict";r=0;t=10`, rec.Header().Get("RateLimit"))
	assert.Equal(t, `"strict";q=3;w=30`, rec.Header().Get("RateLimit-Policy"))
	assert.EqualValues(t, 3, h.auth.hits.Load(), "the refused request never reached auth")

	// Another address has its own bucket; the same address on a protected
	// general route is not affected by the strict class.
	rec = h.do(req{method: "POST", path: "/api/v1/auth/login", body: "{}", remote: "198.51.100.2:1000"})
	assert.Equal(t, http.StatusOK, rec.Code)
	rec = h.do(req{path: "/api/v1/auth/me", token: h.token("u"), remote: "198.51.100.1:1000"})
	assert.Equal(t, http.StatusOK, rec.Code)

	// Spoofing X-Forwarded-For from an untrusted address earns no new bucket.
	rec = h.do(req{method: "POST", path: "/api/v1/auth/login", body: "{}", remote: "198.51.100.1:1000",
		header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}})
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)

	h.clock.Advance(10 * time.Second)
	assert.Equal(t, http.StatusOK, h.do(login).Code, "a token came back")
	assert.Equal(t, 2.0, counter(t, h, "medisync_gateway_ratelimit_rejections_total", "strict"))
}

func TestGeneralLimitPerUserNotPerAddress(t *testing.T) {
	h := newHarness(t, options{general: ratelimit.Policy{Name: "general", RPS: 1, Burst: 2}})
	alice, bob := h.token("alice"), h.token("bob")
	same := "198.51.100.9:1"
	assert.Equal(t, http.StatusOK, h.do(req{path: "/api/v1/patients/1", token: alice, remote: same}).Code)
	assert.Equal(t, http.StatusOK, h.do(req{path: "/api/v1/patients/1", token: alice, remote: "198.51.100.10:1"}).Code)
	rec := h.do(req{path: "/api/v1/patients/1", token: alice, remote: "198.51.100.11:1"})
	requireProblem(t, rec, http.StatusTooManyRequests)
	assert.Equal(t, `"general";q=2;w=2`, rec.Header().Get("RateLimit-Policy"))
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusOK, h.do(req{path: "/api/v1/patients/1", token: bob, remote: same}).Code,
		"another user behind the same address has a bucket of their own")
}

func TestClientsBehindTrustedProxyAreKeyedApart(t *testing.T) {
	h := newHarness(t, options{trusted: []string{"10.0.0.1"}, strict: ratelimit.Policy{Name: "strict", RPS: 0.01, Burst: 1}})
	viaProxy := func(client string) int {
		return h.do(req{method: "POST", path: "/api/v1/auth/password/forgot", body: "{}", remote: "10.0.0.1:5555",
			header: http.Header{"X-Forwarded-For": {client}}}).Code
	}
	assert.Equal(t, http.StatusOK, viaProxy("198.51.100.1"))
	assert.Equal(t, http.StatusTooManyRequests, viaProxy("198.51.100.1"))
	assert.Equal(t, http.StatusOK, viaProxy("198.51.100.2"))
}

func TestAuthFailuresSpendTheAddressBudget(t *testing.T) {
	h := newHarness(t, options{general: ratelimit.Policy{Name: "general", RPS: 1, Burst: 3}})
	codes := []int{}
	for range 5 {
		codes = append(codes, h.do(req{path: "/api/v1/patients/1", header: http.Header{"Authorization": {"Bearer forged"}}}).Code)
	}
	assert.Equal(t, []int{401, 401, 401, 429, 429}, codes)
	assert.Zero(t, h.patients[0].hits.Load())
}

func TestDisabledGeneralClass(t *testing.T) {
	h := newHarness(t, options{general: ratelimit.Policy{Name: "general", RPS: 0}})
	tok := h.token("u")
	for range 50 {
		rec := h.do(req{path: "/api/v1/patients/1", token: tok})
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Empty(t, rec.Header().Get("RateLimit"))
	}
}

func TestLoadBalancesAcrossInstances(t *testing.T) {
	a, b := newBackend(t, "patient-a"), newBackend(t, "patient-b")
	h := newHarness(t, options{patients: []string{a.hostport(), b.hostport()}})
	tok := h.token("u")
	for range 20 {
		require.Equal(t, http.StatusOK, h.do(req{path: "/api/v1/patients/1", token: tok}).Code)
	}
	assert.EqualValues(t, 10, a.hits.Load())
	assert.EqualValues(t, 10, b.hits.Load())
}

func TestBreakerSkipsFailingInstance(t *testing.T) {
	a, b := newBackend(t, "patient-a"), newBackend(t, "patient-b")
	b.setHandler(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	h := newHarness(t, options{patients: []string{a.hostport(), b.hostport()},
		breaker: upstream.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Hour}})
	tok := h.token("u")
	for range 6 {
		h.do(req{path: "/api/v1/patients/1", token: tok})
	}
	assert.EqualValues(t, 3, b.hits.Load())
	for range 10 {
		require.Equal(t, http.StatusOK, h.do(req{path: "/api/v1/patients/1", token: tok}).Code)
	}
	assert.EqualValues(t, 3, b.hits.Load(), "the open instance gets nothing")
	assert.Equal(t, 2.0, testutil.ToFloat64(h.upm.Breaker.WithLabelValues("patient", b.hostport())))

	// With every circuit open the request is sent anyway (panic mode), and
	// the instance's own answer passes through.
	a.setHandler(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	for range 3 {
		h.do(req{path: "/api/v1/patients/1", token: tok})
	}
	hitsBefore := a.hits.Load() + b.hits.Load()
	rec := h.do(req{path: "/api/v1/patients/1", token: tok})
	assert.NotEqual(t, http.StatusOK, rec.Code)
	assert.Equal(t, hitsBefore+1, a.hits.Load()+b.hits.Load(), "sent past the open circuits")
}

func TestRetryOnConnectFailureForGetOnly(t *testing.T) {
	good := newBackend(t, "patient")
	h := newHarness(t, options{patients: []string{good.hostport(), runtest.RefusedAddr(t)}, breaker: upstream.BreakerSettings{ConsecutiveFailures: 100}})
	tok := h.token("u")
	for range 4 {
		require.Equal(t, http.StatusOK, h.do(req{path: "/api/v1/patients/1", token: tok}).Code)
	}
	assert.Equal(t, 2.0, testutil.ToFloat64(h.upm.Retries.WithLabelValues("patient")))
	codes := map[int]int{}
	for range 4 {
		rec := h.do(req{method: "POST", path: "/api/v1/patients", body: "{}", token: tok})
		codes[rec.Code]++
		if rec.Code == http.StatusBadGateway {
			pd := requireProblem(t, rec, http.StatusBadGateway)
			assert.Contains(t, pd.Detail, "could not be reached")
		}
	}
	assert.Equal(t, map[int]int{200: 2, 502: 2}, codes, "a POST is never sent twice")
	assert.Equal(t, 2.0, testutil.ToFloat64(h.upm.Retries.WithLabelValues("patient")))
}

func TestUpstreamFaultsAsProblems(t *testing.T) {
	t.Run("502 when the only instance is down", func(t *testing.T) {
		h := newHarness(t, options{patients: []string{runtest.RefusedAddr(t)}})
		rec := h.do(req{path: "/api/v1/patients/1", token: h.token("u")})
		pd := requireProblem(t, rec, http.StatusBadGateway)
		assert.Equal(t, "/api/v1/patients/1", pd.Instance)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"), "a fault that passes says when to try again")
	})
	t.Run("503 when no instance is registered", func(t *testing.T) {
		h := newHarness(t, options{patients: []string{}})
		rec := h.do(req{path: "/api/v1/patients/1", token: h.token("u")})
		requireProblem(t, rec, http.StatusServiceUnavailable)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	})
	t.Run("504 when the route timeout passes", func(t *testing.T) {
		h := newHarness(t, options{specs: []route.Spec{
			{Path: "/api/v1/patients/**", Service: "patient", Timeout: "30ms"},
			{Path: "/api/v1/auth/**", Service: "auth"},
			{Path: "/api/v1/doctors/**", Service: "doctor"},
		}})
		h.patients[0].setHandler(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		rec := h.do(req{path: "/api/v1/patients/1", token: h.token("u")})
		pd := requireProblem(t, rec, http.StatusGatewayTimeout)
		assert.Contains(t, pd.Detail, "in time")
		assert.Equal(t, "1", rec.Header().Get("Retry-After"), "a fault that passes says when to try again")
	})
	t.Run("upstream errors pass through untouched", func(t *testing.T) {
		h := newHarness(t, options{})
		h.patients[0].setHandler(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"status":409}`)
		})
		rec := h.do(req{method: "POST", path: "/api/v1/patients", body: "{}", token: h.token("u")})
		assert.Equal(t, http.StatusConflict, rec.Code)
		assert.Equal(t, `{"status":409}`, rec.Body.String())
	})
}

// Retry-After goes only with a fault whose request is safe to send again: a
// POST that reached the instance and then timed out (504) or lost its
// connection (502) may have been carried out, and a client told to resend it
// a second later could create a patient twice. A POST whose connection could
// not be made never reached an instance, and is told to try again.
func TestRetryAfterOnlyWhenTheRequestIsSafeToSendAgain(t *testing.T) {
	post := func(h *harness) *httptest.ResponseRecorder {
		return h.do(req{method: http.MethodPost, path: "/api/v1/patients", body: `{"name":"x"}`, token: h.token("u"),
			header: http.Header{"Content-Type": {"application/json"}}})
	}
	t.Run("none on a 504 after the POST was sent", func(t *testing.T) {
		h := newHarness(t, options{specs: []route.Spec{
			{Path: "/api/v1/patients/**", Service: "patient", Timeout: "30ms"},
			{Path: "/api/v1/auth/**", Service: "auth"},
			{Path: "/api/v1/doctors/**", Service: "doctor"},
		}})
		var arrived atomic.Int64
		h.patients[0].setHandler(func(w http.ResponseWriter, r *http.Request) {
			arrived.Add(1)
			<-r.Context().Done()
		})
		rec := post(h)
		requireProblem(t, rec, http.StatusGatewayTimeout)
		require.EqualValues(t, 1, arrived.Load(), "the instance got the POST")
		assert.Empty(t, rec.Header().Get("Retry-After"), "a POST the instance may have carried out is not to be resent")
	})
	t.Run("none on a 502 after the POST was sent", func(t *testing.T) {
		h := newHarness(t, options{})
		var arrived atomic.Int64
		h.patients[0].setHandler(func(w http.ResponseWriter, r *http.Request) {
			arrived.Add(1)
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close() // the instance dies mid-answer
			}
		})
		rec := post(h)
		requireProblem(t, rec, http.StatusBadGateway)
		require.EqualValues(t, 1, arrived.Load(), "the instance got the POST")
		assert.Empty(t, rec.Header().Get("Retry-After"), "a POST the instance may have carried out is not to be resent")
	})
	t.Run("on a 502 of a POST that never reached an instance", func(t *testing.T) {
		h := newHarness(t, options{patients: []string{runtest.RefusedAddr(t)}})
		rec := post(h)
		requireProblem(t, rec, http.StatusBadGateway)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"), "a connection never made carried nothing out")
	})
	t.Run("on a 502 of a PUT after it was sent", func(t *testing.T) {
		h := newHarness(t, options{})
		h.patients[0].setHandler(func(w http.ResponseWriter, r *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close()
			}
		})
		rec := h.do(req{method: http.MethodPut, path: "/api/v1/patients/1", body: `{"name":"x"}`, token: h.token("u"),
			header: http.Header{"Content-Type": {"application/json"}}})
		requireProblem(t, rec, http.StatusBadGateway)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"), "a PUT is safe to send again")
	})
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, options{maxBody: 16, strict: ratelimit.Policy{Name: "strict", RPS: 100, Burst: 100}})
	rec := h.do(req{method: "POST", path: "/api/v1/auth/login", body: strings.Repeat("x", 17)})
	requireProblem(t, rec, http.StatusRequestEntityTooLarge)
	assert.Zero(t, h.auth.hits.Load())

	// A body of exactly the limit passes.
	require.Equal(t, http.StatusOK, h.do(req{method: "POST", path: "/api/v1/auth/login", body: strings.Repeat("x", 16)}).Code)
	assert.EqualValues(t, 1, h.auth.hits.Load())

	// A chunked body (no Content-Length) is cut off while it streams.
	hr := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", io.MultiReader(strings.NewReader(strings.Repeat("y", 64))))
	hr.ContentLength = -1
	rec = httptest.NewRecorder()
	h.handler.ServeHTTP(rec, hr)
	requireProblem(t, rec, http.StatusRequestEntityTooLarge)

	assert.Equal(t, http.StatusOK, h.do(req{method: "POST", path: "/api/v1/auth/login", body: "{}"}).Code)
}

func TestCORS(t *testing.T) {
	h := newHarness(t, options{origins: []string{"https://app.medisync.example", "https://admin.medisync.example/"}})
	pre := http.Header{
		"Origin":                         {"https://app.medisync.example"},
		"Access-Control-Request-Method":  {"PUT"},
		"Access-Control-Request-Headers": {"authorization, if-match, content-type"},
	}
	rec := h.do(req{method: "OPTIONS", path: "/api/v1/patients/1", header: pre})
	require.Equal(t, http.StatusNoContent, rec.Code)
	hd := rec.Header()
	assert.Equal(t, "https://app.medisync.example", hd.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, hd.Get("Access-Control-Allow-Methods"), "PUT")
	assert.Contains(t, hd.Get("Access-Control-Allow-Headers"), "Authorization")
	assert.Contains(t, hd.Get("Access-Control-Allow-Headers"), "If-Match")
	assert.Equal(t, "600", hd.Get("Access-Control-Max-Age"))
	assert.Contains(t, hd.Get("Vary"), "Origin")
	assert.Empty(t, hd.Get("Access-Control-Allow-Credentials"))
	assert.Zero(t, h.patients[0].hits.Load(), "a preflight needs no token and reaches no service")

	rec = h.do(req{method: "OPTIONS", path: "/api/v1/auth/login", header: http.Header{
		"Origin": {"https://admin.medisync.example"}, "Access-Control-Request-Method": {"POST"}}})
	require.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "POST", rec.Header().Get("Access-Control-Allow-Methods"))

	rec = h.do(req{method: "OPTIONS", path: "/api/v1/patients/1", header: http.Header{
		"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"GET"}}})
	requireProblem(t, rec, http.StatusForbidden)
	assert.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))

	rec = h.do(req{method: "OPTIONS", path: "/api/v1/nowhere", header: pre})
	requireProblem(t, rec, http.StatusNotFound)

	rec = h.do(req{path: "/api/v1/patients/1", token: h.token("u"), header: http.Header{"Origin": {"https://app.medisync.example"}}})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "https://app.medisync.example", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.Contains(t, rec.Header().Get("Access-Control-Expose-Headers"), "ETag")

	// Errors answered by the gateway carry CORS headers too, so a browser
	// can read a 401.
	rec = h.do(req{path: "/api/v1/patients/1", header: http.Header{"Origin": {"https://app.medisync.example"}}})
	requireProblem(t, rec, http.StatusUnauthorized)
	assert.Equal(t, "https://app.medisync.example", rec.Header().Get("Access-Control-Allow-Origin"))

	rec = h.do(req{path: "/api/v1/patients/1", token: h.token("u"), header: http.Header{"Origin": {"https://evil.example"}}})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
}

func TestCORSOffByDefault(t *testing.T) {
	h := newHarness(t, options{})
	rec := h.do(req{method: "OPTIONS", path: "/api/v1/auth/login", header: http.Header{
		"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"POST"}}})
	assert.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
	assert.NotEqual(t, http.StatusNoContent, rec.Code)
}

func TestPreflightNeverNeedsAToken(t *testing.T) {
	// Without CORS, and with CORS for another origin, a preflight to a
	// protected path is refused as a preflight (403), never 401, and
	// reaches no service.
	for _, origins := range [][]string{nil, {"https://app.medisync.example"}} {
		h := newHarness(t, options{origins: origins})
		for _, path := range []string{"/api/v1/patients/1", "/api/v1/doctors/me", "/api/v1/auth/login"} {
			rec := h.do(req{method: "OPTIONS", path: path, header: http.Header{
				"Origin": {"https://elsewhere.example"}, "Access-Control-Request-Method": {"GET"}}})
			requireProblem(t, rec, http.StatusForbidden)
			assert.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"), path)
			assert.Empty(t, rec.Header().Get("Access-Control-Allow-Methods"), path)
		}
		assert.Zero(t, h.patients[0].hits.Load())
		assert.Zero(t, h.doctor.hits.Load())
	}
}

func TestRequestIDPropagation(t *testing.T) {
	h := newHarness(t, options{})
	tok := h.token("u")
	rec := h.do(req{path: "/api/v1/patients/1", token: tok, header: http.Header{"X-Request-Id": {"abc-123"}}})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, []string{"abc-123"}, rec.Header().Values("X-Request-ID"), "echoed once")
	assert.Equal(t, "abc-123", h.patients[0].lastRequest().Header.Get("X-Request-ID"))

	rec = h.do(req{path: "/api/v1/patients/1", token: tok})
	id := rec.Header().Get("X-Request-ID")
	require.Len(t, id, 32)
	assert.Equal(t, id, h.patients[0].lastRequest().Header.Get("X-Request-ID"), "a generated ID goes upstream too")
	assert.Len(t, rec.Header().Values("X-Request-ID"), 1)

	rec = h.do(req{path: "/api/v1/patients/1", token: tok, header: http.Header{"X-Request-Id": {"bad id with spaces"}}})
	assert.NotEqual(t, "bad id with spaces", rec.Header().Get("X-Request-ID"))
	assert.Equal(t, rec.Header().Get("X-Request-ID"), h.patients[0].lastRequest().Header.Get("X-Request-ID"))
}

func TestSecurityHeadersOnce(t *testing.T) {
	h := newHarness(t, options{})
	rec := h.do(req{path: "/api/v1/patients/1", token: h.token("u")})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, []string{"nosniff"}, rec.Header().Values("X-Content-Type-Options"))
	assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
	assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
	assert.NotEmpty(t, rec.Header().Get("Content-Security-Policy"))
	assert.Equal(t, "patient", rec.Header().Get("X-Served-By"), "upstream headers pass")
	rec = h.do(req{path: "/nowhere"})
	assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
}

func TestLocalEndpoints(t *testing.T) {
	h := newHarness(t, options{})
	assert.Equal(t, http.StatusOK, h.do(req{path: "/health/live"}).Code)
	assert.Equal(t, http.StatusOK, h.do(req{path: "/health/ready"}).Code)
	h.do(req{path: "/api/v1/patients/1", token: h.token("u")})
	rec := h.do(req{path: "/metrics"})
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	for _, m := range []string{
		`medisync_http_requests_total{code="200",method="GET",route="/api/v1/patients/**"} 1`,
		`medisync_http_request_duration_seconds_bucket{method="GET",route="/api/v1/patients/**"`,
		`medisync_gateway_breaker_state{instance="` + h.patients[0].hostport() + `",service="patient"} 0`,
	} {
		assert.Contains(t, body, m)
	}
	rec = h.do(req{method: "POST", path: "/metrics"})
	requireProblem(t, rec, http.StatusMethodNotAllowed)
	h.health.SetDraining()
	assert.Equal(t, http.StatusServiceUnavailable, h.do(req{path: "/health/ready"}).Code)
}

func TestMissingUpstreamIsAConfigError(t *testing.T) {
	table, err := route.New(route.Defaults())
	require.NoError(t, err)
	res, _ := clientip.New(nil)
	_, err = edge.New(edge.Config{Routes: table, Verifier: authntest.NewIssuer(t).Verifier(), ClientIP: res,
		Registerer: prometheus.NewRegistry(), Upstreams: map[string]http.RoundTripper{"auth": http.DefaultTransport}})
	assert.ErrorContains(t, err, "doctor, ")
	assert.ErrorContains(t, err, "patient")
	assert.NotContains(t, err.Error(), "auth")
}

func TestClientGoneIsNotAnUpstreamFault(t *testing.T) {
	h := newHarness(t, options{})
	started := make(chan struct{})
	h.patients[0].setHandler(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	hr := httptest.NewRequest(http.MethodGet, "/api/v1/patients/1", nil).WithContext(ctx)
	hr.Header.Set("Authorization", "Bearer "+h.token("u"))
	rec := httptest.NewRecorder()
	go func() { <-started; cancel() }()
	h.handler.ServeHTTP(rec, hr)
	assert.Equal(t, 499, rec.Code)
	assert.Zero(t, testutil.ToFloat64(h.upm.Errors.WithLabelValues("patient", "other")))
	assert.Zero(t, h.pools["patient"].States()[h.patients[0].hostport()], "the breaker counts nothing")
}

// An upstream answer cut short mid-body (the instance dies or resets the
// connection after its headers) is a failure of the gateway's request: the
// client sees a broken connection, and the access log and
// medisync_http_requests_total count a 502 at warn, not the 200 the
// instance announced, so that the error-ratio rules see it.
func TestUpstreamAnswerCutShortIsCountedAsBadGateway(t *testing.T) {
	var access bytes.Buffer
	h := newHarness(t, options{accessLog: &access})
	h.doctor.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"items":[`)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the instance drops the connection
	})
	srv := httptest.NewServer(h.handler)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/doctors/x", nil)
	req.Header.Set("Authorization", "Bearer "+h.token("u1"))
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	require.Error(t, err, "the client sees the answer cut short")

	assert.Equal(t, map[string]float64{"502": 1}, requestsByCode(t, h.reg, "/api/v1/doctors/**"))
	assert.Contains(t, access.String(), "status=502")
	assert.Contains(t, access.String(), "level=warn")
}

// requestsByCode returns medisync_http_requests_total of route by status.
func requestsByCode(t *testing.T, reg *prometheus.Registry, route string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "medisync_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route {
				got[labels["code"]] += m.GetCounter().GetValue()
			}
		}
	}
	return got
}
