// Package httpmw holds the HTTP middlewares every medisync server stacks:
// request ID, panic recovery, access log with metrics, query check, body
// size limit, security headers, and a router whose 404 and 405 are problem
// documents.
package httpmw

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/requestid"
)

// Middleware decorates a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies mws so that the first is the outermost.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Options configure Stack.
type Options struct {
	Logger  log.Logger
	Metrics *metrics.HTTP // nil: no HTTP metrics
	// MaxBodyBytes bounds request bodies; 0 means 1 MiB.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the request line and headers; 0 means 64 KiB.
	// The server's own hard limit (server.NewHTTPServer) sits above it, so
	// that a client over this one gets a problem document, not Go's text.
	MaxHeaderBytes int
	// Timeout bounds each request's context, and so every database and peer
	// call made for it; 0 means DefaultTimeout.
	Timeout time.Duration
	// QuietRoutes are route templates whose successful requests are logged
	// at debug level only, like the health and metrics routes: frequent
	// machine traffic such as heartbeats would drown the access log. A
	// template preceded by a method and a space ("PUT /beats/{id}") quiets
	// that method alone, where others on the same template are writes
	// worth a line.
	QuietRoutes []string
}

// Stack wraps h with the standard middlewares, outermost first: request ID,
// access log and metrics, panic recovery, security headers, header limit,
// query check, body limit and request deadline.
func Stack(h http.Handler, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return Chain(h,
		requestid.Middleware,
		Observe(o.Logger, o.Metrics, o.QuietRoutes...),
		Recover(o.Logger),
		SecurityHeaders,
		HeaderLimit(o.MaxHeaderBytes),
		Query,
		BodyLimit(o.MaxBodyBytes),
		Deadline(o.Timeout),
	)
}

// info is filled while a request is served and read by Observe afterwards.
type info struct {
	route    string
	longPoll bool
	failed   int // the status Failed recorded, 0 for none
}

type infoKey struct{}

// TagRoute is a mux middleware recording the matched route template, so that
// metrics and logs group by template rather than by raw path.
func TagRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route := mux.CurrentRoute(r); route != nil {
			if tpl, err := route.GetPathTemplate(); err == nil {
				if in, ok := r.Context().Value(infoKey{}).(*info); ok {
					in.route = tpl
				}
				nameSpan(r, tpl)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Route returns the route template recorded for the request, "" if none.
func Route(ctx context.Context) string {
	if in, ok := ctx.Value(infoKey{}).(*info); ok {
		return in.route
	}
	return ""
}

// SetRoute records a route name for a handler that does not use mux.
func SetRoute(ctx context.Context, route string) {
	if in, ok := ctx.Value(infoKey{}).(*info); ok {
		in.route = route
	}
}

// LongPoll marks the request as a blocking read that waits for a change
// (a watch, a feed): its latency goes to the long-poll histogram rather than
// the request-duration one, whose percentiles stay those of real work.
func LongPoll(ctx context.Context) {
	if in, ok := ctx.Value(infoKey{}).(*info); ok {
		in.longPoll = true
	}
}

// StatusClientClosed is the status Failed records for an answer cut short
// because the client went away (nginx's 499): no status of RFC 9110 says it,
// and the access log must tell it apart from a fault of the service.
const StatusClientClosed = 499

// Failed records that the answer failed after its status went out, its
// body cut short (a stream whose source broke, a client gone): the access
// log and the metrics count the request with status, since the status the
// client was sent would count a broken answer as a success.
func Failed(ctx context.Context, status int) {
	if in, ok := ctx.Value(infoKey{}).(*info); ok {
		in.failed = status
	}
}

// nameSpan names the request's server span, if one records, by its route
// template ("GET /api/v1/patients/{id}"): the tracing handler starts it
// before routing, knowing only the method.
func nameSpan(r *http.Request, route string) {
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetName(r.Method + " " + route)
		span.SetAttributes(semconv.HTTPRoute(route))
	}
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Observe logs one line per request and records metrics. It logs the route
// template and the path, never query strings or bodies, which may hold
// personal data or tokens.
func Observe(logger log.Logger, m *metrics.HTTP, quietRoutes ...string) Middleware {
	quiet := map[string]bool{"/health/live": true, "/health/ready": true, "/metrics": true}
	for _, r := range quietRoutes {
		quiet[r] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			in := &info{}
			sw := &statusWriter{ResponseWriter: w}
			if m != nil {
				m.InFlight.Inc()
				defer m.InFlight.Dec()
			}
			next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), infoKey{}, in)))
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			if in.failed != 0 {
				sw.status = in.failed
			}
			elapsed := time.Since(start)
			route := in.route
			if route == "" {
				route = "unmatched"
			}
			// Every label comes from a bounded set: the route template (or
			// "unmatched"), a known method or OTHER, a status code.
			method := metrics.MethodLabel(r.Method)
			if m != nil {
				m.Requests.WithLabelValues(route, method, strconv.Itoa(sw.status)).Inc()
				hist := m.Duration
				if in.longPoll {
					hist = m.LongPoll
				}
				hist.WithLabelValues(route, method).Observe(elapsed.Seconds())
			}
			lg := level.Info
			if sw.status >= 500 {
				lg = level.Warn
			} else if sw.status < 400 && (quiet[route] || quiet[method+" "+route]) {
				lg = level.Debug
			}
			_ = lg(logging.FromContext(r.Context(), logger)).Log(
				"msg", "request", "method", method, "route", route, "path", r.URL.Path,
				"status", sw.status, "bytes", sw.bytes, logging.KeyDuration, logging.Millis(elapsed),
			)
		})
	}
}

