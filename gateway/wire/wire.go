// Package wire assembles the gateway on a shared app: route table, client
// address resolution, upstream pools with their breakers, rate limiters and
// the edge handler.
package wire

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/medisync/medisync/gateway/apidoc"
	"github.com/medisync/medisync/gateway/edge"
	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/gateway/upstream"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/clientip"
	"github.com/medisync/medisync/shared/config"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/server"
)

// Options describe the gateway to app.New; its own flags set s.
func Options(s *Settings) app.Options {
	return app.Options{Name: "gateway", DefaultAddr: ":8080", Flags: s.register}
}

// Settings are the gateway's own flags (each also MEDISYNC_<NAME>).
type Settings struct {
	RoutesFile  string
	RPS         float64
	Burst       int
	StrictRPS   float64
	StrictBurst int
	// RateLimitRedisURL, when set, keeps the buckets in Redis, shared by
	// every gateway using it.
	RateLimitRedisURL string
	CORSOrigins       string
	TrustedProxies    string
	MaxBodyBytes      int64
	Upstreams         string
	Breaker           upstream.BreakerSettings
	// MetricsAddr is the internal listener of /metrics and /health/*;
	// empty serves /metrics on the public port instead.
	MetricsAddr string
	// DebugAddr, when set, serves Go's profiler (/debug/pprof/) there, for
	// profiling under load; keep it on loopback.
	DebugAddr string
	// AccessLog, set by the command (not a flag), is where the process
	// logs: the access-log lines are then encoded by the gateway itself
	// (edge.Config.AccessLog); nil sends them through the app's logger.
	AccessLog io.Writer
}

// DefaultMetricsAddr keeps the metrics, which name upstream addresses, off
// the public port and off the network by default.
const DefaultMetricsAddr = "127.0.0.1:9080"

// DefaultShutdownTimeout is the gateway's drain unless -shutdown-timeout
// says otherwise: above the longest timeout a route may have (55 s, the
// records service's documents), where the services' shared default (15 s)
// would cut a transfer still in flight when the gateway is told to stop.
const DefaultShutdownTimeout = 60 * time.Second

