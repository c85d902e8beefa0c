// Package app assembles what every medisync service process has around its
// own handlers: configuration, logger, metrics registry, health checks, the
// discovery client and registration, token verification through the auth
// JWKS, and a graceful HTTP lifecycle. A service's main parses its own flags
// through it and wires its layers; a service with a database starts through
// app/appdb instead, so that a process without one (the gateway) links no
// database driver.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medisync/medisync/shared/buildinfo"
	"github.com/medisync/medisync/shared/config"
	"github.com/medisync/medisync/shared/discovery"
	"github.com/medisync/medisync/shared/health"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/server"
	"github.com/medisync/medisync/shared/tracing"
)

// Options describe a service to New.
type Options struct {
	Name        string // service name in discovery, logs and metrics
	DefaultAddr string // e.g. ":8083"
	// DefaultDSN is the database by default ("sqlite:data/patient.db"); empty
	// for a service without a database. It defines the -db-dsn flags; the
	// database itself is opened by appdb.New.
	DefaultDSN string
	// Migrations hold "sqlite/", "mysql/" and "postgres/" goose folders; nil
	// for none (applied by appdb.New).
	Migrations fs.FS
	// Flags defines the service's own flags on the set before parsing.
	Flags func(fs *flag.FlagSet)
	// MaxBodyBytes bounds request bodies; 0 means 1 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds each request; 0 means the httpmw default.
	RequestTimeout time.Duration
	// ReadTimeout bounds reading a request, body included; 0 means the
	// server default.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response; 0 means the server default.
	WriteTimeout time.Duration
	// QuietRoutes are routes whose successes are logged at debug only
	// (httpmw.Options.QuietRoutes: a template, or a method and a template).
	QuietRoutes []string
	// Outbox marks a service whose database holds an outbox: appdb opens
	// the broker (-broker-url), runs the relay while it serves and stops
	// it after the requests drain and the closers end the service's work.
	Outbox bool
	// IsRegistry marks the discovery server itself: it neither registers
	// nor resolves through discovery, whatever -discovery-urls says.
	IsRegistry bool
	// Tracing, when set, is used instead of what -otlp-endpoint sets up:
	// tests of several services in one process share one span recorder.
	Tracing *tracing.Tracing
}

// App is one running service process.
type App struct {
	Name        string
	Config      config.Common
	Logger      log.Logger
	Registry    *prometheus.Registry
	HTTPMetrics *metrics.HTTP
	Health      *health.Checker
	Discovery   *discovery.Client // nil when no discovery URL is set
	HTTPClient  *http.Client      // for calls to other services
	// Tracing is on when -otlp-endpoint is set: the handler and HTTPClient
	// then carry spans, and brokers opened for the app too.
	Tracing *tracing.Tracing

	opts        Options
	trust       trustSettings
	beforeDrain []server.Hook
	started     []func(net.Addr)
	onClose     []func() error
	following   []context.CancelFunc // the verifier's keys and revocation feed
}