// Recover turns a panic into a logged 500 problem; the stack goes to the log,
// never to the client.
func Recover(logger log.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					_ = level.Error(logging.FromContext(r.Context(), logger)).Log(
						"msg", "panic serving request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					problem.Write(w, r, problem.Internal())
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// BodyLimit caps request bodies at n bytes; reading past it fails, and
// httpjson turns that into a 413 problem.
func BodyLimit(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge,
					fmt.Sprintf("the request body exceeds %d bytes", n)))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Deadline bounds the request context so that slow dependencies give up.
func Deadline(d time.Duration) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// DefaultTimeout bounds a request inside a service: below the gateway's
// 15 s route timeout, so that a hung database gives the client this
// service's 503 problem rather than the gateway's 504.
const DefaultTimeout = 10 * time.Second

// DefaultMaxHeaderBytes bounds a request's line and headers.
const DefaultMaxHeaderBytes = 64 << 10

// HeaderLimit answers a request whose line and headers exceed n bytes with a
// 431 problem.
func HeaderLimit(n int) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			size := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host)
			for k, vs := range r.Header {
				for _, v := range vs {
					size += len(k) + len(v) + 4 // ": " and CRLF
				}
			}
			if size > n {
				problem.Write(w, r, problem.New(http.StatusRequestHeaderFieldsTooLarge,
					fmt.Sprintf("the request line and headers exceed %d bytes", n)))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Query answers a request whose query string does not parse with the 400
// of QueryProblem, except on the parameterless routes every service serves.
func Query(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if parameterless[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		if p := QueryProblem(r.URL.RawQuery); p != nil {
			problem.Write(w, r, p)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// parameterless are the routes every service serves that read no query
// parameter: a stray query (a cache buster, a probe's or scraper's own) has
// nothing to widen there, and a liveness probe or a scrape answered 400 for
// it would take a healthy instance for a dead one.
var parameterless = map[string]bool{"/openapi.yaml": true, "/health/live": true, "/health/ready": true, "/metrics": true}

// plainQueryParams bounds the parameters of a query string that QueryProblem
// passes unparsed when it holds no '%' and no ';': far below net/url's own
// limit on their number (10,000 unless GODEBUG lowers it).
const plainQueryParams = 1000

// QueryProblem returns a 400 validation problem for a raw query string that
// url.ParseQuery refuses, nil for one it takes. r.URL.Query() drops what it
// cannot parse without a word, so a filter with a stray '%' would widen to
// everything and a limit fall back to its default: the request is refused
// instead, naming the parameter whose value is at fault, or "query" when a
// name is, or the parameters are too many. A plain query (no escapes, no
// ';', a sensible number of parameters) costs no parsing, as the gateway
// checks every request.
func QueryProblem(raw string) *problem.Problem {
	if !strings.ContainsAny(raw, "%;") && strings.Count(raw, "&") < plainQueryParams {
		return nil
	}
	if _, err := url.ParseQuery(raw); err == nil {
		return nil
	}
	for rest := raw; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		key, value, _ := strings.Cut(pair, "=")
		name, keyErr := url.QueryUnescape(key)
		_, valueErr := url.QueryUnescape(value)
		if name == "" {
			name = "query"
		}
		switch {
		case strings.Contains(key, ";"):
			return queryField("query", "separates parameters with ';'; use '&'")
		case keyErr != nil:
			return queryField("query", "has a parameter name that is not validly percent-encoded")
		case strings.Contains(value, ";"):
			return queryField(name, "holds a ';'; write it as %3B, and separate parameters with '&'")
		case valueErr != nil:
			return queryField(name, "is not validly percent-encoded: a '%' is followed by two hexadecimal digits (a '%' itself is %25)")
		}
	}
	return queryField("query", "has more parameters than the server takes")
}

func queryField(field, msg string) *problem.Problem {
	return problem.Validation(problem.FieldError{Field: field, Message: msg})
}

// SecurityHeaders sets headers that are right for a JSON API.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// NewRouter returns a mux router that tags routes for metrics and answers
// unknown paths with 404 and wrong methods with 405 problems whose Allow
// header lists the methods the path takes (RFC 9110, section 15.5.6).
func NewRouter() *mux.Router {
	r := mux.NewRouter()
	r.Use(TagRoute)
	r.NotFoundHandler = NotFound
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if allow := allowed(r, req); allow != "" {
			w.Header().Set("Allow", allow)
		}
		MethodNotAllowed.ServeHTTP(w, req)
	})
	return r
}

// allowed lists the methods of router's routes that match req's path (and
// its other matchers), in the order the routes were registered. Mux keeps
// no record of them once a method is refused, so each route is asked again.
func allowed(router *mux.Router, req *http.Request) string {
	var methods []string
	seen := map[string]bool{}
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		ms, err := route.GetMethods()
		if err != nil {
			return nil // a route without a method matcher, a subrouter's prefix
		}
		for _, m := range ms {
			if seen[m] {
				continue
			}
			probe := req.Clone(req.Context())
			probe.Method = m
			if route.Match(probe, &mux.RouteMatch{}) {
				seen[m] = true
				methods = append(methods, m)
			}
		}
		return nil
	})
	return strings.Join(methods, ", ")
}

// NotFound answers a path that names no resource: the one 404 of every
// service and the gateway.
var NotFound http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.NotFound("no resource at this path"))
})

// MethodNotAllowed answers a method a known path does not take: the one 405
// of every service and the gateway. The caller sets the Allow header
// (NewRouter's routers do).
var MethodNotAllowed http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "this method is not allowed on this path"))
})