func (s *Settings) register(fs *flag.FlagSet) {
	if f := fs.Lookup("shutdown-timeout"); f != nil {
		f.DefValue = DefaultShutdownTimeout.String()
		_ = f.Value.Set(f.DefValue)
	}
	fs.StringVar(&s.RoutesFile, "routes-file", "", "route table file (YAML or JSON); empty means the built-in table")
	fs.Float64Var(&s.RPS, "rate-limit-rps", 50, "general class: requests per second per user or client address; 0 turns the class off")
	fs.IntVar(&s.Burst, "rate-limit-burst", 100, "general class: bucket size")
	fs.Float64Var(&s.StrictRPS, "rate-limit-strict-rps", 0.2, "strict class (login, register, password forgot and reset): requests per second per client address")
	fs.IntVar(&s.StrictBurst, "rate-limit-strict-burst", 10, "strict class: bucket size")
	fs.StringVar(&s.RateLimitRedisURL, "rate-limit-redis-url", "",
		"Redis holding the rate-limit buckets shared by several gateways (redis://host:port/db); empty keeps them in this process")
	fs.StringVar(&s.CORSOrigins, "cors-origins", "", "comma-separated browser origins allowed to call the API (* for any); empty sends no CORS headers")
	fs.StringVar(&s.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs or addresses of proxies whose X-Forwarded-For is believed")
	fs.Int64Var(&s.MaxBodyBytes, "max-body-bytes", edge.DefaultMaxBodyBytes, "largest request body accepted")
	fs.StringVar(&s.MetricsAddr, "metrics-addr", DefaultMetricsAddr,
		"internal listener for /metrics and /health/* (never the public port); empty serves /metrics on the public port")
	fs.StringVar(&s.DebugAddr, "debug-addr", "", "listener for Go's profiler (/debug/pprof/), loopback only; empty (the default) serves none")
	fs.StringVar(&s.Upstreams, "upstreams", "", "fixed instances instead of discovery, e.g. patient=127.0.0.1:8083,patient=127.0.0.1:9083")
	fs.Func("breaker-failures", "consecutive failures that open an instance's circuit (default 5)", uintFlag(&s.Breaker.ConsecutiveFailures))
	fs.Float64Var(&s.Breaker.FailureRatio, "breaker-failure-ratio", 0.5, "failure share that opens a circuit once breaker-min-requests were judged in a window")
	fs.Func("breaker-min-requests", "requests an instance answered or failed in a window before the failure ratio counts (default 20)", uintFlag(&s.Breaker.MinRequests))
	fs.DurationVar(&s.Breaker.Interval, "breaker-window", 30*time.Second, "window over which a closed circuit counts requests and failures")
	fs.DurationVar(&s.Breaker.OpenTimeout, "breaker-open-timeout", 5*time.Second, "how long an open circuit refuses before a probe goes through")
}

func uintFlag(dst *uint32) func(string) error {
	return func(v string) error {
		var n uint32
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n == 0 {
			return fmt.Errorf("want a positive whole number, got %q", v)
		}
		*dst = n
		return nil
	}
}

// fixedInstances parses -upstreams: service=host:port entries.
func fixedInstances(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, e := range config.SplitList(s) {
		svc, addr, ok := strings.Cut(e, "=")
		svc, addr = strings.TrimSpace(svc), strings.TrimSpace(addr)
		if !ok || svc == "" || addr == "" {
			return nil, fmt.Errorf("upstreams: %q is not service=host:port", e)
		}
		out[svc] = append(out[svc], addr)
	}
	return out, nil
}

// Build assembles the gateway on a with the settings s: the handler to
// serve, and the hooks that release the upstream pools after draining. The
// rate limiters' sweeps end with ctx.
func Build(ctx context.Context, a *app.App, s Settings) (http.Handler, []server.Hook, error) {
	logger := a.Logger

	specs := route.Defaults()
	if s.RoutesFile != "" {
		var err error
		if specs, err = route.Load(s.RoutesFile); err != nil {
			return nil, nil, err
		}
	}
	table, err := route.New(specs)
	if err != nil {
		return nil, nil, fmt.Errorf("routes: %w", err)
	}
	if err := drainCovers(table, a.Config.ShutdownTimeout); err != nil {
		return nil, nil, err
	}
	for _, r := range table.Routes {
		auth := "token"
		if r.Public {
			auth = "public"
		}
		_ = level.Debug(logger).Log("msg", "route", "path", r.Pattern, logging.KeyPeer, r.Service,
			"methods", strings.Join(r.Methods, ","), "auth", auth, "timeoutMs", logging.Millis(r.Timeout), "rateLimit", r.RateLimit)
	}
	resolver, err := clientip.New(config.SplitList(s.TrustedProxies))
	if err != nil {
		return nil, nil, err
	}
	fixed, err := fixedInstances(s.Upstreams)
	if err != nil {
		return nil, nil, err
	}

	verifier, err := a.Verifier(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("token verification: %w", err)
	}

	upm := upstream.NewMetrics(a.Registry)
	transport := upstream.NewTransport()
	pools := map[string]http.RoundTripper{}
	var closers []server.Hook
	for _, svc := range table.Services() {
		var in sd.Instancer
		switch {
		case len(fixed[svc]) > 0:
			in = sd.FixedInstancer(fixed[svc])
		case a.Discovery != nil:
			in = a.Discovery.Instancer(svc)
		default:
			return nil, nil, fmt.Errorf("service %s: no discovery URL and no -upstreams entry", svc)
		}
		p := upstream.NewPool(svc, in, transport, s.Breaker, upm, logger)
		pools[svc] = p
		closers = append(closers, func(context.Context) error { p.Close(); return nil })
	}

	sharedOpts, closeShared, err := sharedLimits(a, s.RateLimitRedisURL)
	if err != nil {
		return nil, nil, err
	}
	if closeShared != nil {
		closers = append(closers, closeShared)
	}
	limits := map[string]*ratelimit.Limiter{
		route.ClassGeneral: ratelimit.New(ratelimit.Policy{Name: "general", RPS: s.RPS, Burst: s.Burst}, sharedOpts(route.ClassGeneral)...),
		route.ClassStrict:  ratelimit.New(ratelimit.Policy{Name: "strict", RPS: s.StrictRPS, Burst: s.StrictBurst}, sharedOpts(route.ClassStrict)...),
	}
	for _, l := range limits {
		go l.Run(ctx, 30*time.Second)
	}
	if limits[route.ClassStrict] == nil {
		_ = level.Warn(logger).Log("msg", "strict rate-limit class is off")
	}

	if a.Discovery != nil {
		// Ready once discovery has answered: through a later outage the
		// pools keep the instances they know and serve, and a discovery
		// away for every gateway must not take them all out of the load
		// balancer's rotation.
		var answered atomic.Bool
		a.Health.Add("discovery", func(ctx context.Context) error {
			if answered.Load() {
				return nil
			}
			if _, err := a.Discovery.Services(ctx); err != nil {
				return err
			}
			answered.Store(true)
			return nil
		})
	}
	// The API reference: the routed services' documents merged, and a page
	// rendering it (gateway/README.md, "API reference").
	docs := &apidoc.Source{Table: table, Upstreams: pools, Logger: logger}
	local := map[string]http.Handler{
		"/health/live":      a.Health.Live(),
		"/health/ready":     a.Health.Ready(),
		apidoc.DocumentPath: docs.DocumentHandler(),
		apidoc.PagePath:     apidoc.PageHandler(),
		apidoc.ScriptPath:   apidoc.ScriptHandler(),
	}
	if s.MetricsAddr == "" {
		_ = level.Warn(logger).Log("msg", "metrics served on the public port (-metrics-addr is empty): they name upstream addresses")
		local["/metrics"] = metrics.Handler(a.Registry)
	}
	handler, err := edge.New(edge.Config{
		Routes:       table,
		Upstreams:    pools,
		Verifier:     verifier,
		ClientIP:     resolver,
		Limits:       limits,
		CORSOrigins:  config.SplitList(s.CORSOrigins),
		MaxBodyBytes: s.MaxBodyBytes,
		Logger:       logger,
		HTTPMetrics:  a.HTTPMetrics,
		Registerer:   a.Registry,
		Local:        local,
		AccessLog:    s.AccessLog,
		LogFormat:    a.Config.LogFormat,
		LogLevel:     a.Config.LogLevel,
		Service:      a.Name,
		Tracing:      a.Tracing,
	})
	if err != nil {
		return nil, nil, err
	}
	if s.MetricsAddr != "" {
		stop, err := serveInternal(ctx, a, s.MetricsAddr)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, stop)
	}
	if s.DebugAddr != "" {
		stop, err := serveDebug(ctx, a, s.DebugAddr)
		if err != nil {
			return nil, nil, err
		}
		closers = append(closers, stop)
	}
	_ = level.Info(logger).Log("msg", "gateway configured", "routes", len(table.Routes),
		"services", strings.Join(table.Services(), ","), "generalRps", s.RPS, "strictRps", s.StrictRPS)
	return handler, closers, nil
}

