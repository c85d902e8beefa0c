package edge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/edge"
	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clientip"
	"github.com/medisync/medisync/shared/metrics"
)

// cannedUpstream answers from memory, so that only the gateway's own work
// is measured.
type cannedUpstream struct{ body []byte }

func (c cannedUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: r,
	}, nil
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

func leanGateway(t testing.TB, logs io.Writer, logFormat string) (http.Handler, string) {
	iss := authntest.NewIssuer(t)
	table, err := route.New(route.Defaults())
	require.NoError(t, err)
	resolver, err := clientip.New(nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	up := cannedUpstream{body: []byte(`[{"id":"0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee","name":"Cardiology"}]`)}
	upstreams := map[string]http.RoundTripper{}
	for _, sp := range route.Defaults() {
		upstreams[sp.Service] = up
	}
	h, err := edge.New(edge.Config{
		Routes:    table,
		Upstreams: upstreams,
		Verifier:  iss.Verifier(),
		ClientIP:  resolver,
		Limits: map[string]*ratelimit.Limiter{
			route.ClassGeneral: ratelimit.New(ratelimit.Policy{Name: "general", RPS: 1e9, Burst: 1 << 30}),
		},
		HTTPMetrics: metrics.NewHTTP(reg),
		Registerer:  reg,
		AccessLog:   logs,
		LogFormat:   logFormat,
		Service:     "gateway",
	})
	require.NoError(t, err)
	return h, iss.Token(t, authntest.Claims{UserID: "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"})
}

// The gateway's own work for an authenticated GET (token from the cache,
// rate limit, route, metrics, access log, forwarding and copying the
// answer) takes a handful of allocations; the HTTP server's and client's
// own are not counted here.
func TestProxiedRequestAllocations(t *testing.T) {
	var logs bytes.Buffer
	h, tok := leanGateway(t, &logs, "logfmt")
	req := httptest.NewRequest(http.MethodGet, "/api/v1/specializations", nil)
	serve := func() {
		r := req.Clone(req.Context())
		r.Header = http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json"}}
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
		if w.code != http.StatusOK {
			t.Fatalf("status %d", w.code)
		}
		logs.Reset()
	}
	serve()
	// What the test itself allocates: the request, the writer, the canned
	// upstream answer.
	up := cannedUpstream{body: []byte("[]")}
	base := testing.AllocsPerRun(200, func() {
		r := req.Clone(req.Context())
		r.Header = http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json"}}
		w := &discardWriter{h: http.Header{}}
		res, _ := up.RoundTrip(r)
		w.code = res.StatusCode
	})
	total := testing.AllocsPerRun(200, serve)
	own := total - base
	t.Logf("gateway allocations per request: %.0f", own)
	// About 16 are the gateway's (the route timeout's context and timer,
	// the request copy, the exchange, the request ID, headers it sets); the
	// rest are the canned answer's, which escape through the gateway.
	assert.LessOrEqual(t, own, 24.0, "allocations per proxied request")
}

// The access line has the keys of shared/logging's request line, caller
// among them (docs/logging.md), in the catalogue's order.
func TestAccessLogLine(t *testing.T) {
	var logs bytes.Buffer
	h, tok := leanGateway(t, &logs, "logfmt")
	r := httptest.NewRequest(http.MethodGet, "/api/v1/specializations", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("X-Request-ID", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	line := logs.String()
	assert.Regexp(t, `^ts=\d{4}-\d\d-\d\dT[^ ]+Z level=info service=gateway caller=front\.go:\d+ requestId=req-1 msg=request method=GET `+
		`route=/api/v1/specializations/\*\* path=/api/v1/specializations status=200 bytes=\d+ durationMs=[0-9.]+\n$`, line)

	logs.Reset()
	r = httptest.NewRequest(http.MethodGet, `/api/v1/specializations/a%20"b"=c`, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.Contains(t, logs.String(), ` path="/api/v1/specializations/a \"b\"=c" `, "a path with spaces, quotes or '=' is quoted")

	logs.Reset()
	r = httptest.NewRequest(http.MethodGet, "/nowhere", nil)
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.Contains(t, logs.String(), " route=unmatched path=/nowhere status=404 ")
	assert.True(t, strings.HasSuffix(logs.String(), "\n"))
}

// In JSON the access line holds the same keys, each of its type.
func TestAccessLogLineJSON(t *testing.T) {
	var logs bytes.Buffer
	h, tok := leanGateway(t, &logs, "json")
	r := httptest.NewRequest(http.MethodGet, "/api/v1/specializations", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("X-Request-ID", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	var line map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &line), logs.String())
	keys := make([]string, 0, len(line))
	for k := range line {
		keys = append(keys, k)
	}
	assert.ElementsMatch(t, []string{"ts", "level", "service", "caller", "requestId", "msg", "method", "route", "path",
		"status", "bytes", "durationMs"}, keys)
	assert.Regexp(t, `^front\.go:\d+$`, line["caller"])
	assert.Equal(t, "gateway", line["service"])
	assert.Equal(t, "req-1", line["requestId"])
	assert.IsType(t, float64(0), line["durationMs"])
}
