// Package edge is the gateway's HTTP front: it matches a request to its
// route, answers CORS preflights, verifies the access token of protected
// routes, applies the route's rate-limit class, strips headers a client
// could use to pass as someone else, and proxies to the service's upstream
// pool, turning upstream faults into problem documents.
package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/gateway/upstream"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clientip"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/tracing"
)

// DefaultMaxBodyBytes bounds request bodies when Config names no limit.
const DefaultMaxBodyBytes = 1 << 20

// Config is what the gateway front needs.
type Config struct {
	Routes *route.Table
	// Upstreams send requests to a service by name (upstream.Pool).
	Upstreams map[string]http.RoundTripper
	Verifier  authn.Verifier
	ClientIP  *clientip.Resolver
	// Limits holds a limiter per rate-limit class; a missing or nil one
	// leaves the class unlimited.
	Limits map[string]*ratelimit.Limiter
	// CORSOrigins are the browser origins allowed to call the API; "*"
	// allows any. None means no CORS headers at all.
	CORSOrigins []string
	// MaxBodyBytes bounds request bodies on routes that set no limit of
	// their own (route.Route.MaxBody).
	MaxBodyBytes int64
	Logger       log.Logger
	HTTPMetrics  *metrics.HTTP
	Registerer   prometheus.Registerer
	// Local serves the gateway's own paths (/metrics, /health/live,
	// /health/ready) for GET and HEAD.
	Local map[string]http.Handler
	// AccessLog, when set, receives the access-log lines, encoded by the
	// gateway in the format of shared/logging (LogFormat, LogLevel,
	// Service); otherwise they go through Logger.
	AccessLog io.Writer
	LogFormat string
	LogLevel  string
	Service   string
	// Tracing, when on, makes a server span of each request, continuing
	// the caller's trace, and a client span of each call upstream, whose
	// traceparent the service continues. Off (nil), the path has no
	// tracing code at all.
	Tracing *tracing.Tracing
}

type routeHandler struct {
	route   *route.Route
	limiter *ratelimit.Limiter
	up      http.RoundTripper
	rm      *routeMetrics
	// maxBody is the route's request-body limit, or the gateway's.
	maxBody int64
	// proxy serves the requests the lean path leaves to the standard
	// library: protocol upgrades.
	proxy *httputil.ReverseProxy
}

// Gateway is the front handler.
type Gateway struct {
	table    *route.Table
	routes   []routeHandler
	verifier authn.Verifier
	clientIP *clientip.Resolver
	general  *ratelimit.Limiter
	cors     *cors
	local    map[string]localHandler
	logger   log.Logger
	access   *accessLog
	ids      *requestIDs
	inFlight prometheus.Gauge
	// unmatched counts the requests that matched no route.
	unmatched *routeMetrics

	rejected   map[string]prometheus.Counter
	authFailed *prometheus.CounterVec
	// traced is set when tracing is on: spans are named by route and the
	// access log shows their ids.
	traced bool
}

type localHandler struct {
	h  http.Handler
	rm *routeMetrics
}

// New builds the gateway front. It does what the standard middlewares do
// (request ID, access log and metrics, panic recovery, security headers) in
// its own front handler (front.go).
func New(cfg Config) (http.Handler, error) {
	g, err := newGateway(cfg)
	if err != nil {
		return nil, err
	}
	return cfg.Tracing.Handler(g, "gateway"), nil
}

