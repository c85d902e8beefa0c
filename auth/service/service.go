// Package service holds the auth use cases behind the Service interface:
// registration, login with throttling, refresh-token rotation with reuse
// detection, logout, password change and reset, and user administration.
// The ports it needs are declared in ports.go.
package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/google/uuid"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/problem"
)

// Service is what the auth service does.
type Service interface {
	Register(ctx context.Context, in RegisterInput) (account.User, error)
	Login(ctx context.Context, in LoginInput) (TokenPair, error)
	Refresh(ctx context.Context, refreshToken string) (TokenPair, error)
	Logout(ctx context.Context, refreshToken string) error
	Me(ctx context.Context, userID string) (account.User, error)
	ChangePassword(ctx context.Context, in ChangePasswordInput) (TokenPair, error)
	ForgotPassword(ctx context.Context, email string) error
	ResetPassword(ctx context.Context, token, newPassword string) error
	CreateUser(ctx context.Context, actorID string, in CreateUserInput) (account.User, error)
	ListUsers(ctx context.Context, actorID string, in ListUsersInput) (UserPage, error)
	GetUser(ctx context.Context, actorID, id string) (account.User, error)
	UpdateUser(ctx context.Context, actorID string, in UpdateUserInput) (account.User, error)
}

// RegisterInput is a self-registration.
type RegisterInput struct {
	Email, Password, FullName string
}

// LoginInput is a login attempt; ClientIP feeds the throttle.
type LoginInput struct {
	Email, Password, ClientIP string
}

// ChangePasswordInput changes the caller's password.
type ChangePasswordInput struct {
	UserID, CurrentPassword, NewPassword, ClientIP string
}

// CreateUserInput is an account an administrator creates.
type CreateUserInput struct {
	Email, Password, FullName string
	Roles                     []string
}

// ListUsersInput selects a page of users.
type ListUsersInput struct {
	Role   string
	Cursor string
	Limit  int
}

