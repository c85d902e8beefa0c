// Command auth runs the medisync auth service: accounts, roles, access and
// refresh tokens, and the JWKS every other service verifies tokens with.
//
//	auth [flags]                  serve (the default; also "auth serve")
//	auth rotate-key [flags]       make a new signing key; the old one stays
//	                              published until the tokens it signed expire
//
// Every flag has a MEDISYNC_* environment variable of the same meaning.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/config"
	"github.com/medisync/medisync/shared/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "auth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, lookup, stderr)
	case "rotate-key":
		return rotateKey(ctx, args, lookup, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (want serve or rotate-key)", cmd)
	}
}

// settings are the auth service's own flags.
type settings struct {
	cfg            wire.Config
	adminEmail     string
	adminPassword  string
	trustedProxies string
	purgeInterval  time.Duration
	memKiB         uint
	iterations     uint
	parallelism    uint
}

// keySettings are the flags that the key commands share with serve.
func (s *settings) registerKeys(fs *flag.FlagSet) {
	fs.DurationVar(&s.cfg.AccessTTL, "access-ttl", 15*time.Minute, "lifetime of access tokens")
	fs.StringVar(&s.cfg.KeyEncryptionKey, "key-encryption-key", "", "base64 32-byte key sealing the signing keys at rest (AES-256-GCM); empty stores them unsealed")
	fs.DurationVar(&s.cfg.KeyReloadInterval, "key-reload-interval", 30*time.Second, "how often signing keys are re-read, to pick up a rotation")
	fs.DurationVar(&s.cfg.KeyRetention, "key-retention", 0, "how long a retired key stays in the JWKS (default access-ttl + key-reload-interval + 5m)")
}

func (s *settings) register(fs *flag.FlagSet) {
	s.registerKeys(fs)
	fs.StringVar(&s.adminEmail, "admin-email", "", "email of the first ADMIN, created at start when no account has it")
	fs.StringVar(&s.adminPassword, "admin-password", "", "password of the first ADMIN (prefer the environment variable: flags show in process lists)")
	fs.DurationVar(&s.cfg.RefreshTTL, "refresh-ttl", 7*24*time.Hour, "lifetime of refresh tokens (each refresh starts a new one)")
	fs.DurationVar(&s.cfg.ResetTTL, "reset-ttl", 30*time.Minute, "lifetime of password reset tokens")
	fs.UintVar(&s.memKiB, "hash-memory-kib", uint(password.OWASP.MemoryKiB), "argon2id memory in KiB")
	fs.UintVar(&s.iterations, "hash-iterations", uint(password.OWASP.Time), "argon2id iterations")
	fs.UintVar(&s.parallelism, "hash-parallelism", uint(password.OWASP.Threads), "argon2id parallelism")
	fs.IntVar(&s.cfg.Hash.Workers, "hash-workers", 0, "concurrent password hashes (default: the number of cores)")
	fs.DurationVar(&s.cfg.Hash.MaxWait, "hash-max-wait", 5*time.Second, "longest wait for a hashing worker before answering 503")
	fs.StringVar(&s.trustedProxies, "trusted-proxies", "127.0.0.1,::1", "comma-separated proxies (CIDR or address) whose X-Forwarded-For is believed for login throttling")
	fs.StringVar(&s.cfg.ResetURL, "reset-url", "http://localhost:8080/reset-password", "page that takes a reset token (?token=) in reset links")
	fs.DurationVar(&s.purgeInterval, "purge-interval", time.Hour, "how often expired tokens and retired keys are deleted")
}

func (s *settings) finish() error {
	if s.memKiB < 8 || s.memKiB > 1<<20 || s.iterations < 1 || s.iterations > 64 || s.parallelism < 1 || s.parallelism > 255 {
		return fmt.Errorf("argon2id parameters out of range")
	}
	s.cfg.Hash.Params = password.Params{
		MemoryKiB: uint32(s.memKiB), Time: uint32(s.iterations), Threads: uint8(s.parallelism),
		SaltLen: password.OWASP.SaltLen, KeyLen: password.OWASP.KeyLen,
	}
	s.cfg.TrustedProxies = config.SplitList(s.trustedProxies)
	if s.purgeInterval <= 0 {
		return fmt.Errorf("purge-interval must be positive")
	}
	return nil
}

