// Package wire assembles the auth service from its parts: repositories on a
// database, signing keys, the password hasher and policy, the login
// throttle, the service with its middlewares, endpoints and HTTP routes. The
// command and the HTTP tests build it the same way.
package wire

import (
	"context"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medisync/medisync/auth/adapter/notify"
	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/endpoint"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/auth/throttle"
	"github.com/medisync/medisync/auth/transport"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/sqldb"
)

// Config holds every setting of the service beyond the common ones.
type Config struct {
	AccessTTL  time.Duration // default 15 min
	RefreshTTL time.Duration // default 7 days
	ResetTTL   time.Duration // default 30 min
	// KeyReloadInterval is how often keys are re-read, to pick up a
	// rotation made by another process; default 30 s.
	KeyReloadInterval time.Duration
	// KeyRetention keeps retired keys published; default AccessTTL +
	// KeyReloadInterval + 5 min.
	KeyRetention time.Duration
	// KeyEncryptionKey (base64, 32 bytes) seals private keys at rest; ""
	// stores them unsealed.
	KeyEncryptionKey string
	Hash             password.HasherOptions
	AccountThrottle  throttle.Policy // zero: throttle.DefaultAccount
	ClientThrottle   throttle.Policy // zero: throttle.DefaultClient
	TrustedProxies   []string
	ResetURL         string
	// Notifier delivers reset links; nil logs them (notify.Log).
	Notifier service.Notifier
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.AccessTTL <= 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.RefreshTTL <= 0 {
		c.RefreshTTL = 7 * 24 * time.Hour
	}
	if c.ResetTTL <= 0 {
		c.ResetTTL = 30 * time.Minute
	}
	if c.KeyReloadInterval <= 0 {
		c.KeyReloadInterval = 30 * time.Second
	}
	if c.KeyRetention <= 0 {
		c.KeyRetention = c.AccessTTL + c.KeyReloadInterval + 5*time.Minute
	}
	if c.AccountThrottle == (throttle.Policy{}) {
		c.AccountThrottle = throttle.DefaultAccount
	}
	if c.ClientThrottle == (throttle.Policy{}) {
		c.ClientThrottle = throttle.DefaultClient
	}
	if c.ResetURL == "" {
		c.ResetURL = "http://localhost:8080/reset-password"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Auth is the assembled service.
type Auth struct {
	Config   Config
	Store    *sqlstore.Store
	Ring     *signing.Ring
	Hasher   *password.Hasher
	Policy   *password.Policy
	Throttle *throttle.Login
	Service  service.Service
	Verifier authn.Verifier
	deps     service.Deps
	clientIP *transport.ClientIP
	bg       *background
}

type clock func() time.Time

func (c clock) Now() time.Time { return c() }

// Build assembles the service on db. reg may be nil (no metrics).
func Build(ctx context.Context, db *sqldb.DB, cfg Config, logger log.Logger, reg prometheus.Registerer) (*Auth, error) {
	cfg.defaults()
	if logger == nil {
		logger = log.NewNopLogger()
	}
	sealer, err := signing.NewSealer(cfg.KeyEncryptionKey)
	if err != nil {
		return nil, err
	}
	ring := NewRing(db, cfg, sealer)
	if _, err := ring.EnsureKey(ctx); err != nil {
		return nil, err
	}
	hasher, err := password.NewHasher(cfg.Hash)
	if err != nil {
		return nil, err
	}
	ip, err := transport.NewClientIP(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	notifier := cfg.Notifier
	if notifier == nil {
		notifier = notify.Log{Logger: logger, BaseURL: cfg.ResetURL}
	}
	a := &Auth{
		Config:   cfg,
		Store:    sqlstore.New(db),
		Ring:     ring,
		Hasher:   hasher,
		Policy:   password.NewPolicy(),
		Throttle: throttle.NewLogin(cfg.AccountThrottle, cfg.ClientThrottle, cfg.Now),
		clientIP: ip,
		bg:       newBackground(64, 30*time.Second, logger),
	}
	a.deps = service.Deps{
		Store: a.Store, Hasher: a.Hasher, Policy: a.Policy, Throttle: a.Throttle, Tokens: ring,
		Notifier: notifier, Clock: clock(cfg.Now), Background: a.bg, Logger: logger,
	}
	svc := service.New(a.deps, service.Config{AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, ResetTTL: cfg.ResetTTL})
	svc = service.LoggingMiddleware(logger)(svc)
	if reg != nil {
		svc = service.InstrumentingMiddleware(metrics.NewMethod(reg, "auth"))(svc)
		registerGauges(reg, hasher, a.Throttle)
	}
	a.Service = svc
	// The service verifies tokens on its own routes exactly as every other
	// service does, with the keys in hand instead of fetched.
	a.Verifier = authn.NewVerifier(func(context.Context) jwt.Keyfunc { return ring.Keyfunc }, authn.Config{Now: cfg.Now})
	return a, nil
}

// NewRing returns the key ring over db, for the server and the key commands.
func NewRing(db *sqldb.DB, cfg Config, sealer *signing.Sealer) *signing.Ring {
	cfg.defaults()
	return signing.NewRing(sqlstore.NewKeys(db), signing.Options{
		Issuer: authn.DefaultIssuer, Audience: authn.DefaultAudience,
		Retention: cfg.KeyRetention, Now: cfg.Now, Sealer: sealer,
	})
}

// Routes adds the auth API and JWKS routes to r.
func (a *Auth) Routes(r *mux.Router) {
	transport.Routes(r, endpoint.New(a.Service), transport.Options{
		Verifier: a.Verifier, JWKS: a.Ring.JWKS, ClientIP: a.clientIP,
	})
}

// Bootstrap creates the first administrator (see service.Bootstrap).
func (a *Auth) Bootstrap(ctx context.Context, email, pw string) (bool, error) {
	return service.Bootstrap(ctx, a.deps, email, pw)
}

// Wait returns when the work deferred past its answer (password reset
// deliveries) has finished, or ctx ends; call it before closing the
// database.
func (a *Auth) Wait(ctx context.Context) error { return a.bg.wait(ctx) }

// Maintain reloads the keys every KeyReloadInterval and, every
// purgeInterval, deletes expired tokens and keys past retention, until ctx
// ends. Failures go to onErr.
func (a *Auth) Maintain(ctx context.Context, purgeInterval time.Duration, onErr func(error)) {
	go a.Ring.Run(ctx, a.Config.KeyReloadInterval, onErr)
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := service.Purge(ctx, a.Store, a.Config.Now()); err != nil && ctx.Err() == nil {
				onErr(fmt.Errorf("purge expired tokens: %w", err))
			}
			if _, err := a.Ring.Prune(ctx); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

func registerGauges(reg prometheus.Registerer, h *password.Hasher, t *throttle.Login) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "auth", Name: "password_hash_in_use",
			Help: "Password hashing workers busy.",
		}, func() float64 { return float64(h.InUse()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "auth", Name: "password_hash_waiting",
			Help: "Requests waiting for a password hashing worker.",
		}, func() float64 { return float64(h.Waiting()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "auth", Name: "login_throttle_keys",
			Help: "Accounts and client addresses with recent failed logins.",
		}, func() float64 { return float64(t.Account.Len() + t.Client.Len()) }),
	)
}
