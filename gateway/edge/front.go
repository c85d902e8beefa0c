package edge

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/requestid"
	"github.com/medisync/medisync/shared/tracing"
)

// The gateway's front does in one handler what the services stack as
// separate middlewares (request ID, access log and metrics, recovery,
// security headers; shared/httpmw): one request copy and one context per
// request instead of one per layer, metric series resolved once per route
// instead of looked up by label values per request, and an access-log line
// encoded straight into a pooled buffer (docs/adr/0031-lean-gateway-path.md).

// requestIDKey is requestid.Header in the canonical form of http.Header keys.
const requestIDKey = "X-Request-Id"

// exchange is one request's state: the response writer that remembers the
// status and size, and what the access log and metrics need.
type exchange struct {
	w      http.ResponseWriter
	status int
	bytes  int64
	rm     *routeMetrics
	route  string
}

func (e *exchange) Header() http.Header { return e.w.Header() }

func (e *exchange) WriteHeader(code int) {
	if e.status == 0 && code >= 200 {
		e.status = code
	}
	e.w.WriteHeader(code)
}

func (e *exchange) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	n, err := e.w.Write(b)
	e.bytes += int64(n)
	return n, err
}

// Flush lets streamed answers through.
func (e *exchange) Flush() {
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (e *exchange) Unwrap() http.ResponseWriter { return e.w }

// requestIDs makes request IDs: a random prefix per process and a counter,
// 32 hex digits like a random 128-bit ID. They need to be unique, not
// unpredictable, and a counter costs no system call or entropy per request.
type requestIDs struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	g := &requestIDs{}
	_, _ = rand.Read(g.prefix[:])
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	g.n.Store(binary.BigEndian.Uint64(seed[:]))
	return g
}

func (g *requestIDs) next() string {
	var raw [16]byte
	copy(raw[:8], g.prefix[:])
	binary.BigEndian.PutUint64(raw[8:], g.n.Add(1))
	var out [32]byte
	hex.Encode(out[:], raw[:])
	return string(out[:])
}

// validRequestID accepts the alphabet shared/requestid accepts: letters,
// digits and . _ : - up to 128 characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// methods are the label values of the method label, in metricMethod order.
var methods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "OTHER",
}

// metricMethod is the index of the method's label (metrics.MethodLabel).
func metricMethod(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodConnect:
		return 7
	case http.MethodTrace:
		return 8
	}
	return 9
}

// routeMetrics holds one route's series, resolved once: the latency
// histogram per method at construction, the request counter per method and
// status code on first use.
type routeMetrics struct {
	route    string
	quiet    bool
	m        *metrics.HTTP
	duration [len(methods)]prometheus.Observer
	codes    [len(methods)]atomic.Pointer[codeCounters]
}

// codeCounters are the counters of one route and method by status code
// (100 to 599).
type codeCounters [500]atomic.Pointer[counter]

type counter struct{ c prometheus.Counter }

func newRouteMetrics(m *metrics.HTTP, route string, quiet bool) *routeMetrics {
	rm := &routeMetrics{route: route, quiet: quiet, m: m}
	if m != nil {
		for i, meth := range methods {
			rm.duration[i] = m.Duration.WithLabelValues(route, meth)
		}
	}
	return rm
}

func (rm *routeMetrics) observe(method, status int, elapsed time.Duration) {
	if rm.m == nil {
		return
	}
	rm.duration[method].Observe(elapsed.Seconds())
	if status < 100 || status > 599 {
		rm.m.Requests.WithLabelValues(rm.route, methods[method], strconv.Itoa(status)).Inc()
		return
	}
	cs := rm.codes[method].Load()
	if cs == nil {
		cs = new(codeCounters)
		if !rm.codes[method].CompareAndSwap(nil, cs) {
			cs = rm.codes[method].Load()
		}
	}
	c := cs[status-100].Load()
	if c == nil {
		c = &counter{c: rm.m.Requests.WithLabelValues(rm.route, methods[method], strconv.Itoa(status))}
		cs[status-100].Store(c)
	}
	c.c.Inc()
}