// drainCovers refuses a shutdown timeout shorter than a route's timeout:
// every deployment would cut that route's longest requests (a document
// transfer) that the route itself allows.
func drainCovers(table *route.Table, shutdown time.Duration) error {
	var longest *route.Route
	for _, r := range table.Routes {
		if longest == nil || r.Timeout > longest.Timeout {
			longest = r
		}
	}
	if longest != nil && shutdown < longest.Timeout {
		return fmt.Errorf("-shutdown-timeout %s is shorter than the timeout of route %s (%s): "+
			"requests still running at shutdown would be cut; set it to at least %s", shutdown, longest.Pattern, longest.Timeout, longest.Timeout)
	}
	return nil
}

// serveInternal serves /metrics, /health/live and /health/ready on addr, a
// listener for the monitoring network only (gateway/README.md, "Gateway
// endpoints"). It listens at once, so a taken port fails the start; the
// returned hook shuts it down.
func serveInternal(ctx context.Context, a *app.App, addr string) (server.Hook, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	srv := server.NewHTTPServer(addr, a.Handler(a.Router()))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = level.Error(a.Logger).Log("msg", "metrics listener failed", "err", err)
		}
	}()
	_ = level.Info(a.Logger).Log("msg", "metrics and health listening", "addr", ln.Addr().String())
	return srv.Shutdown, nil
}

