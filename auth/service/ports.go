package service

import (
	"context"
	"time"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/events"
)

// Users stores accounts. Missing users are account.ErrNotFound; a taken
// email is account.ErrEmailTaken.
type Users interface {
	Create(ctx context.Context, u account.User) error
	ByID(ctx context.Context, id string) (account.User, error)
	// Lock holds the user's row to the end of the transaction, so that a
	// change of the account and a token issued for it take turns.
	Lock(ctx context.Context, id string) error
	// ByEmail looks up a normalized (lower-case) address.
	ByEmail(ctx context.Context, email string) (account.User, error)
	// List returns users in id order after q.After, at most q.Limit.
	List(ctx context.Context, q UserQuery) ([]account.User, error)
	// Update writes u's profile, password hash, roles and disabled flag,
	// provided the stored version is u.Version-1; otherwise it reports
	// account.ErrVersionConflict (or account.ErrNotFound).
	Update(ctx context.Context, u account.User) error
}

// UserQuery selects a page of users.
type UserQuery struct {
	Role  string // "" for every role
	After string // id of the last user of the previous page, "" for the first
	Limit int
}

// RefreshTokens stores refresh-token sessions. A missing token is
// account.ErrInvalidRefresh.
type RefreshTokens interface {
	Create(ctx context.Context, t account.RefreshToken) error
	ByHash(ctx context.Context, hash string) (account.RefreshToken, error)
	// MarkUsed sets the token used unless it already is, or is revoked; it
	// reports whether it did, which makes rotation safe under races.
	MarkUsed(ctx context.Context, id string, now time.Time) (bool, error)
	RevokeFamily(ctx context.Context, familyID string, now time.Time) (int64, error)
	RevokeUser(ctx context.Context, userID string, now time.Time) (int64, error)
	// LiveFamilies returns the families (sign-in sessions) of the user with
	// an unrevoked token issued after since: those whose access tokens may
	// still be in use.
	LiveFamilies(ctx context.Context, userID string, since time.Time) ([]string, error)
	DeleteExpired(ctx context.Context, before time.Time) (int64, error)
}

// ResetTokens stores password reset tokens. A missing token is
// account.ErrInvalidReset.
type ResetTokens interface {
	Create(ctx context.Context, t account.ResetToken) error
	// CreateWithin stores t unless its user already has max tokens created
	// after since, and reports whether it stored it; concurrent calls for
	// one user are serialized, so the quota holds under races.
	CreateWithin(ctx context.Context, t account.ResetToken, since time.Time, max int) (bool, error)
	ByHash(ctx context.Context, hash string) (account.ResetToken, error)
	// Consume marks the token used if it is unused and unexpired at now, and
	// reports whether it did.
	Consume(ctx context.Context, hash string, now time.Time) (bool, error)
	// InvalidateUser marks every unused token of the user used.
	InvalidateUser(ctx context.Context, userID string, now time.Time) error
	CountSince(ctx context.Context, userID string, since time.Time) (int, error)
	DeleteExpired(ctx context.Context, before time.Time) (int64, error)
}

// Revocations stores the revocation feed: withdrawn access tokens, each
// entry with an increasing index. Entries written in one transaction with
// the change that causes them stand or fall with it.
type Revocations interface {
	// Add stores rs in order, each with the next index.
	Add(ctx context.Context, rs ...authn.Revocation) error
	// After reads at most limit entries with an index above after, in
	// index order, and returns those not expired at now with the index of
	// the last entry read. When none was, the index is after, or the
	// newest entry's (0 for none) when that is below after: the feed went
	// back, and its followers must read it again from the start.
	After(ctx context.Context, after uint64, now time.Time, limit int) ([]authn.Revocation, uint64, error)
	// DeleteExpired deletes the entries expired before before.
	DeleteExpired(ctx context.Context, before time.Time) (int64, error)
}

// RevocationListener hears of revocations once they are committed.
type RevocationListener interface {
	Revoked(rs []authn.Revocation)
}

// Store hands out the repositories and runs several changes as one
// transaction: the Store given to fn works inside it.
type Store interface {
	Users() Users
	RefreshTokens() RefreshTokens
	ResetTokens() ResetTokens
	Revocations() Revocations
	// Outbox records events in the transaction of the change they tell of.
	Outbox() Outbox
	InTx(ctx context.Context, fn func(tx Store) error) error
}

// Outbox records events for the relay to publish (shared/outbox).
type Outbox interface {
	Write(ctx context.Context, evs ...events.Event) error
}

// Hasher hashes and checks passwords (password.Hasher).
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, pw, encoded string) (ok, rehash bool, err error)
	VerifyDummy(ctx context.Context, pw string) error
}

// PasswordPolicy judges new passwords (password.Policy).
type PasswordPolicy interface {
	Check(pw, email string) error
}

// Throttle slows down password guessing (throttle.Login). An attempt that
// Allow admits records its outcome (Failed or Succeeded), then ends with Done.
// Lift lifts every block on an account after its password was reset or
// changed, and forgets the addresses it knew.
type Throttle interface {
	Allow(account, client string) (time.Duration, bool)
	Done(account, client string)
	Failed(account, client string)
	Succeeded(account, client string)
	Lift(account string)
}

// AccessTokens signs access tokens (signing.Ring).
type AccessTokens interface {
	Issue(a signing.Access) (string, time.Time, error)
}

// PasswordReset is what a Notifier sends to let a user reset a password.
type PasswordReset struct {
	UserID    string
	Email     string
	FullName  string
	Token     string
	ExpiresAt time.Time
}

// AccountExists tells an account's owner that someone tried to register
// their address again, in place of the answer that would tell the caller.
type AccountExists struct {
	UserID   string
	Email    string
	FullName string
}

// Notifier tells account owners what they must hear privately: reset
// tokens, and attempts to register their address.
type Notifier interface {
	PasswordReset(ctx context.Context, r PasswordReset) error
	AccountExists(ctx context.Context, a AccountExists) error
}

// Background runs work after the answer has gone out. Go reports false when
// it turns the work away (too much is queued); the work is then dropped.
type Background interface {
	Go(ctx context.Context, fn func(ctx context.Context)) bool
}
