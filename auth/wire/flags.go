package wire

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/medisync/medisync/auth/adapter/notify"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/shared/config"
)

// Flags are the auth command's own flags, starting from DefaultConfig.
type Flags struct {
	cfg            Config
	trustedProxies string
	memKiB         uint
	iterations     uint
	parallelism    uint
}

// NewFlags returns flags holding the defaults.
func NewFlags() *Flags {
	f := &Flags{cfg: DefaultConfig()}
	p := f.cfg.Hash.Params
	f.memKiB, f.iterations, f.parallelism = uint(p.MemoryKiB), uint(p.Time), uint(p.Threads)
	f.trustedProxies = strings.Join(f.cfg.TrustedProxies, ",")
	return f
}

// RegisterKeys defines the flags the key commands share with serve.
func (f *Flags) RegisterKeys(fs *flag.FlagSet) {
	c := &f.cfg
	fs.DurationVar(&c.AccessTTL, "access-ttl", c.AccessTTL, "lifetime of access tokens")
	fs.StringVar(&c.KeyEncryptionKey, "key-encryption-key", c.KeyEncryptionKey, "base64 32-byte key sealing the signing keys at rest (AES-256-GCM); empty stores them unsealed")
	fs.BoolVar(&c.InsecureUnsealedKeys, "insecure-unsealed-keys", c.InsecureUnsealedKeys, "DEVELOPMENT ONLY: let a server database hold the signing keys unsealed, without -key-encryption-key")
	fs.DurationVar(&c.KeyReloadInterval, "key-reload-interval", c.KeyReloadInterval, "how often signing keys are re-read, to pick up a rotation")
	fs.DurationVar(&c.KeyRetention, "key-retention", c.KeyRetention, "how long a retired key stays in the JWKS (default access-ttl + key-reload-interval + 5m)")
}

// Register defines every flag of serve.
func (f *Flags) Register(fs *flag.FlagSet) {
	f.RegisterKeys(fs)
	c := &f.cfg
	fs.StringVar(&c.AdminEmail, "admin-email", c.AdminEmail, "email of the first ADMIN, created at start when no account has it")
	fs.StringVar(&c.AdminPassword, "admin-password", c.AdminPassword, "password of the first ADMIN (prefer the environment variable: flags show in process lists)")
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", c.RefreshTTL, "lifetime of refresh tokens (each refresh starts a new one)")
	fs.DurationVar(&c.SessionMaxAge, "session-max-age", c.SessionMaxAge, "longest a sign-in session is refreshed before the password is asked again")
	fs.DurationVar(&c.ResetTTL, "reset-ttl", c.ResetTTL, "lifetime of password reset tokens")
	fs.UintVar(&f.memKiB, "hash-memory-kib", f.memKiB, "argon2id memory in KiB")
	fs.UintVar(&f.iterations, "hash-iterations", f.iterations, "argon2id iterations")
	fs.UintVar(&f.parallelism, "hash-parallelism", f.parallelism, "argon2id parallelism")
	fs.IntVar(&c.Hash.Workers, "hash-workers", c.Hash.Workers, "concurrent password hashes (default: the number of cores)")
	fs.DurationVar(&c.Hash.MaxWait, "hash-max-wait", c.Hash.MaxWait, "longest wait for a hashing worker before answering 503")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", f.trustedProxies, "comma-separated proxies (CIDR or address) whose X-Forwarded-For is believed for login throttling")
	fs.StringVar(&c.NotifierName, "notifier", c.NotifierName, "who hears of password resets and repeated registrations: log (records that one happened, for the user id; no link) or dev-log (DEVELOPMENT ONLY: writes reset links, which take over accounts, to the log)")
	fs.StringVar(&c.EventSealKey, "event-seal-key", c.EventSealKey, "base64 32-byte key (AES-256-GCM) sealing reset links in events for the notification service, which holds the same key; empty sends none (prefer the environment variable)")
	fs.StringVar(&c.ResetURL, "reset-url", c.ResetURL, "page that takes a reset token (?token=) in reset links")
	fs.DurationVar(&c.PurgeInterval, "purge-interval", c.PurgeInterval, "how often expired tokens and retired keys are deleted")
}

// Config returns the configuration the parsed flags describe.
func (f *Flags) Config() (Config, error) {
	if f.memKiB < 8 || f.memKiB > 1<<20 || f.iterations < 1 || f.iterations > 64 || f.parallelism < 1 || f.parallelism > 255 {
		return Config{}, errors.New("argon2id parameters out of range")
	}
	if !slices.Contains(notify.Names, f.cfg.NotifierName) {
		return Config{}, fmt.Errorf("notifier must be one of %s", strings.Join(notify.Names, ", "))
	}
	if f.cfg.PurgeInterval <= 0 {
		return Config{}, errors.New("purge-interval must be positive")
	}
	// Links are this page with ?token= appended: a query or fragment of its
	// own would break every link mailed.
	if u, err := url.Parse(f.cfg.ResetURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return Config{}, fmt.Errorf("reset-url must be an absolute http or https address without a query or fragment, not %q", f.cfg.ResetURL)
	}
	c := f.cfg
	c.Hash.Params = password.Params{
		MemoryKiB: uint32(f.memKiB), Time: uint32(f.iterations), Threads: uint8(f.parallelism),
		SaltLen: password.OWASP.SaltLen, KeyLen: password.OWASP.KeyLen,
	}
	// The range above keeps the conversions exact; the hashes must also
	// be ones the parser reads back (memory at least 8 KiB per lane).
	if err := c.Hash.Params.Validate(); err != nil {
		return Config{}, fmt.Errorf("hash parameters: %w", err)
	}
	c.TrustedProxies = config.SplitList(f.trustedProxies)
	return c, nil
}
