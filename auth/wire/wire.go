// Package wire assembles the auth service from its parts, the same way for the command and the tests.
package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/kit/metrics/discard"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
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
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/seal"
	"github.com/medisync/medisync/shared/sqldb"
)

// Config holds every setting of the service beyond the common ones.
// DefaultConfig owns the defaults: the flags start from it, and Build fills
// the zero fields of a partial Config from it.
type Config struct {
	service.Config // token lifetimes and the reset quota
	// KeyReloadInterval is how often keys are re-read, to pick up a
	// rotation made by another process.
	KeyReloadInterval time.Duration
	// KeyRetention keeps retired keys published; zero is AccessTTL +
	// KeyReloadInterval + 5 min, the longest a token they signed can be in use.
	KeyRetention time.Duration
	// KeyEncryptionKey (base64, 32 bytes) seals private keys at rest; ""
	// stores them unsealed, which Build allows on a server database only
	// with InsecureUnsealedKeys.
	KeyEncryptionKey string
	// InsecureUnsealedKeys lets a server database (MariaDB, PostgreSQL) hold
	// signing keys unsealed: a development shortcut asked for by name.
	// SQLite, the embedded default of one machine, needs no such flag.
	InsecureUnsealedKeys bool
	Hash                 password.HasherOptions
	AccountThrottle      throttle.Policy
	ClientThrottle       throttle.Policy
	// TrustedProxies are believed in X-Forwarded-For; nil trusts none.
	TrustedProxies []string
	ResetURL       string
	// EventSealKey (base64, 32 bytes; MEDISYNC_EVENT_SEAL_KEY) seals reset
	// links in auth.password_reset_requested for the notification service,
	// which holds the same key; "" writes no such event.
	EventSealKey string
	// PurgeInterval is how often Start deletes expired tokens and keys.
	PurgeInterval time.Duration
	// AdminEmail and AdminPassword name the first administrator, whom Start
	// creates when no account has the email; both empty creates none.
	AdminEmail, AdminPassword string
	// Notifier tells account owners about resets and repeated
	// registrations; nil picks the one named by NotifierName.
	Notifier service.Notifier
	// NotifierName picks a log notifier (notify.New): "log" (the default)
	// reveals no link, "dev-log" logs reset links and is for development
	// only.
	NotifierName string
	// Clock tells the time; nil is clock.System.
	Clock clock.Clock
}

// DefaultConfig is the one source of the auth defaults.
func DefaultConfig() Config {
	return Config{
		Config:            service.DefaultConfig(),
		KeyReloadInterval: 30 * time.Second,
		Hash:              password.HasherOptions{Params: password.OWASP, MaxWait: password.DefaultMaxWait},
		AccountThrottle:   throttle.DefaultAccount,
		ClientThrottle:    throttle.DefaultClient,
		TrustedProxies:    []string{"127.0.0.1", "::1"},
		ResetURL:          "http://localhost:8080/reset-password",
		NotifierName:      notify.NameLog,
		PurgeInterval:     time.Hour,
	}
}

// withDefaults fills the zero fields from DefaultConfig, except
// TrustedProxies, where nil means none.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Config = c.Config.WithDefaults()
	if c.KeyReloadInterval <= 0 {
		c.KeyReloadInterval = d.KeyReloadInterval
	}
	if c.KeyRetention <= 0 {
		c.KeyRetention = c.AccessTTL + c.KeyReloadInterval + 5*time.Minute
	}
	if c.AccountThrottle == (throttle.Policy{}) {
		c.AccountThrottle = d.AccountThrottle
	}
	if c.ClientThrottle == (throttle.Policy{}) {
		c.ClientThrottle = d.ClientThrottle
	}
	if c.ResetURL == "" {
		c.ResetURL = d.ResetURL
	}
	if c.PurgeInterval <= 0 {
		c.PurgeInterval = d.PurgeInterval
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	return c
}

// ErrKeyRetention refuses a retention under which a retired key could
// leave the JWKS while tokens it signed are still in use.
var ErrKeyRetention = errors.New("key-retention must be at least access-ttl + key-reload-interval")

// ErrAccessTTL refuses an access-token lifetime the verifiers refuse.
var ErrAccessTTL = fmt.Errorf("access-ttl must be at most %s, the longest lifetime a verifier accepts", authn.DefaultMaxLifetime)