func newGateway(cfg Config) (*Gateway, error) {
	if cfg.Routes == nil || cfg.Verifier == nil || cfg.ClientIP == nil || cfg.Registerer == nil {
		return nil, errors.New("edge: routes, verifier, client address resolver and metrics registerer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	g := &Gateway{
		table:    cfg.Routes,
		verifier: cfg.Verifier,
		clientIP: cfg.ClientIP,
		general:  cfg.Limits[route.ClassGeneral],
		cors:     newCORS(cfg.CORSOrigins),
		local:    map[string]localHandler{},
		logger:   cfg.Logger,
		ids:      newRequestIDs(),
		rejected: map[string]prometheus.Counter{},
		traced:   cfg.Tracing.Enabled(),
	}
	if cfg.AccessLog != nil {
		a, err := newAccessLog(cfg.AccessLog, cfg.Service, cfg.LogFormat, cfg.LogLevel)
		if err != nil {
			return nil, fmt.Errorf("edge: access log: %w", err)
		}
		g.access = a
	}
	if cfg.HTTPMetrics != nil {
		g.inFlight = cfg.HTTPMetrics.InFlight
	}
	g.unmatched = newRouteMetrics(cfg.HTTPMetrics, "unmatched", false)
	for path, h := range cfg.Local {
		// Probes and scrapes are frequent machine traffic: their successes
		// are logged at debug level only.
		g.local[path] = localHandler{h: h, rm: newRouteMetrics(cfg.HTTPMetrics, path, true)}
	}
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "gateway", Name: "ratelimit_rejections_total",
		Help: "Requests refused with 429 by rate-limit class.",
	}, []string{"class"})
	g.authFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "gateway", Name: "auth_rejections_total",
		Help: "Requests refused with 401 at the edge, by reason (missing, invalid).",
	}, []string{"reason"})
	if err := registerAll(cfg.Registerer, rejected, g.authFailed); err != nil {
		return nil, err
	}
	for _, class := range []string{route.ClassStrict, route.ClassGeneral} {
		g.rejected[class] = rejected.WithLabelValues(class)
	}

	errorLog := stdlog.New(log.NewStdlibAdapter(level.Warn(log.With(cfg.Logger, "component", "proxy"))), "", 0)
	proxies := map[string]*httputil.ReverseProxy{}
	ups := map[string]http.RoundTripper{}
	var missing []string
	for _, s := range cfg.Routes.Services() {
		up, ok := cfg.Upstreams[s]
		if !ok || up == nil {
			missing = append(missing, s)
			continue
		}
		up = cfg.Tracing.Transport(up)
		ups[s] = up
		proxies[s] = g.newProxy(s, up, errorLog)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("edge: no upstream for services %s", strings.Join(missing, ", "))
	}
	g.routes = make([]routeHandler, len(cfg.Routes.Routes))
	for i, r := range cfg.Routes.Routes {
		maxBody := r.MaxBody
		if maxBody <= 0 {
			maxBody = cfg.MaxBodyBytes
		}
		g.routes[i] = routeHandler{route: r, limiter: cfg.Limits[r.RateLimit], up: ups[r.Service],
			proxy: proxies[r.Service], rm: newRouteMetrics(cfg.HTTPMetrics, r.Pattern, false), maxBody: maxBody}
	}
	return g, nil
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("edge: register metrics: %w", err)
		}
	}
	return nil
}