// UserPage is a page of users; NextCursor is "" on the last page.
type UserPage struct {
	Items      []account.User
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

// ErrPreconditionFailed means If-Match named a version that is not current.
var ErrPreconditionFailed = errors.New("the user has changed since the version given in If-Match")

// Limits of list pages.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Config holds the lifetimes and limits of the service.
type Config struct {
	AccessTTL  time.Duration // default 15 min
	RefreshTTL time.Duration // default 7 days
	ResetTTL   time.Duration // default 30 min
	// ResetsPerWindow caps reset tokens issued per user within ResetTTL;
	// further requests are answered the same but send nothing.
	ResetsPerWindow int // default 3
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
	if c.ResetsPerWindow <= 0 {
		c.ResetsPerWindow = 3
	}
}

// Deps are the adapters the service works with.
type Deps struct {
	Store    Store
	Hasher   Hasher
	Policy   PasswordPolicy
	Throttle Throttle
	Tokens   AccessTokens
	Notifier Notifier
	Clock    Clock
	// Background takes the work of a forgotten-password request off the
	// request; nil does it before answering.
	Background Background
	// Logger records security events (refresh-token reuse, failed
	// notifications); never secrets.
	Logger log.Logger
}

type service struct {
	Deps
	cfg Config
}

// New returns the service.
func New(d Deps, cfg Config) Service {
	cfg.defaults()
	if d.Clock == nil {
		d.Clock = SystemClock{}
	}
	if d.Logger == nil {
		d.Logger = log.NewNopLogger()
	}
	return &service{Deps: d, cfg: cfg}
}

// now is truncated to what both databases keep, so answers match reads.
func (s *service) now() time.Time { return s.Clock.Now().UTC().Truncate(time.Microsecond) }

// opaque tokens are 256 random bits in base64url (43 characters).
const opaqueLen = 43

func newOpaque() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// wellFormed tells a token that could be ours from garbage, before any
// database lookup.
func wellFormed(tok string) bool {
	if len(tok) != opaqueLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(tok)
	return err == nil
}

// HashToken is how opaque tokens are stored: the hex SHA-256. Their 256
// random bits make a slow hash unnecessary.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

func (s *service) Register(ctx context.Context, in RegisterInput) (account.User, error) {
	email, name, ferr := account.Validate(in.Email, in.FullName)
	fe, _ := ferr.(problem.FieldErrors)
	if err := s.Policy.Check(in.Password, email); err != nil {
		fe.Add("password", err.Error())
	}
	if len(fe) > 0 {
		return account.User{}, fe
	}
	return s.create(ctx, email, name, in.Password, []string{account.RolePatient})
}

func (s *service) create(ctx context.Context, email, name, pw string, roles []string) (account.User, error) {
	// Checked before hashing so a duplicate costs no hashing work; the
	// unique index still decides under races.
	if _, err := s.Store.Users().ByEmail(ctx, email); err == nil {
		return account.User{}, account.ErrEmailTaken
	} else if !errors.Is(err, account.ErrNotFound) {
		return account.User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return account.User{}, err
	}
	id, err := newID()
	if err != nil {
		return account.User{}, err
	}
	now := s.now()
	u := account.User{
		ID: id, Email: email, FullName: name, PasswordHash: hash, Roles: roles,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store.Users().Create(ctx, u); err != nil {
		return account.User{}, err
	}
	return u, nil
}

func (s *service) Login(ctx context.Context, in LoginInput) (TokenPair, error) {
	var fe problem.FieldErrors
	email, err := account.NormalizeEmail(in.Email)
	if err != nil {
		fe.Add("email", err.Error())
	}
	switch {
	case in.Password == "":
		fe.Add("password", "is required")
	case len([]rune(in.Password)) > password.MaxLength:
		fe.Add("password", "must be at most 128 characters")
	}
	if len(fe) > 0 {
		return TokenPair{}, fe
	}
	if wait, ok := s.Throttle.Allow(email, in.ClientIP); !ok {
		return TokenPair{}, &ThrottledError{RetryAfter: wait}
	}
	defer s.Throttle.Done(email, in.ClientIP)
	u, err := s.Store.Users().ByEmail(ctx, email)
	if errors.Is(err, account.ErrNotFound) {
		// Same work as a wrong password, so timing does not tell whether
		// the address has an account.
		if err := s.Hasher.VerifyDummy(ctx, in.Password); err != nil {
			return TokenPair{}, err
		}
		s.Throttle.Failed(email, in.ClientIP)
		return TokenPair{}, account.ErrInvalidCredentials
	}
	if err != nil {
		return TokenPair{}, err
	}
	ok, rehash, err := s.Hasher.Verify(ctx, in.Password, u.PasswordHash)
	if err != nil {
		return TokenPair{}, err
	}
	if !ok {
		s.Throttle.Failed(email, in.ClientIP)
		return TokenPair{}, account.ErrInvalidCredentials
	}
	s.Throttle.Succeeded(email)
	if u.Disabled {
		return TokenPair{}, account.ErrDisabled
	}
	if rehash {
		s.rehash(ctx, u, in.Password)
	}
	return s.startSession(ctx, s.Store, u)
}

// rehash upgrades a hash made with older parameters; failing is harmless.
func (s *service) rehash(ctx context.Context, u account.User, pw string) {
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return
	}
	u.PasswordHash = hash
	u.Version++
	u.UpdatedAt = s.now()
	if err := s.Store.Users().Update(ctx, u); err != nil && !errors.Is(err, account.ErrVersionConflict) {
		_ = level.Warn(logging.FromContext(ctx, s.Logger)).Log("msg", "password rehash failed", "userId", u.ID, "err", err)
	}
}

// startSession makes a new refresh-token family for u and its first pair.
func (s *service) startSession(ctx context.Context, st Store, u account.User) (TokenPair, error) {
	family, err := newID()
	if err != nil {
		return TokenPair{}, err
	}
	return s.issuePair(ctx, st, u, family)
}

func (s *service) issuePair(ctx context.Context, st Store, u account.User, family string) (TokenPair, error) {
	now := s.now()
	raw, err := newOpaque()
	if err != nil {
		return TokenPair{}, err
	}
	id, err := newID()
	if err != nil {
		return TokenPair{}, err
	}
	rt := account.RefreshToken{
		ID: id, Hash: HashToken(raw), FamilyID: family, UserID: u.ID,
		IssuedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL),
	}
	if err := st.RefreshTokens().Create(ctx, rt); err != nil {
		return TokenPair{}, err
	}
	access, _, err := s.Tokens.Issue(signing.Access{
		UserID: u.ID, Email: u.Email, Roles: u.Roles, IssuedAt: now, TTL: s.cfg.AccessTTL,
	})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{
		AccessToken: access, ExpiresIn: s.cfg.AccessTTL,
		RefreshToken: raw, RefreshExpiresIn: s.cfg.RefreshTTL,
	}, nil
}

