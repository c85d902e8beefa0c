// Package app assembles the discovery server from its layers, so that the
// command and the end-to-end tests run the very same handler.
package app

import (
	"context"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medisync/medisync/discovery/endpoint"
	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/discovery/transport"
	"github.com/medisync/medisync/shared/health"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/metrics"
)

// Config holds what the server is built from.
type Config struct {
	Limits registry.Limits
	// Token guards writes; "" leaves them open.
	Token string
	// Clock tells the time; nil means time.Now.
	Clock service.Clock
	// ReapEvery is the pause between eviction sweeps; 0 means 1 s.
	ReapEvery time.Duration
	// DashboardRefresh is how often the dashboard reloads; 0 means 5 s.
	DashboardRefresh time.Duration
	Logger           log.Logger
}

// App is an assembled discovery server.
type App struct {
	Handler  http.Handler
	Registry *registry.Registry
	Service  service.Service
	Health   *health.Checker
	Metrics  *prometheus.Registry
	cfg      Config
}

// New builds the server: registry, service with its middlewares, endpoints,
// routes, /metrics and health, and the standard HTTP middlewares.
func New(cfg Config) *App {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.ReapEvery <= 0 {
		cfg.ReapEvery = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	reg := registry.New(cfg.Clock(), cfg.Limits)
	prom := metrics.NewRegistry()
	httpMetrics := metrics.NewHTTP(prom)
	m := service.NewMetrics(prom, reg)

	var svc service.Service = service.New(reg, cfg.Clock)
	svc = service.LoggingMiddleware(cfg.Logger)(svc)
	svc = service.InstrumentingMiddleware(m)(svc)

	hc := &health.Checker{}
	router := transport.NewHandler(endpoint.New(svc), svc, transport.Options{
		Token: cfg.Token,
		Dashboard: transport.DashboardInfo{
			Refresh: cfg.DashboardRefresh, TokenRequired: cfg.Token != "", Limits: cfg.Limits,
			ReapEvery: cfg.ReapEvery, Now: cfg.Clock,
		},
	})
	router.Path("/metrics").Methods(http.MethodGet).Handler(metrics.Handler(prom))
	router.Path("/health/live").Methods(http.MethodGet, http.MethodHead).Handler(hc.Live())
	router.Path("/health/ready").Methods(http.MethodGet, http.MethodHead).Handler(hc.Ready())

	opts := httpmw.Options{
		Logger:       cfg.Logger,
		Metrics:      httpMetrics,
		MaxBodyBytes: transport.DefaultMaxBodyBytes,
		// A blocking query may wait up to MaxWait; the request deadline
		// must not cut it short.
		Timeout: service.MaxWait + 30*time.Second,
	}
	// Every instance heartbeats every few seconds: successful ones are
	// logged at debug level only, and still counted in the metrics.
	opts.QuietRoutes = []string{transport.RouteHeartbeat}
	h := httpmw.Stack(router, opts)
	return &App{Handler: h, Registry: reg, Service: svc, Health: hc, Metrics: prom, cfg: cfg}
}

// Reap evicts lapsed leases every ReapEvery until ctx ends.
func (a *App) Reap(ctx context.Context) {
	service.RunReaper(ctx, a.Service, a.cfg.ReapEvery)
}

// BeforeDrain marks the server not ready and answers every blocked query
// at once, so that shutdown does not wait out their waits.
func (a *App) BeforeDrain(context.Context) error {
	a.Health.SetDraining()
	a.Registry.Close()
	return nil
}