// serve does the gateway's work for one request; rt and allow are the
// route table's answer for the request's method and path.
func (g *Gateway) serve(w *exchange, r *http.Request, rt *route.Route, allow string) {
	path := r.URL.Path
	if lh, ok := g.local[path]; ok {
		w.rm = lh.rm
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpmw.MethodNotAllowed.ServeHTTP(w, r)
			return
		}
		lh.h.ServeHTTP(w, r)
		return
	}
	if !route.CleanPath(path) {
		problem.Write(w, r, problem.BadRequest("the path has empty, '.' or '..' segments"))
		return
	}
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		// A browser's preflight never carries a token: it is answered here
		// whether CORS is on or not, never with a 401 (docs/architecture.md,
		// "CORS" in gateway/README.md).
		g.preflight(w, r, origin)
		return
	}
	if g.cors != nil && origin != "" {
		g.cors.decorate(w.Header(), origin)
	}
	if rt == nil {
		if allow == "" {
			httpmw.NotFound.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", allow)
		httpmw.MethodNotAllowed.ServeHTTP(w, r)
		return
	}
	rh := &g.routes[rt.ID]
	w.rm = rh.rm
	// A query string the service could not parse would reach it only to
	// have the parameter dropped without a word: refused here as there.
	if p := httpmw.QueryProblem(r.URL.RawQuery); p != nil {
		problem.Write(w, r, p)
		return
	}

	// The body streams through to the service; its limit is checked
	// against Content-Length before a byte is read, and counted while a
	// chunked body streams.
	if r.ContentLength > rh.maxBody {
		// The connection is closed after the answer, so the server does not
		// read what the client is still sending.
		w.Header()["Connection"] = connectionClose
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body exceeds %d bytes", rh.maxBody)))
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, rh.maxBody)
	}

	var key ratelimit.Key
	if !rt.Public {
		user, ok := g.authenticate(w, r)
		if !ok {
			return
		}
		key = ratelimit.UserKey(user)
	}
	if rh.limiter != nil {
		if key.User == "" {
			key = ratelimit.AddrKey(g.clientIP.Client(r))
		}
		d := rh.limiter.Allow(r.Context(), key)
		rh.limiter.SetHeaders(w.Header(), d)
		if !d.Allowed {
			g.rejected[rt.RateLimit].Inc()
			problem.Write(w, r, problem.TooManyRequests("too many requests; slow down", ratelimit.RetryAfterSeconds(d)))
			return
		}
	}

	if r.Body != nil && r.Body != http.NoBody {
		// The server's ReadTimeout bounds reading the whole request, body
		// included, whatever the route: once the caller is known, the
		// route's timeout bounds it instead, so a long upload route reads
		// a slow body for as long as the route allows. The server sets the
		// deadline anew for the next request on the connection.
		setReadDeadline(w, time.Now().Add(rt.Timeout+readGrace))
		// A client that stops sending its body would hold the upstream
		// transport (which waits for its body reader) past the route
		// timeout, until the server's read timeout; cutting the read short
		// lets the gateway answer 408 on time.
		stop := context.AfterFunc(r.Context(), func() {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now())
		})
		defer stop()
	}
	g.forward(w, r, rh)
}

// readGrace keeps a route's read deadline past its timeout, so that the
// answer given at the timeout goes out first: once a request is read, Go's
// server keeps reading its connection in the background, and a deadline
// passing there cancels the connection's context, this request's and every
// later one's on it.
const readGrace = time.Second

// setReadDeadline is http.ResponseController's SetReadDeadline, ignoring a
// writer that cannot set one without allocating the error it would return.
func setReadDeadline(w http.ResponseWriter, deadline time.Time) {
	for {
		switch t := w.(type) {
		case interface{ SetReadDeadline(time.Time) error }:
			_ = t.SetReadDeadline(deadline)
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return
		}
	}
}

// authenticate verifies the bearer token and returns its subject. A
// failure answers 401, or 429 once the client's address has spent its
// general budget on failures, so guessing tokens is throttled too. A token
// that cannot be judged because auth's keys cannot be fetched is a 503,
// like shared/authn's middleware answers: the client should retry, not sign
// in again, and spends no budget, which is for failed guesses.
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	raw, ok := authn.BearerToken(r.Header.Get("Authorization"))
	reason, detail := "missing", "a bearer token is required"
	if ok {
		p, err := g.verifier.Verify(r.Context(), raw)
		if err == nil {
			return p.UserID, true
		}
		if errors.Is(err, authn.ErrKeysUnavailable) {
			problem.Write(w, r, problem.Unavailable("the token cannot be checked now: the signing keys cannot be fetched"))
			return "", false
		}
		reason, detail = "invalid", "the token is invalid or expired"
	}
	g.authFailed.WithLabelValues(reason).Inc()
	if g.general != nil {
		d := g.general.Allow(r.Context(), ratelimit.AddrKey(g.clientIP.Client(r)))
		if !d.Allowed {
			g.general.SetHeaders(w.Header(), d)
			g.rejected[route.ClassGeneral].Inc()
			problem.Write(w, r, problem.TooManyRequests("too many requests; slow down", ratelimit.RetryAfterSeconds(d)))
			return "", false
		}
	}
	problem.Write(w, r, problem.Unauthorized(detail))
	return "", false
}