func (s *service) Refresh(ctx context.Context, raw string) (TokenPair, error) {
	if !wellFormed(raw) {
		return TokenPair{}, account.ErrInvalidRefresh
	}
	now := s.now()
	old, err := s.Store.RefreshTokens().ByHash(ctx, HashToken(raw))
	if err != nil {
		return TokenPair{}, err
	}
	switch {
	case old.RevokedAt != nil:
		return TokenPair{}, account.ErrInvalidRefresh
	case old.UsedAt != nil:
		return TokenPair{}, s.reuse(ctx, old)
	case !now.Before(old.ExpiresAt):
		return TokenPair{}, account.ErrInvalidRefresh
	}
	u, err := s.Store.Users().ByID(ctx, old.UserID)
	if errors.Is(err, account.ErrNotFound) {
		return TokenPair{}, account.ErrInvalidRefresh
	}
	if err != nil {
		return TokenPair{}, err
	}
	if u.Disabled {
		if _, err := s.Store.RefreshTokens().RevokeFamily(ctx, old.FamilyID, now); err != nil {
			return TokenPair{}, err
		}
		return TokenPair{}, account.ErrDisabled
	}
	var pair TokenPair
	err = s.Store.InTx(ctx, func(tx Store) error {
		marked, err := tx.RefreshTokens().MarkUsed(ctx, old.ID, now)
		if err != nil {
			return err
		}
		if !marked {
			return account.ErrRefreshReused
		}
		pair, err = s.issuePair(ctx, tx, u, old.FamilyID)
		return err
	})
	if errors.Is(err, account.ErrRefreshReused) {
		// Another request used the token between the read and the update.
		return TokenPair{}, s.reuse(ctx, old)
	}
	if err != nil {
		return TokenPair{}, err
	}
	return pair, nil
}

// reuse revokes the family of a replayed refresh token: either the client
// or a thief used it before, and the two cannot be told apart.
func (s *service) reuse(ctx context.Context, t account.RefreshToken) error {
	n, err := s.Store.RefreshTokens().RevokeFamily(ctx, t.FamilyID, s.now())
	if err != nil {
		return err
	}
	_ = level.Warn(logging.FromContext(ctx, s.Logger)).Log(
		"msg", "refresh token reused; session revoked", "userId", t.UserID, "familyId", t.FamilyID, "revoked", n)
	return account.ErrRefreshReused
}

func (s *service) Logout(ctx context.Context, raw string) error {
	if !wellFormed(raw) {
		return nil
	}
	t, err := s.Store.RefreshTokens().ByHash(ctx, HashToken(raw))
	if errors.Is(err, account.ErrInvalidRefresh) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.Store.RefreshTokens().RevokeFamily(ctx, t.FamilyID, s.now())
	return err
}

// activeUser loads the account an access token names.
func (s *service) activeUser(ctx context.Context, id string) (account.User, error) {
	u, err := s.Store.Users().ByID(ctx, id)
	if errors.Is(err, account.ErrNotFound) {
		return account.User{}, account.ErrUnauthenticated
	}
	if err != nil {
		return account.User{}, err
	}
	if u.Disabled {
		return account.User{}, account.ErrDisabled
	}
	return u, nil
}

func (s *service) Me(ctx context.Context, userID string) (account.User, error) {
	return s.activeUser(ctx, userID)
}

