// Package wire assembles the discovery server from its layers on a shared
// app, so that the command and the tests run the very same handler.
package wire

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/discovery/endpoint"
	"github.com/medisync/medisync/discovery/eureka"
	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/discovery/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/config"
)

// Config holds what the server is built from beyond the common settings.
type Config struct {
	Limits registry.Limits
	// Clock tells the time; nil means the system clock.
	Clock clock.Clock
	// ReapEvery is the pause between eviction sweeps.
	ReapEvery time.Duration
	// DashboardRefresh is how often the dashboard reloads.
	DashboardRefresh time.Duration
	// ServiceTokens are the per-service write tokens,
	// "auth=<token>,doctor=<token>" (-discovery-service-tokens).
	ServiceTokens string
	// InsecureOpenRegistry lets anyone write (-insecure-open-registry):
	// for development on a machine of one's own only.
	InsecureOpenRegistry bool
	// EurekaWarmUp is how long after the start Eureka listings are
	// answered 403 (eureka.Options.ReadsFrom): longer than a Eureka
	// client's 30 s between renewals, by whose next one every client of a
	// restarted server has registered again.
	EurekaWarmUp time.Duration
}

// DefaultConfig is the configuration before flags and environment.
func DefaultConfig() Config {
	return Config{Limits: registry.DefaultLimits(), ReapEvery: time.Second, DashboardRefresh: 5 * time.Second,
		EurekaWarmUp: 40 * time.Second}
}

// Options describe the discovery server to app.New; its own flags set cfg.
// The discovery token of the common settings guards writes.
func Options(cfg *Config) app.Options {
	return app.Options{
		Name:         "discovery",
		DefaultAddr:  ":8761",
		IsRegistry:   true,
		MaxBodyBytes: transport.DefaultMaxBodyBytes,
		// A blocking query may wait up to MaxWait; neither the request
		// deadline nor the write timeout may cut it short.
		RequestTimeout: service.MaxWait + 30*time.Second,
		WriteTimeout:   service.MaxWait + time.Minute,
		// Every instance heartbeats every few seconds: successful ones are
		// logged at debug level only, and still counted in the metrics.
		// Eureka's renewal shares its template with the cancel, which is
		// logged as every other write is.
		QuietRoutes: []string{
			transport.RouteHeartbeat,
			http.MethodPut + " " + eureka.RouteRenew, http.MethodPut + " /eureka/v2/apps/{app}/{id}",
		},
		Flags: cfg.register,
	}
}

func (c *Config) register(fs *flag.FlagSet) {
	l := &c.Limits
	fs.DurationVar(&l.DefaultTTL, "ttl-default", l.DefaultTTL, "lease of a registration that names no TTL")
	fs.DurationVar(&l.MinTTL, "ttl-min", l.MinTTL, "shortest lease a registration may ask for")
	fs.DurationVar(&l.MaxTTL, "ttl-max", l.MaxTTL, "longest lease a registration may ask for")
	fs.IntVar(&l.MaxInstances, "max-instances", l.MaxInstances, "most instances held at once; 0 means no bound")
	fs.IntVar(&l.MaxServices, "max-services", l.MaxServices, "most service names held at once; 0 means no bound")
	fs.IntVar(&l.MaxBlocked, "max-blocked-readers", l.MaxBlocked, "most blocking queries held at once; past it one is answered at once; 0 means no bound")
	fs.DurationVar(&c.ReapEvery, "reap-every", c.ReapEvery, "pause between sweeps evicting lapsed leases")
	fs.DurationVar(&c.DashboardRefresh, "dashboard-refresh", c.DashboardRefresh, "how often the dashboard page reloads itself")
	fs.DurationVar(&c.EurekaWarmUp, "eureka-warmup", c.EurekaWarmUp, "after the start, how long Eureka listings answer 403 so that clients keep their registry while it refills; 0: at once")
	fs.StringVar(&c.ServiceTokens, "discovery-service-tokens", c.ServiceTokens,
		"per-service write tokens, service=token,...: writes under such a service need its own token, and its registrations are marked authenticated")
	fs.BoolVar(&c.InsecureOpenRegistry, "insecure-open-registry", c.InsecureOpenRegistry,
		"INSECURE: accept registry writes without a token, so anyone may register as auth (development only)")
}