func (g *Gateway) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	if g.cors == nil || origin == "" || !g.cors.allowed(origin) {
		problem.Write(w, r, problem.Forbidden("this origin is not allowed"))
		return
	}
	_, allow := g.table.Match(r.Header.Get("Access-Control-Request-Method"), r.URL.Path)
	if allow == "" {
		httpmw.NotFound.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	g.cors.setOrigin(h, origin)
	h["Vary"] = varyPreflight
	h.Set("Access-Control-Allow-Methods", allow)
	h["Access-Control-Allow-Headers"] = corsAllowHeaders
	h["Access-Control-Max-Age"] = corsMaxAge
	w.WriteHeader(http.StatusNoContent)
}

const copyBufferSize = 32 << 10

// bufferPool lends the proxy its copy buffers; holding array pointers lets
// Put take a buffer back without allocating.
var bufferPool = &bytePool{p: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}

type bytePool struct{ p sync.Pool }

func (b *bytePool) Get() []byte { return b.p.Get().(*[copyBufferSize]byte)[:] }

func (b *bytePool) Put(x []byte) {
	if len(x) == copyBufferSize {
		b.p.Put((*[copyBufferSize]byte)(x))
	}
}

func (g *Gateway) newProxy(service string, up http.RoundTripper, errorLog *stdlog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			// The pool puts the chosen instance's address here.
			out.URL.Scheme = "http"
			out.URL.Host = service
			out.Host = ""
			stripImpersonation(out.Header)
			out.Trailer = nil // as in forward: trailers would bypass the stripping
			if xff := g.clientIP.ForwardedFor(pr.In); xff != "" {
				out.Header["X-Forwarded-For"] = []string{xff}
			}
			out.Header["X-Forwarded-Proto"] = g.forwardedProto(pr.In)
		},
		Transport:      up,
		BufferPool:     bufferPool,
		ModifyResponse: dropGatewayHeaders,
		ErrorHandler:   g.upstreamError,
		ErrorLog:       errorLog,
	}
}

var connectionClose = []string{"close"}

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

// forwardedProto is the scheme the client used: ours, or the one a trusted
// proxy in front of us (terminating TLS, typically) reports.
func (g *Gateway) forwardedProto(in *http.Request) []string {
	if in.TLS != nil {
		return protoHTTPS
	}
	if v := in.Header.Get("X-Forwarded-Proto"); v != "" && g.clientIP.Trusted(clientip.Remote(in)) {
		if strings.EqualFold(v, "https") {
			return protoHTTPS
		}
	}
	return protoHTTP
}