func (s *service) ChangePassword(ctx context.Context, in ChangePasswordInput) (TokenPair, error) {
	var fe problem.FieldErrors
	if in.CurrentPassword == "" {
		fe.Add("currentPassword", "is required")
	} else if len([]rune(in.CurrentPassword)) > password.MaxLength {
		fe.Add("currentPassword", "is incorrect")
	}
	u, err := s.activeUser(ctx, in.UserID)
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.Policy.Check(in.NewPassword, u.Email); err != nil {
		fe.Add("newPassword", err.Error())
	}
	if len(fe) > 0 {
		return TokenPair{}, fe
	}
	if wait, ok := s.Throttle.Allow(u.Email, in.ClientIP); !ok {
		return TokenPair{}, &ThrottledError{RetryAfter: wait}
	}
	defer s.Throttle.Done(u.Email, in.ClientIP)
	ok, _, err := s.Hasher.Verify(ctx, in.CurrentPassword, u.PasswordHash)
	if err != nil {
		return TokenPair{}, err
	}
	if !ok {
		// A stolen access token must not become a way to guess passwords.
		s.Throttle.Failed(u.Email, in.ClientIP)
		return TokenPair{}, problem.FieldErrors{{Field: "currentPassword", Message: "is incorrect"}}
	}
	s.Throttle.Succeeded(u.Email)
	if in.NewPassword == in.CurrentPassword {
		return TokenPair{}, problem.FieldErrors{{Field: "newPassword", Message: "must differ from the current password"}}
	}
	hash, err := s.Hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return TokenPair{}, err
	}
	var pair TokenPair
	err = s.Store.InTx(ctx, func(tx Store) error {
		now := s.now()
		u.PasswordHash, u.UpdatedAt = hash, now
		u.Version++
		if err := tx.Users().Update(ctx, u); err != nil {
			return err
		}
		if _, err := tx.RefreshTokens().RevokeUser(ctx, u.ID, now); err != nil {
			return err
		}
		// A reset link sent before must not undo the change.
		if err := tx.ResetTokens().InvalidateUser(ctx, u.ID, now); err != nil {
			return err
		}
		pair, err = s.startSession(ctx, tx, u)
		return err
	})
	if err != nil {
		return TokenPair{}, err
	}
	return pair, nil
}

func (s *service) ForgotPassword(ctx context.Context, rawEmail string) error {
	email, err := account.NormalizeEmail(rawEmail)
	if err != nil {
		return problem.FieldErrors{{Field: "email", Message: err.Error()}}
	}
	// Only an existing account costs a token write and a delivery (a mail
	// server's round trip); done after the answer, that cost cannot tell
	// whether the address has an account. Failures are logged, never
	// answered, for the same reason.
	work := func(ctx context.Context) {
		if err := s.sendReset(ctx, email); err != nil {
			_ = level.Error(logging.FromContext(ctx, s.Logger)).Log("msg", "password reset request failed", "err", err)
		}
	}
	if s.Background == nil {
		work(ctx)
		return nil
	}
	if !s.Background.Go(context.WithoutCancel(ctx), work) {
		_ = level.Warn(logging.FromContext(ctx, s.Logger)).Log("msg", "password reset request dropped: too many in progress")
	}
	return nil
}

// sendReset issues a reset token to the account with email, if there is
// an active one within its quota, and hands it to the notifier.
func (s *service) sendReset(ctx context.Context, email string) error {
	u, err := s.Store.Users().ByEmail(ctx, email)
	if errors.Is(err, account.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.Disabled {
		return nil
	}
	now := s.now()
	raw, err := newOpaque()
	if err != nil {
		return err
	}
	t := account.ResetToken{Hash: HashToken(raw), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ResetTTL)}
	stored, err := s.Store.ResetTokens().CreateWithin(ctx, t, now.Add(-s.cfg.ResetTTL), s.cfg.ResetsPerWindow)
	if err != nil || !stored {
		return err
	}
	err = s.Notifier.PasswordReset(ctx, PasswordReset{
		UserID: u.ID, Email: u.Email, FullName: u.FullName, Token: raw, ExpiresAt: t.ExpiresAt,
	})
	if err != nil {
		// The answer stays the same, or it would tell that the address exists.
		_ = level.Error(logging.FromContext(ctx, s.Logger)).Log(
			"msg", "password reset notification failed", "userId", u.ID, "err", err)
	}
	return nil
}