// checkKeys refuses key settings that would strand valid tokens: every
// verifier refuses a token living longer than authn.DefaultMaxLifetime, a
// key retires on an instance up to one reload late, and its last tokens
// live an access-token lifetime after that.
func (c Config) checkKeys() error {
	if c.AccessTTL > authn.DefaultMaxLifetime {
		return fmt.Errorf("%w: %s", ErrAccessTTL, c.AccessTTL)
	}
	if least := c.AccessTTL + c.KeyReloadInterval; c.KeyRetention < least {
		return fmt.Errorf("%w: %s is less than %s", ErrKeyRetention, c.KeyRetention, least)
	}
	return nil
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
	// Feed serves the revocation feed; Revocations is what the service's
	// own verifier applies, kept current from the same entries.
	Feed        *service.Feed
	Revocations *authn.RevocationList
	revIndex    uint64 // feed index up to which Revocations was loaded
	deps        service.Deps
	clientIP    *transport.ClientIP
	bg          *background
	logger      log.Logger
}

// Build assembles the service on db. reg may be nil (no metrics).
func Build(ctx context.Context, db *sqldb.DB, cfg Config, logger log.Logger, reg prometheus.Registerer) (*Auth, error) {
	cfg = cfg.withDefaults()
	if err := cfg.checkKeys(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = log.NewNopLogger()
	}
	sealer, err := sealerFor(db, cfg, logger)
	if err != nil {
		return nil, err
	}
	ring := newRing(db, cfg, sealer)
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
		if notifier, err = notify.New(cfg.NotifierName, logger, cfg.ResetURL); err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
	}
	a := &Auth{
		Config:   cfg,
		Store:    sqlstore.New(db),
		Ring:     ring,
		Hasher:   hasher,
		Policy:   password.NewPolicy(),
		Throttle: throttle.NewLogin(cfg.AccountThrottle, cfg.ClientThrottle, cfg.Clock.Now),
		clientIP: ip,
		bg:       newBackground(64, 30*time.Second, logger),
		logger:   logger,
	}
	a.Feed = service.NewFeed(a.Store, cfg.Clock, service.FeedOptions{})
	a.Revocations = authn.NewRevocationList(cfg.Clock.Now)
	if err := a.loadRevocations(ctx); err != nil {
		return nil, err
	}
	var eventSeal *seal.Key
	if cfg.EventSealKey != "" {
		k, err := seal.ParseKey(cfg.EventSealKey)
		if err != nil {
			return nil, fmt.Errorf("configuration: event-seal-key: %w", err)
		}
		eventSeal = &k
	} else {
		_ = level.Warn(logger).Log("msg", "no -event-seal-key: password reset requests write no event, so the notification service sends no link")
	}
	a.deps = service.Deps{
		EventSeal: eventSeal, ResetURL: cfg.ResetURL,
		Store: a.Store, Hasher: a.Hasher, Policy: a.Policy, Throttle: a.Throttle, Tokens: ring,
		Notifier: notifier, Clock: cfg.Clock, Background: a.bg, Logger: logger,
		Listener: revocationSink{list: a.Revocations, feed: a.Feed},
	}
	svc := service.New(a.deps, cfg.Config)
	// Without a registry the calls are still logged; their counts go nowhere.
	methods := metrics.Method{Count: discard.NewCounter(), Latency: discard.NewHistogram()}
	if reg != nil {
		methods = metrics.NewMethod(reg, "auth")
		registerGauges(reg, hasher, a.Throttle)
		reg.MustRegister(keyAgeCollector{ring})
	}
	svc = service.Middleware(logger, methods)(svc)
	a.Service = svc
	// The service verifies tokens on its own routes exactly as every other
	// service does, with the keys in hand instead of fetched.
	v := authn.NewVerifier(func(context.Context) jwt.Keyfunc { return ring.Keyfunc },
		authn.Config{Now: cfg.Clock.Now, Revocations: a.Revocations})
	ring.OnChange(v.KeysChanged)
	a.Verifier = v
	return a, nil
}

// revocationSink applies the revocations this instance commits to its own
// verifier at once, and wakes the feed's held requests.
type revocationSink struct {
	list *authn.RevocationList
	feed *service.Feed
}

func (s revocationSink) Revoked(rs []authn.Revocation) {
	s.list.Add(rs...)
	s.feed.Revoked(rs)
}

// loadRevocations reads the stored revocations into the verifier's list.
func (a *Auth) loadRevocations(ctx context.Context) error {
	for {
		page, err := a.Feed.Page(ctx, a.revIndex, 0)
		if err != nil {
			return fmt.Errorf("load revocations: %w", err)
		}
		a.Revocations.Add(page.Revocations...)
		if page.Index == a.revIndex {
			return nil
		}
		a.revIndex = page.Index
	}
}