// upstreamError answers a request the upstream pool could not serve.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	var cbe *upstream.ClientBodyError
	var p *problem.Problem
	// A fault's answer tells the client when to try again (Retry-After: 1)
	// when a try again repeats nothing already carried out: no instance was
	// reached, or the request is idempotent. A POST or PATCH that timed out
	// or failed after it was sent gets none.
	retry := upstream.Idempotent(r.Method)
	switch {
	case errors.As(err, &mbe):
		p = problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body exceeds %d bytes", mbe.Limit))
	case errors.As(err, &cbe) && !errors.Is(err, context.Canceled):
		// The client's own body failed: its fault, answered as such, never
		// a 5xx and never held against the instance.
		if cbe.Stalled {
			p = problem.New(http.StatusRequestTimeout, "the request body did not arrive in time")
		} else {
			p = problem.BadRequest("the request body could not be read")
		}
		// The rest of the body may never come: the connection is not reused,
		// so the server does not wait to drain it before answering.
		w.Header().Set("Connection", "close")
	case errors.Is(err, upstream.ErrNoInstance):
		p = problem.New(http.StatusServiceUnavailable, "no instance of the service is available; try again shortly")
		retry = true
	case errors.Is(r.Context().Err(), context.DeadlineExceeded):
		p = problem.New(http.StatusGatewayTimeout, "the service did not answer in time")
		// Cutting the body's read at the timeout (serve) may have cancelled
		// the connection's context in Go's server, which every later
		// request on it would inherit: the connection is not reused.
		w.Header()["Connection"] = connectionClose
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer, but the access
		// log tells it apart from an upstream fault (nginx's 499).
		p = &problem.Problem{Type: "about:blank", Title: "Client Closed Request", Status: httpmw.StatusClientClosed,
			Detail: "the client closed the request before the service answered"}
	case upstream.IsConnect(err):
		p = problem.New(http.StatusBadGateway, "the service could not be reached")
		retry = true
	case upstream.IsTimeout(err):
		p = problem.New(http.StatusGatewayTimeout, "the service did not answer in time")
	default:
		p = problem.New(http.StatusBadGateway, "the service failed to answer")
	}
	if retry && p.Status >= 500 {
		p.Headers = http.Header{"Retry-After": {"1"}}
	}
	if p.Status >= 500 && !errors.Is(err, context.Canceled) {
		_ = level.Warn(logging.FromContext(r.Context(), g.logger)).Log(
			"msg", "upstream failed", "host", r.URL.Host, "path", r.URL.Path, "status", p.Status, "err", err)
	}
	problem.Write(w, r, p)
}

// impersonation lists headers only the gateway or a trusted hop may set: a
// client sending them could pose as another user, address or URL to a
// service that trusted them. X-Forwarded-* and Forwarded are rebuilt.
var impersonation = map[string]bool{
	"Forwarded":                true,
	"X-Real-Ip":                true,
	"X-Client-Ip":              true,
	"True-Client-Ip":           true,
	"X-Cluster-Client-Ip":      true,
	"X-Original-Forwarded-For": true,
	"X-Original-Url":           true,
	"X-Rewrite-Url":            true,
	"X-Original-Uri":           true,
	"X-Http-Method-Override":   true,
	"X-Http-Method":            true,
	"X-Method-Override":        true,
	"X-User":                   true,
	"X-Userid":                 true,
	"X-Roles":                  true,
	"X-Role":                   true,
	"X-Principal":              true,
	"X-Remote-User":            true,
	"Remote-User":              true,
	"X-Email":                  true,
}

var impersonationPrefixes = []string{"X-User-", "X-Authenticated-", "X-Forwarded-", "X-Auth-", "X-Remote-", "X-Principal-"}

// stripImpersonation also strips the names spelled with "_" for "-"
// (X_User_Id): CGI and WSGI servers, and proxies that map one to the
// other, read them as the same header, so such a service behind the
// gateway would take X_User_Id for X-User-Id.
func stripImpersonation(h http.Header) {
	for k := range h {
		name := k
		if strings.IndexByte(k, '_') >= 0 {
			name = http.CanonicalHeaderKey(strings.ReplaceAll(k, "_", "-"))
		}
		if impersonation[name] {
			delete(h, k)
			continue
		}
		if len(name) < 2 || (name[0] != 'X' && name[0] != 'x') {
			continue
		}
		for _, p := range impersonationPrefixes {
			if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
				delete(h, k)
				break
			}
		}
	}
}

// dropGatewayHeaders removes from an upstream answer the headers the gateway
// already set, so each is sent once with the gateway's value.
func dropGatewayHeaders(res *http.Response) error {
	h := res.Header
	delete(h, "X-Request-Id")
	for k := range securityValues {
		delete(h, k)
	}
	return nil
}

// securityValues are the headers every answer carries; the slices are
// shared and never modified, so setting them allocates nothing.
var securityValues = map[string][]string{
	"X-Content-Type-Options":  {"nosniff"},
	"X-Frame-Options":         {"DENY"},
	"Referrer-Policy":         {"no-referrer"},
	"Content-Security-Policy": {"default-src 'none'; frame-ancestors 'none'"},
}