// ServeHTTP is the front: request ID, security headers, recovery, then the
// gateway's work (serve), then metrics and the access log.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if g.inFlight != nil {
		g.inFlight.Inc()
		defer g.inFlight.Dec()
	}
	h := w.Header()
	for k, v := range securityValues {
		h[k] = v
	}
	idv := r.Header[requestIDKey]
	if len(idv) == 0 || !validRequestID(idv[0]) {
		idv = []string{g.ids.next()}
		r.Header[requestIDKey] = idv
	} else if len(idv) > 1 {
		idv = idv[:1]
		r.Header[requestIDKey] = idv
	}
	// The same one-element slice goes upstream and back to the client;
	// neither side modifies it.
	h[requestIDKey] = idv
	id := idv[0]
	ex := &exchange{w: w, rm: g.unmatched}
	ctx := requestid.With(r.Context(), id)
	// The route's timeout bounds everything that follows; unmatched paths
	// are answered at once and need none.
	rt, allow := g.table.Match(r.Method, r.URL.Path)
	if rt != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.Timeout)
		defer cancel()
		if g.traced {
			nameSpan(ctx, r.Method, rt.Pattern)
		}
	}
	r = r.WithContext(ctx)
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				_ = level.Error(logging.FromContext(ctx, g.logger)).Log(
					"msg", "panic serving request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if ex.status == 0 {
					problem.Write(ex, r, problem.Internal())
				}
			} else {
				// An abort cuts the answer short, also one whose status
				// went out (an upstream body broken mid-copy): the
				// client got no complete answer, so it is no success.
				ex.status = cutShort(ctx, ex.status)
			}
			g.finish(ex, r, id, start)
			if v == http.ErrAbortHandler {
				panic(v)
			}
		}
	}()
	g.serve(ex, r, rt, allow)
	g.finish(ex, r, id, start)
}

// cutShort is the status an aborted answer is recorded with: 499 when the
// client went away, 504 past the route's timeout, and otherwise 502 for an
// answer whose status went out before its body broke. One aborted before
// any status keeps the 499 it always had.
func cutShort(ctx context.Context, sent int) int {
	switch err := ctx.Err(); {
	case sent == 0 || errors.Is(err, context.Canceled):
		return httpmw.StatusClientClosed
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadGateway
	}
}

// nameSpan names the request's server span by its route, once matched.
func nameSpan(ctx context.Context, method, route string) {
	span := trace.SpanFromContext(ctx)
	span.SetName(method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route))
}

// finish records the request's metrics and access-log line.
func (g *Gateway) finish(ex *exchange, r *http.Request, id string, start time.Time) {
	end := time.Now()
	elapsed := end.Sub(start)
	if ex.status == 0 {
		ex.status = http.StatusOK
	}
	method := metricMethod(r.Method)
	ex.rm.observe(method, ex.status, elapsed)
	lvl := levelInfo
	if ex.status >= 500 {
		lvl = levelWarn
	} else if ex.status < 400 && ex.rm.quiet {
		lvl = levelDebug
	}
	var traceID, spanID string
	if g.traced {
		traceID, spanID, _ = tracing.IDs(r.Context())
	}
	if g.access != nil {
		g.access.write(end, lvl, id, methods[method], ex.rm.route, r.URL.Path, ex.status, ex.bytes, elapsed, traceID, spanID)
		return
	}
	lg := level.Info
	switch lvl {
	case levelWarn:
		lg = level.Warn
	case levelDebug:
		lg = level.Debug
	}
	logger := g.logger
	if traceID != "" {
		logger = log.With(logger, "traceId", traceID, "spanId", spanID)
	}
	_ = lg(logger).Log("requestId", id,
		"msg", "request", "method", methods[method], "route", ex.rm.route, "path", r.URL.Path,
		"status", ex.status, "bytes", ex.bytes, "durationMs", float64(elapsed.Microseconds())/1000,
	)
}