func (s *service) ResetPassword(ctx context.Context, raw, newPassword string) error {
	if !wellFormed(raw) {
		return account.ErrInvalidReset
	}
	hashTok := HashToken(raw)
	now := s.now()
	t, err := s.Store.ResetTokens().ByHash(ctx, hashTok)
	if err != nil {
		return err
	}
	if t.UsedAt != nil || !now.Before(t.ExpiresAt) {
		return account.ErrInvalidReset
	}
	u, err := s.Store.Users().ByID(ctx, t.UserID)
	if errors.Is(err, account.ErrNotFound) {
		return account.ErrInvalidReset
	}
	if err != nil {
		return err
	}
	if u.Disabled {
		return account.ErrDisabled
	}
	if err := s.Policy.Check(newPassword, u.Email); err != nil {
		return problem.FieldErrors{{Field: "newPassword", Message: err.Error()}}
	}
	hash, err := s.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	err = s.Store.InTx(ctx, func(tx Store) error {
		now := s.now()
		ok, err := tx.ResetTokens().Consume(ctx, hashTok, now)
		if err != nil {
			return err
		}
		if !ok {
			return account.ErrInvalidReset
		}
		// Read again inside the transaction: the version may have moved.
		cur, err := tx.Users().ByID(ctx, u.ID)
		if err != nil {
			return err
		}
		cur.PasswordHash, cur.UpdatedAt = hash, now
		cur.Version++
		if err := tx.Users().Update(ctx, cur); err != nil {
			return err
		}
		if err := tx.ResetTokens().InvalidateUser(ctx, u.ID, now); err != nil {
			return err
		}
		_, err = tx.RefreshTokens().RevokeUser(ctx, u.ID, now)
		return err
	})
	if err != nil {
		return err
	}
	// Proving control of the mailbox lifts any login block on the account.
	s.Throttle.Succeeded(u.Email)
	return nil
}

// requireAdmin checks the caller against the database, not only the token:
// a disabled or demoted administrator loses access at once.
func (s *service) requireAdmin(ctx context.Context, actorID string) (account.User, error) {
	u, err := s.activeUser(ctx, actorID)
	if err != nil {
		return account.User{}, err
	}
	if !u.Has(account.RoleAdmin) {
		return account.User{}, account.ErrForbidden
	}
	return u, nil
}

func (s *service) CreateUser(ctx context.Context, actorID string, in CreateUserInput) (account.User, error) {
	if _, err := s.requireAdmin(ctx, actorID); err != nil {
		return account.User{}, err
	}
	email, name, ferr := account.Validate(in.Email, in.FullName)
	fe, _ := ferr.(problem.FieldErrors)
	if err := s.Policy.Check(in.Password, email); err != nil {
		fe.Add("password", err.Error())
	}
	roles, err := account.NormalizeRoles(in.Roles, account.RoleAdmin, account.RoleDoctor)
	if err != nil {
		fe.Add("roles", err.Error())
	}
	if len(fe) > 0 {
		return account.User{}, fe
	}
	return s.create(ctx, email, name, in.Password, roles)
}

func (s *service) ListUsers(ctx context.Context, actorID string, in ListUsersInput) (UserPage, error) {
	if _, err := s.requireAdmin(ctx, actorID); err != nil {
		return UserPage{}, err
	}
	var fe problem.FieldErrors
	limit := in.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 1 || limit > MaxLimit:
		fe.Add("limit", "must be between 1 and 100")
	}
	if in.Role != "" && !account.IsRole(in.Role) {
		fe.Add("role", "must be ADMIN, DOCTOR or PATIENT")
	}
	after, err := DecodeCursor(in.Cursor)
	if err != nil {
		fe.Add("cursor", "is not a cursor this service issued")
	}
	if len(fe) > 0 {
		return UserPage{}, fe
	}
	users, err := s.Store.Users().List(ctx, UserQuery{Role: in.Role, After: after, Limit: limit + 1})
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Items: users}
	if len(users) > limit {
		page.Items = users[:limit]
		page.NextCursor = EncodeCursor(users[limit-1].ID)
	}
	return page, nil
}