// serveDebug serves Go's profiler on addr. The profiles show code paths and
// may hold request data in memory dumps, so addr must be a loopback address.
func serveDebug(ctx context.Context, a *app.App, addr string) (server.Hook, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("debug listener %s: only a loopback address is allowed", addr)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := server.NewHTTPServer(addr, mux)
	// A CPU profile takes its seconds to answer.
	srv.WriteTimeout = 0
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = level.Error(a.Logger).Log("msg", "debug listener failed", "err", err)
		}
	}()
	_ = level.Warn(a.Logger).Log("msg", "profiler listening", "addr", ln.Addr().String())
	return srv.Shutdown, nil
}

// sharedLimits returns, per class, the limiter options that keep its
// buckets in the Redis at url, or none when url is empty. When Redis fails
// the limiters fall back to their local buckets: logged once per outage,
// and each local decision counted in
// medisync_gateway_ratelimit_fallbacks_total (gateway/README.md, "Rate
// limits").
func sharedLimits(a *app.App, url string) (func(class string) []ratelimit.Option, server.Hook, error) {
	if url == "" {
		return func(string) []ratelimit.Option { return nil }, nil, nil
	}
	client, err := ratelimit.NewRedisClient(url)
	if err != nil {
		return nil, nil, err
	}
	// go-redis prints to standard error in a format of its own, which a
	// log pipeline cannot parse. Its logger is one for the whole process,
	// so it is set here, where the only client is made.
	redis.SetLogger(redisLogger{level.Debug(a.Logger)})
	store := ratelimit.NewRedis(client, "medisync:ratelimit:")
	fallbacks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "gateway", Name: "ratelimit_fallbacks_total",
		Help: "Rate-limit decisions taken with local buckets because the shared store (Redis) failed, by class.",
	}, []string{"class"})
	a.Registry.MustRegister(fallbacks)
	opts := func(class string) []ratelimit.Option {
		counter := fallbacks.WithLabelValues(class)
		return []ratelimit.Option{ratelimit.WithShared(store, ratelimit.SharedObserver{
			Down: func(err error) {
				_ = level.Warn(a.Logger).Log("msg", "shared rate limits unavailable; deciding with local buckets", "class", class, "err", err)
			},
			Up: func() {
				_ = level.Info(a.Logger).Log("msg", "shared rate limits back", "class", class)
			},
			Fallback: counter.Inc,
		})}
	}
	_ = level.Info(a.Logger).Log("msg", "rate-limit buckets shared in Redis", "addr", client.Options().Addr)
	return opts, func(context.Context) error { return client.Close() }, nil
}

// redisLogger writes go-redis's lines through the gateway's logger, at
// debug: they repeat a failed dial at every attempt, while the limiter
// already reports an outage once, at warn.
type redisLogger struct{ l log.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) {
	_ = r.l.Log("msg", "redis client", "err", fmt.Sprintf(format, v...))
}