// New parses args (flags, then MEDISYNC_* variables through lookup), sets
// up logging and metrics, opens and migrates the database, and prepares the
// discovery client. The caller closes the App (Close) when Run is not used.
func New(ctx context.Context, o Options, args []string, lookup func(string) (string, bool), stderr io.Writer) (*App, error) {
	a := &App{Name: o.Name, opts: o, Health: &health.Checker{}}
	fset := flag.NewFlagSet(o.Name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	a.Config.Register(fset, o.DefaultAddr, o.DefaultDSN)
	a.trust.register(fset)
	modes := registerModes(fset)
	if o.Flags != nil {
		o.Flags(fset)
	}
	if err := config.Parse(fset, args, modes.hide(lookup)); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if err := modes.run(ctx, o.Name, a.Config.HTTPAddr, stderr); err != nil {
		return nil, err
	}
	// Refused at start: a lease the servers refuse would leave the instance
	// serving, ready, and never registered.
	if len(a.Config.DiscoveryList()) > 0 && !o.IsRegistry {
		if err := discovery.CheckTTL(a.Config.DiscoveryTTL); err != nil {
			return nil, fmt.Errorf("configuration: -discovery-ttl: %w", err)
		}
	}
	logger, err := logging.New(stderr, o.Name, a.Config.LogFormat, a.Config.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	a.Logger = logger
	a.Registry = metrics.NewRegistry()
	a.HTTPMetrics = metrics.NewHTTP(a.Registry)
	if err := buildinfo.Register(a.Registry, buildinfo.Get()); err != nil {
		return nil, err
	}
	a.HTTPClient = server.NewHTTPClient(10 * time.Second)
	a.Tracing = o.Tracing
	if a.Tracing == nil {
		if a.Tracing, err = tracing.Setup(ctx, o.Name, a.Config.OTLPEndpoint); err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
	}

	if urls := a.Config.DiscoveryList(); len(urls) > 0 && !o.IsRegistry {
		a.Discovery = discovery.NewClient(urls, a.Config.DiscoveryToken, nil, logger, a.discoveryOptions()...)
		// Calls to http://<service>/... resolve through discovery.
		a.HTTPClient.Transport = a.Discovery.Transport(a.HTTPClient.Transport)
	}
	// Outermost, so a client span names the service, not the instance.
	a.HTTPClient.Transport = a.Tracing.Transport(a.HTTPClient.Transport)
	return a, nil
}

// Router returns a router carrying /metrics, /health/live and /health/ready,
// with problem 404 and 405 answers; the service adds its API routes to it.
func (a *App) Router() *mux.Router {
	r := httpmw.NewRouter()
	r.Handle("/metrics", metrics.Handler(a.Registry)).Methods(http.MethodGet)
	r.Handle("/health/live", a.Health.Live()).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/health/ready", a.Health.Ready()).Methods(http.MethodGet, http.MethodHead)
	return r
}

// Handler wraps h with the standard middleware stack, inside a server span
// per request when tracing is on.
func (a *App) Handler(h http.Handler) http.Handler {
	return a.Tracing.Handler(httpmw.Stack(h, httpmw.Options{
		Logger: a.Logger, Metrics: a.HTTPMetrics, MaxBodyBytes: a.opts.MaxBodyBytes,
		Timeout: a.opts.RequestTimeout, QuietRoutes: a.opts.QuietRoutes,
	}), a.Name)
}

// OnDrain adds hooks run when shutdown begins, after readiness fails and
// before in-flight requests drain: e.g. answering blocked requests at once.
func (a *App) OnDrain(hooks ...server.Hook) { a.beforeDrain = append(a.beforeDrain, hooks...) }

// OnStarted adds a function called with the bound address once Run listens.
func (a *App) OnStarted(f func(net.Addr)) { a.started = append(a.started, f) }

// Run serves h (already wrapped by Handler) until ctx ends, registered in
// discovery while it serves. On shutdown readiness fails, the instance
// deregisters, in-flight requests drain, then the hooks in closers and the
// database close.
func (a *App) Run(ctx context.Context, h http.Handler, closers ...server.Hook) error {
	srv := server.NewHTTPServer(a.Config.HTTPAddr, h)
	if a.opts.ReadTimeout > 0 {
		srv.ReadTimeout = a.opts.ReadTimeout
	}
	if a.opts.WriteTimeout > 0 {
		srv.WriteTimeout = a.opts.WriteTimeout
	}
	var registrar *discovery.Registrar
	runner := &server.Runner{
		Server:          srv,
		Logger:          a.Logger,
		ShutdownTimeout: a.Config.ShutdownTimeout,
		Started: func(addr net.Addr) {
			for _, f := range a.started {
				f(addr)
			}
			if a.Discovery == nil {
				return
			}
			reg, err := a.registration(addr)
			if err != nil {
				_ = level.Error(a.Logger).Log("msg", "not registering with discovery", "err", err)
				return
			}
			registrar = discovery.NewRegistrar(a.Discovery, reg, a.Logger)
			registrar.Start(ctx)
		},
		BeforeDrain: []server.Hook{func(ctx context.Context) error {
			a.Health.SetDraining()
			if registrar != nil {
				// Not fatal: an instance that cannot deregister is evicted
				// when its lease lapses, and the registrar logs each failure.
				_ = registrar.Stop(ctx)
			}
			return nil
		}},
	}
	runner.BeforeDrain = append(runner.BeforeDrain, a.beforeDrain...)
	runner.AfterDrain = append(runner.AfterDrain, closers...)
	runner.AfterDrain = append(runner.AfterDrain, func(context.Context) error { return a.Close() })
	return runner.Run(ctx)
}

// Options returns the options the App was made with.
func (a *App) Options() Options { return a.opts }

// OnClose adds a function Close calls after releasing the discovery client,
// in the order added: e.g. closing the database (appdb).
func (a *App) OnClose(f func() error) { a.onClose = append(a.onClose, f) }

// Close stops following auth's keys and revocations, releases the
// discovery client, then what OnClose added, then
// flushes the spans not yet exported.
func (a *App) Close() error {
	// The verifier's followers first: they reach auth through discovery.
	for _, stop := range a.following {
		stop()
	}
	a.following = nil
	if a.Discovery != nil {
		a.Discovery.Close()
	}
	var errs []error
	for _, f := range a.onClose {
		errs = append(errs, f())
	}
	a.onClose = nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs = append(errs, a.Tracing.Shutdown(ctx))
	return errors.Join(errs...)
}

// registration describes this instance: the advertised address, or
// 127.0.0.1 and the bound port.
func (a *App) registration(bound net.Addr) (discovery.Registration, error) {
	host, port, err := discovery.Advertised(a.Config.AdvertiseAddr, bound)
	if err != nil {
		return discovery.Registration{}, fmt.Errorf("advertise address: %w", err)
	}
	return discovery.Registration{
		Service:    a.Name,
		InstanceID: discovery.InstanceID(a.Name, host, port),
		Address:    host,
		Port:       port,
		TTL:        a.Config.DiscoveryTTL,
		// "build" shows on the discovery dashboard which build each
		// instance runs (the same as its medisync_build_info metric).
		Metadata: map[string]string{"version": "v1", "build": build()},
	}, nil
}