// followRevocations keeps the verifier's list current with the revocations
// other instances sharing the database write, until ctx ends.
func (a *Auth) followRevocations(ctx context.Context, onErr func(error)) {
	index := a.revIndex
	for ctx.Err() == nil {
		page, err := a.Feed.Page(ctx, index, transport.DefaultRevocationsWait)
		if err != nil {
			if ctx.Err() == nil {
				onErr(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		a.Revocations.Add(page.Revocations...)
		index = page.Index
	}
}

func newRing(db *sqldb.DB, cfg Config, sealer *signing.Sealer) *signing.Ring {
	return signing.NewRing(sqlstore.NewKeys(db), signing.Options{
		Issuer: authn.DefaultIssuer, Audience: authn.DefaultAudience,
		Retention: cfg.KeyRetention, Now: cfg.Clock.Now, Sealer: sealer,
	})
}

// Routes adds the auth API and JWKS routes to r.
func (a *Auth) Routes(r *mux.Router) {
	transport.Register(r, endpoint.New(a.Service), transport.Options{
		Verifier: a.Verifier, JWKS: a.Ring.JWKS, ClientIP: a.clientIP, Revocations: a.Feed,
	})
}

// Bootstrap creates the first administrator (see service.Bootstrap).
func (a *Auth) Bootstrap(ctx context.Context, email, pw string) (bool, error) {
	return service.Bootstrap(ctx, a.deps, email, pw)
}

// Start makes the configured first administrator and starts the key
// reloads and purges. The returned stop ends them and waits for the work
// deferred past its answer (reset deliveries); call it before the database
// closes.
func (a *Auth) Start(ctx context.Context) (stop func(context.Context) error, err error) {
	if kid, err := a.Ring.CurrentKID(); err == nil {
		_ = level.Info(a.logger).Log("msg", "signing key ready", "kid", kid, "published", len(a.Ring.PublishedKIDs()))
	}
	if err := a.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	// Held feed requests are answered when shutdown begins, so they do
	// not hold up the drain.
	context.AfterFunc(ctx, a.Feed.Close)
	maintain, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		a.maintain(maintain, func(err error) {
			_ = level.Warn(a.logger).Log("msg", "maintenance failed", "err", err)
		})
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		a.followRevocations(maintain, func(err error) {
			_ = level.Warn(a.logger).Log("msg", "reading revocations failed", "err", err)
		})
	}()
	return func(ctx context.Context) error {
		cancel()
		a.Feed.Close()
		<-done
		<-done
		return a.Wait(ctx)
	}, nil
}

func (a *Auth) bootstrapAdmin(ctx context.Context) error {
	email, pw := a.Config.AdminEmail, a.Config.AdminPassword
	if email == "" && pw == "" {
		_ = level.Info(a.logger).Log("msg", "no first administrator configured (MEDISYNC_ADMIN_EMAIL, MEDISYNC_ADMIN_PASSWORD)")
		return nil
	}
	if email == "" || pw == "" {
		return errors.New("configuration: MEDISYNC_ADMIN_EMAIL and MEDISYNC_ADMIN_PASSWORD go together")
	}
	created, err := a.Bootstrap(ctx, email, pw)
	if errors.Is(err, service.ErrBootstrapNotAdmin) {
		// Not fatal: an administrator may have demoted this account since.
		_ = level.Warn(a.logger).Log("msg", "first administrator not created", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("first administrator: %w", err)
	}
	if created {
		_ = level.Info(a.logger).Log("msg", "first administrator created")
	} else {
		_ = level.Info(a.logger).Log("msg", "first administrator already exists; left unchanged")
	}
	return nil
}

// Wait returns when the work deferred past its answer (password reset
// deliveries) has finished, or ctx ends; call it before closing the
// database.
func (a *Auth) Wait(ctx context.Context) error { return a.bg.wait(ctx) }

// maintain reloads the keys every KeyReloadInterval and, every
// PurgeInterval, deletes expired tokens, revocations and keys past
// retention, until ctx ends. Failures go to onErr.
func (a *Auth) maintain(ctx context.Context, onErr func(error)) {
	go a.Ring.Run(ctx, a.Config.KeyReloadInterval, onErr)
	clock.Every(ctx, a.Config.PurgeInterval, func() {
		if _, err := service.Purge(ctx, a.Store, a.Config.Clock.Now()); err != nil && ctx.Err() == nil {
			onErr(fmt.Errorf("purge expired tokens: %w", err))
		}
		a.Revocations.Prune()
		if _, err := a.Ring.Prune(ctx); err != nil && ctx.Err() == nil {
			onErr(err)
		}
	})
}

// ErrUnsealedKeys refuses to keep signing keys unsealed in a server database.
var ErrUnsealedKeys = errors.New("signing keys would be stored unsealed in a server database: set -key-encryption-key " +
	"(MEDISYNC_KEY_ENCRYPTION_KEY, base64 of 32 random bytes), or -insecure-unsealed-keys for development only")

// sealerFor seals keys with the configured key; without one it allows
// unsealed keys on SQLite (one machine's embedded default) with a warning,
// and on a server database only when InsecureUnsealedKeys asks for it.
func sealerFor(db *sqldb.DB, cfg Config, logger log.Logger) (*signing.Sealer, error) {
	if cfg.KeyEncryptionKey == "" {
		if db.Dialect != sqldb.SQLite && !cfg.InsecureUnsealedKeys {
			return nil, ErrUnsealedKeys
		}
		_ = level.Warn(logger).Log("msg", "signing keys are stored unsealed; set -key-encryption-key to seal them")
	}
	return signing.NewSealer(cfg.KeyEncryptionKey)
}

// Rotation says when a new signing key starts signing; it is published at
// once.
type Rotation struct {
	// ActivateIn delays the signing; it must be at least
	// Config.MinKeyActivation unless Now is set.
	ActivateIn time.Duration
	// Now signs with the new key at once, whatever ActivateIn says: for a
	// single instance, or a key that must stop signing now. Instances that
	// have not reloaded yet refuse the new key's tokens until they do.
	Now bool
}

// MinKeyActivation is the shortest delay before a new key signs: every
// instance re-reads the keys within KeyReloadInterval, so after twice that
// each publishes the key (with a reload's worth to spare) before any signs
// with it, and a JWKS fetched from any of them verifies its tokens.
func (c Config) MinKeyActivation() time.Duration { return 2 * c.withDefaults().KeyReloadInterval }

// ErrActivationTooSoon refuses a rotation whose key would sign before every
// instance publishes it.
var ErrActivationTooSoon = errors.New("the new key would sign before every instance publishes it")

// RotateKey makes a new signing key on db that signs as r says; the current
// keys stay published. It refuses when the current keys cannot be opened: a
// wrong key encryption key would otherwise leave keys nobody can use. It
// returns the new key and the key ids published after the rotation.
func RotateKey(ctx context.Context, db *sqldb.DB, cfg Config, r Rotation) (signing.Key, []string, error) {
	cfg = cfg.withDefaults()
	if err := cfg.checkKeys(); err != nil {
		return signing.Key{}, nil, err
	}
	activateIn := r.ActivateIn
	switch {
	case r.Now:
		activateIn = 0
	case activateIn < cfg.MinKeyActivation():
		return signing.Key{}, nil, fmt.Errorf("%w: activation in %s with keys reloaded every %s; activate in %s or later (-activate-in), or at once with -activate-now",
			ErrActivationTooSoon, activateIn, cfg.KeyReloadInterval, cfg.MinKeyActivation())
	}
	sealer, err := sealerFor(db, cfg, log.NewNopLogger())
	if err != nil {
		return signing.Key{}, nil, err
	}
	ring := newRing(db, cfg, sealer)
	if err := ring.Load(ctx); err != nil {
		return signing.Key{}, nil, err
	}
	k, err := ring.Rotate(ctx, activateIn)
	if err != nil {
		return signing.Key{}, nil, err
	}
	return k, ring.PublishedKIDs(), nil
}

var keyAgeDesc = prometheus.NewDesc(metrics.Namespace+"_auth_signing_key_age_seconds",
	"Age of the key that signs access tokens now, since its creation: rotation is overdue when it grows past the policy (auth rotate-key).",
	nil, nil)

// keyAgeCollector reports the signing key's age when scraped, and nothing
// while no key signs, so that an alert sees the gap instead of a zero.
type keyAgeCollector struct{ ring *signing.Ring }

func (c keyAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- keyAgeDesc }

func (c keyAgeCollector) Collect(ch chan<- prometheus.Metric) {
	if age, ok := c.ring.SigningKeyAge(); ok {
		ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, age.Seconds())
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
			Help: "Accounts, accounts by client address, and client addresses with recent failed logins, and addresses known to accounts.",
		}, func() float64 { return float64(t.Len()) }),
	)
}