func serve(ctx context.Context, args []string, lookup func(string) (string, bool), stderr io.Writer) error {
	var s settings
	a, err := app.New(ctx, app.Options{
		Name: "auth", DefaultAddr: ":8081", DefaultDSN: "sqlite:data/auth.db",
		Migrations: sqlstore.Migrations(), Flags: s.register, MaxBodyBytes: 64 << 10,
	}, args, lookup, stderr)
	if err != nil {
		return err
	}
	if err := s.finish(); err != nil {
		_ = a.Close()
		return fmt.Errorf("configuration: %w", err)
	}
	auth, err := wire.Build(ctx, a.DB, s.cfg, a.Logger, a.Registry)
	if err != nil {
		_ = a.Close()
		return err
	}
	if kid, err := auth.Ring.CurrentKID(); err == nil {
		_ = level.Info(a.Logger).Log("msg", "signing key ready", "kid", kid, "published", len(auth.Ring.PublishedKIDs()))
	}
	if err := bootstrap(ctx, auth, s, a); err != nil {
		_ = a.Close()
		return err
	}

	maintain, stopMaintain := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		auth.Maintain(maintain, s.purgeInterval, func(err error) {
			_ = level.Warn(a.Logger).Log("msg", "maintenance failed", "err", err)
		})
	}()
	r := a.Router()
	auth.Routes(r)
	return a.Run(ctx, a.Handler(r), server.Hook(func(ctx context.Context) error {
		stopMaintain()
		<-done
		return auth.Wait(ctx)
	}))
}

func bootstrap(ctx context.Context, auth *wire.Auth, s settings, a *app.App) error {
	if s.adminEmail == "" && s.adminPassword == "" {
		_ = level.Info(a.Logger).Log("msg", "no first administrator configured (MEDISYNC_ADMIN_EMAIL, MEDISYNC_ADMIN_PASSWORD)")
		return nil
	}
	if s.adminEmail == "" || s.adminPassword == "" {
		return fmt.Errorf("configuration: MEDISYNC_ADMIN_EMAIL and MEDISYNC_ADMIN_PASSWORD go together")
	}
	created, err := auth.Bootstrap(ctx, s.adminEmail, s.adminPassword)
	if errors.Is(err, service.ErrBootstrapNotAdmin) {
		// Not fatal: an administrator may have demoted this account since.
		_ = level.Warn(a.Logger).Log("msg", "first administrator not created", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("first administrator: %w", err)
	}
	if created {
		_ = level.Info(a.Logger).Log("msg", "first administrator created")
	} else {
		_ = level.Info(a.Logger).Log("msg", "first administrator already exists; left unchanged")
	}
	return nil
}

func rotateKey(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	var (
		s          settings
		activateIn time.Duration
	)
	a, err := app.New(ctx, app.Options{
		Name: "auth", DefaultAddr: ":8081", DefaultDSN: "sqlite:data/auth.db",
		Migrations: sqlstore.Migrations(),
		Flags: func(fs *flag.FlagSet) {
			s.registerKeys(fs)
			fs.DurationVar(&activateIn, "activate-in", 0, "delay before the new key starts signing (it is published at once)")
		},
	}, append([]string{"-discovery-urls", ""}, args...), lookup, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	sealer, err := signing.NewSealer(s.cfg.KeyEncryptionKey)
	if err != nil {
		return err
	}
	ring := wire.NewRing(a.DB, s.cfg, sealer)
	// Refuse to rotate when the current keys cannot be opened: a wrong key
	// encryption key would otherwise leave keys nobody can use.
	if err := ring.Load(ctx); err != nil {
		return err
	}
	k, err := ring.Rotate(ctx, activateIn)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s signs from %s; published keys: %s\n",
		k.KID, k.ActivatesAt.Format(time.RFC3339), strings.Join(ring.PublishedKIDs(), ", "))
	return nil
}