// EncodeCursor makes the opaque cursor that follows the user with id.
func EncodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

// DecodeCursor returns the id in a cursor; "" for the first page.
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", errors.New("invalid cursor")
	}
	if _, err := uuid.Parse(string(b)); err != nil || len(b) != 36 {
		return "", errors.New("invalid cursor")
	}
	return string(b), nil
}

func (s *service) GetUser(ctx context.Context, actorID, id string) (account.User, error) {
	if _, err := s.requireAdmin(ctx, actorID); err != nil {
		return account.User{}, err
	}
	return s.Store.Users().ByID(ctx, id)
}

func (s *service) UpdateUser(ctx context.Context, actorID string, in UpdateUserInput) (account.User, error) {
	actor, err := s.requireAdmin(ctx, actorID)
	if err != nil {
		return account.User{}, err
	}
	var fe problem.FieldErrors
	var roles []string
	if in.Roles == nil && in.Disabled == nil {
		fe.Add("body", "must change roles or disabled")
	}
	if in.Roles != nil {
		if roles, err = account.NormalizeRoles(*in.Roles); err != nil {
			fe.Add("roles", err.Error())
		}
	}
	if len(fe) > 0 {
		return account.User{}, fe
	}
	if in.ID == actor.ID && ((in.Disabled != nil && *in.Disabled) || (roles != nil && !contains(roles, account.RoleAdmin))) {
		return account.User{}, account.ErrSelfLockout
	}
	var out account.User
	err = s.Store.InTx(ctx, func(tx Store) error {
		u, err := tx.Users().ByID(ctx, in.ID)
		if err != nil {
			return err
		}
		if in.IfMatch != nil && *in.IfMatch != u.Version {
			return ErrPreconditionFailed
		}
		now := s.now()
		disabling := in.Disabled != nil && *in.Disabled && !u.Disabled
		if roles != nil {
			u.Roles = roles
		}
		if in.Disabled != nil {
			u.Disabled = *in.Disabled
		}
		u.Version++
		u.UpdatedAt = now
		if err := tx.Users().Update(ctx, u); err != nil {
			return err
		}
		if disabling {
			if _, err := tx.RefreshTokens().RevokeUser(ctx, u.ID, now); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	return out, err
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ErrBootstrapNotAdmin means the first administrator's email belongs to an
// account that is not an active administrator (someone may have registered
// it first); nothing was created or changed.
var ErrBootstrapNotAdmin = errors.New("the account with the administrator's email is not an active ADMIN; it was left unchanged and no administrator was created")

// Bootstrap creates the first administrator from the given credentials
// when no account has that email yet; it never changes an existing account.
// It reports whether it created one, and ErrBootstrapNotAdmin when the
// existing account is not an active administrator.
func Bootstrap(ctx context.Context, d Deps, email, pw string) (bool, error) {
	s := New(d, Config{}).(*service)
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return false, fmt.Errorf("admin email %s", err)
	}
	if err := s.Policy.Check(pw, norm); err != nil {
		return false, fmt.Errorf("admin password %s", err)
	}
	_, err = s.create(ctx, norm, "Administrator", pw, []string{account.RoleAdmin})
	if errors.Is(err, account.ErrEmailTaken) {
		u, err := s.Store.Users().ByEmail(ctx, norm)
		if err != nil {
			return false, err
		}
		if !u.Has(account.RoleAdmin) || u.Disabled {
			return false, ErrBootstrapNotAdmin
		}
		return false, nil
	}
	return err == nil, err
}

// Purge deletes expired refresh and reset tokens.
func Purge(ctx context.Context, st Store, now time.Time) (int64, error) {
	a, err := st.RefreshTokens().DeleteExpired(ctx, now)
	if err != nil {
		return 0, err
	}
	b, err := st.ResetTokens().DeleteExpired(ctx, now)
	if err != nil {
		return a, err
	}
	return a + b, nil
}
