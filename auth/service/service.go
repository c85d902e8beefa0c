// Package service holds the auth use cases behind the Service interface; the ports it needs are in ports.go.
package service

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/seal"
)

// Service is what the auth service does: registration, login with
// throttling, refresh-token rotation with reuse detection, logout, password
// change and reset, and user administration. Use cases acting for a signed-in
// caller take that caller as actor.
type Service interface {
	// Register answers a taken address like a new one (nil) and tells the
	// address's owner instead.
	Register(ctx context.Context, in RegisterInput) error
	Login(ctx context.Context, in LoginInput) (TokenPair, error)
	Refresh(ctx context.Context, refreshToken string) (TokenPair, error)
	Logout(ctx context.Context, refreshToken string) error
	Me(ctx context.Context, actor authn.Principal) (account.User, error)
	ChangePassword(ctx context.Context, actor authn.Principal, in ChangePasswordInput) (TokenPair, error)
	ForgotPassword(ctx context.Context, email string) error
	ResetPassword(ctx context.Context, token, newPassword string) error
	CreateUser(ctx context.Context, actor authn.Principal, in CreateUserInput) (account.User, error)
	ListUsers(ctx context.Context, actor authn.Principal, in ListUsersInput) (page.Page[account.User], error)
	GetUser(ctx context.Context, actor authn.Principal, id string) (account.User, error)
	UpdateUser(ctx context.Context, actor authn.Principal, in UpdateUserInput) (account.User, error)
	// AnnounceUsers writes auth.user_registered again for the next page of
	// accounts, so that a consumer's copy of them can be rebuilt.
	AnnounceUsers(ctx context.Context, actor authn.Principal, in AnnounceUsersInput) (Announced, error)
}

// RegisterInput is a self-registration.
type RegisterInput struct {
	Email, Password, FullName string
}

// LoginInput is a login attempt; ClientIP feeds the throttle.
type LoginInput struct {
	Email, Password, ClientIP string
}

// ChangePasswordInput changes the caller's password; ClientIP feeds the
// throttle.
type ChangePasswordInput struct {
	CurrentPassword, NewPassword, ClientIP string
}

// CreateUserInput is an account an administrator creates.
type CreateUserInput struct {
	Email, Password, FullName string
	Roles                     []string
}

// ListUsersInput selects a page of users; a zero Limit is page.DefaultLimit.
type ListUsersInput struct {
	Role   string
	Cursor string
	Limit  int
}

// AnnounceUsersInput selects the page of accounts to announce again; a zero
// Limit is page.DefaultLimit.
type AnnounceUsersInput struct {
	Cursor string
	Limit  int
}

// Announced says how many accounts a call announced, and the cursor of the
// next page ("" after the last one).
type Announced struct {
	Count      int
	NextCursor string
}

// UpdateUserInput changes a user's roles and/or disabled flag. IfMatch,
// when set, is the version the caller last saw.
type UpdateUserInput struct {
	ID       string
	Roles    *[]string
	Disabled *bool
	IfMatch  *int
}

// TokenPair is the answer to a login, refresh or password change.
type TokenPair struct {
	AccessToken      string
	ExpiresIn        time.Duration
	RefreshToken     string
	RefreshExpiresIn time.Duration
}

// ThrottledError says a login must wait before it is tried again.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return "too many failed attempts; retry later"
}

// Config holds the lifetimes and limits of the service. DefaultConfig owns
// the defaults; zero fields take them.
type Config struct {
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// SessionMaxAge bounds a sign-in session: past it from the login no
	// refresh succeeds, and the password is asked again.
	SessionMaxAge time.Duration
	ResetTTL      time.Duration
	// ResetsPerWindow caps reset tokens issued per user within ResetTTL;
	// further requests are answered the same but send nothing.
	ResetsPerWindow int
}

// DefaultConfig is the one source of the service's defaults; flags and the
// wiring start from it.
func DefaultConfig() Config {
	return Config{
		AccessTTL:       15 * time.Minute,
		RefreshTTL:      7 * 24 * time.Hour,
		SessionMaxAge:   30 * 24 * time.Hour,
		ResetTTL:        30 * time.Minute,
		ResetsPerWindow: 3,
	}
}

// WithDefaults returns c with its zero (or negative) fields set from
// DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.AccessTTL <= 0 {
		c.AccessTTL = d.AccessTTL
	}
	if c.RefreshTTL <= 0 {
		c.RefreshTTL = d.RefreshTTL
	}
	if c.SessionMaxAge <= 0 {
		c.SessionMaxAge = d.SessionMaxAge
	}
	if c.ResetTTL <= 0 {
		c.ResetTTL = d.ResetTTL
	}
	if c.ResetsPerWindow <= 0 {
		c.ResetsPerWindow = d.ResetsPerWindow
	}
	return c
}

// Deps are the adapters the service works with.
type Deps struct {
	Store    Store
	Hasher   Hasher
	Policy   PasswordPolicy
	Throttle Throttle
	Tokens   AccessTokens
	Notifier Notifier
	Clock    clock.Clock // nil is clock.System
	// Background takes the work of a forgotten-password request and of a
	// repeated registration off the request; nil does it before answering.
	Background Background
	// Listener hears of revocations once committed (the feed's waiters,
	// the service's own verifier); nil is nobody.
	Listener RevocationListener
	// EventSeal seals the reset link in auth.password_reset_requested
	// (MEDISYNC_EVENT_SEAL_KEY, shared with the notification service); nil
	// writes no such event.
	EventSeal *seal.Key
	// ResetURL is the page that takes a reset token (?token=) in links.
	ResetURL string
	// Logger records security events (refresh-token reuse, failed
	// notifications); never secrets.
	Logger log.Logger
}

type service struct {
	Deps
	cfg Config
}

// New returns the service.
func New(d Deps, cfg Config) Service { return newService(d, cfg) }

func newService(d Deps, cfg Config) *service {
	if d.Clock == nil {
		d.Clock = clock.System{}
	}
	if d.Logger == nil {
		d.Logger = log.NewNopLogger()
	}
	return &service{Deps: d, cfg: cfg.WithDefaults()}
}

// now is truncated to what both databases keep, so answers match reads.
func (s *service) now() time.Time { return s.Clock.Now().UTC().Truncate(time.Microsecond) }