// writers turns the configured tokens into the transport's write rules.
func (c Config) writers(shared string) (transport.Writers, error) {
	w := transport.Writers{Shared: shared, Services: map[string]string{}, Open: c.InsecureOpenRegistry}
	for _, e := range config.SplitList(c.ServiceTokens) {
		svc, tok, ok := strings.Cut(e, "=")
		svc, tok = strings.TrimSpace(svc), strings.TrimSpace(tok)
		if !ok || tok == "" || registry.CheckKey(svc, "x") != nil {
			// Never echo the entry: it holds a secret.
			return w, fmt.Errorf("configuration: discovery-service-tokens: an entry is not service=token (service %q)", svc)
		}
		if _, dup := w.Services[svc]; dup {
			return w, fmt.Errorf("configuration: discovery-service-tokens: %s named twice", svc)
		}
		w.Services[svc] = tok
	}
	return w, nil
}

// Server is an assembled discovery server.
type Server struct {
	// Handler serves the API, dashboard, metrics and health with the
	// standard middlewares.
	Handler http.Handler
	// Router holds the routes Handler serves, for tests to hold to the
	// document.
	Router   *mux.Router
	Registry *registry.Registry
	Service  service.Service
	app      *app.App
	cfg      Config
}

// Build checks cfg and assembles the server on a: registry, service with
// its middlewares, endpoints and routes; shutdown answers blocked queries.
func Build(a *app.App, cfg Config) (*Server, error) {
	if err := cfg.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if cfg.ReapEvery <= 0 || cfg.DashboardRefresh < time.Second {
		return nil, errors.New("configuration: reap-every must be positive and dashboard-refresh at least 1s")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	writers, err := cfg.writers(a.Config.DiscoveryToken)
	if err != nil {
		return nil, err
	}
	switch {
	case writers.Open:
		_ = level.Warn(a.Logger).Log("msg", "INSECURE: -insecure-open-registry is set: anyone who can reach this server may register, even as auth; development only")
	case writers.Closed():
		// Secure by default: it still serves reads, and says why every
		// write fails (docs/adr/0011-authenticated-registrations.md).
		_ = level.Error(a.Logger).Log("msg", "no discovery token set: every registry write is refused; set MEDISYNC_DISCOVERY_TOKEN and MEDISYNC_DISCOVERY_SERVICE_TOKENS, or MEDISYNC_INSECURE_OPEN_REGISTRY=true for development")
	}
	reg := registry.New(cfg.Clock.Now(), cfg.Limits)
	var svc service.Service = service.New(reg, cfg.Clock)
	svc = service.LoggingMiddleware(a.Logger)(svc)
	svc = service.InstrumentingMiddleware(service.NewMetrics(a.Registry, reg))(svc)

	router := a.Router()
	transport.Register(router, endpoint.New(svc), svc, transport.Options{
		Writers: writers,
		Dashboard: transport.DashboardInfo{
			Refresh: cfg.DashboardRefresh, Writes: writers.Access(), Limits: cfg.Limits,
			ReapEvery: cfg.ReapEvery, Now: cfg.Clock.Now,
		},
	})
	eureka.Register(router, svc, eureka.Options{Writers: writers, Limits: cfg.Limits, Now: cfg.Clock.Now,
		ReadsFrom: cfg.Clock.Now().Add(cfg.EurekaWarmUp)})
	s := &Server{Handler: a.Handler(router), Router: router, Registry: reg, Service: svc, app: a, cfg: cfg}
	a.OnDrain(s.BeforeDrain)
	a.OnStarted(func(addr net.Addr) {
		_ = level.Info(a.Logger).Log("msg", "discovery dashboard", "url", "http://"+dashboardHost(addr)+"/")
	})
	return s, nil
}

// New builds a server from cfg and the command-line args alone (no
// environment), logging to logs: for tests and embedding.
func New(cfg Config, args []string, logs io.Writer) (*Server, error) {
	a, err := app.New(context.Background(), Options(&cfg), args, nil, logs)
	if err != nil {
		return nil, err
	}
	return Build(a, cfg)
}

// Reap evicts lapsed leases every ReapEvery until ctx ends.
func (s *Server) Reap(ctx context.Context) {
	service.RunReaper(ctx, s.Service, s.cfg.ReapEvery)
}

// BeforeDrain marks the server not ready and answers every blocked query
// at once, so that shutdown does not wait out their waits.
func (s *Server) BeforeDrain(context.Context) error {
	s.app.Health.SetDraining()
	s.Registry.Close()
	return nil
}

// dashboardHost turns a listening address such as [::]:8761 into one a
// browser can open.
func dashboardHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
