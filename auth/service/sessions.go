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

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/logging"
)

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

func (s *service) Login(ctx context.Context, in LoginInput) (TokenPair, error) {
	var fe domainerr.FieldErrors
	email, err := account.NormalizeEmail(in.Email)
	if err != nil {
		fe.Add("email", err.Error())
	}
	switch {
	case in.Password == "":
		fe.Add("password", "is required")
	case password.TooLong(in.Password):
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
			return TokenPair{}, fmt.Errorf("verify password: %w", err)
		}
		s.Throttle.Failed(email, in.ClientIP)
		return TokenPair{}, account.ErrInvalidCredentials
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("load user: %w", err)
	}
	ok, rehash, err := s.Hasher.Verify(ctx, in.Password, u.PasswordHash)
	if err != nil {
		return TokenPair{}, fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		s.Throttle.Failed(email, in.ClientIP)
		return TokenPair{}, account.ErrInvalidCredentials
	}
	s.Throttle.Succeeded(email, in.ClientIP)
	if u.Disabled {
		return TokenPair{}, account.ErrDisabled
	}
	var pair TokenPair
	for checked := false; ; checked = true {
		var stored account.User
		err = s.Store.InTx(ctx, func(tx Store) error {
			cur, err := s.issuable(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			if cur.PasswordHash != u.PasswordHash {
				// Changed while the old one was being checked: a password
				// change revoked the sessions it saw, not this one.
				stored = cur
				return errHashChanged
			}
			pair, err = s.startSession(ctx, tx, cur)
			return err
		})
		if !errors.Is(err, errHashChanged) || checked {
			break
		}
		// Another login's upgrade of the hash keeps the password; a change
		// does not. The stored hash decides, checked once more outside the
		// transaction.
		ok, again, verr := s.Hasher.Verify(ctx, in.Password, stored.PasswordHash)
		if verr != nil {
			return TokenPair{}, fmt.Errorf("verify password: %w", verr)
		}
		if !ok {
			return TokenPair{}, account.ErrInvalidCredentials
		}
		u, rehash = stored, again
	}
	if errors.Is(err, account.ErrNotFound) || errors.Is(err, errHashChanged) {
		return TokenPair{}, account.ErrInvalidCredentials
	}
	if err != nil {
		return TokenPair{}, err
	}
	// Only now: the check above compares the stored hash with the one just
	// verified, which a rehash replaces.
	if rehash {
		s.rehash(ctx, u, in.Password)
	}
	return pair, nil
}

// lockedUser reads the user id after locking their row to the end of tx:
// a token's issue and a change of the account take turns, the user's row
// always first.
func lockedUser(ctx context.Context, tx Store, id string) (account.User, error) {
	if err := tx.Users().Lock(ctx, id); err != nil {
		return account.User{}, err
	}
	return tx.Users().ByID(ctx, id)
}

// errHashChanged ends a login's transaction that found another password
// hash than the one it checked.
var errHashChanged = errors.New("the password hash changed during the login")

// issuable re-reads, in the transaction that issues a token, the user it is
// for: a token carries the roles stored when it is issued, and none is
// issued to an account disabled since it was first read. A demotion or a
// disabled account committed between that read and this one would
// otherwise yield a token with the old roles, in a second after the one
// the change's revocation withdraws.
func (s *service) issuable(ctx context.Context, tx Store, id string) (account.User, error) {
	// Locked, so that a change committing meanwhile waits for this token
	// and then withdraws it, instead of missing it.
	u, err := lockedUser(ctx, tx, id)
	if err != nil {
		if errors.Is(err, account.ErrNotFound) {
			return account.User{}, err
		}
		return account.User{}, fmt.Errorf("load user: %w", err)
	}
	if u.Disabled {
		return account.User{}, account.ErrDisabled
	}
	return u, nil
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
	now := s.now()
	return s.issuePair(ctx, st, u, ids.New(), now, now)
}

// issuePair issues at now the next pair of the session family, begun at
// started, whose end the caller checked has not come. The refresh token
// lives RefreshTTL, and not past the session's end.
func (s *service) issuePair(ctx context.Context, st Store, u account.User, family string, started, now time.Time) (TokenPair, error) {
	raw, err := newOpaque()
	if err != nil {
		return TokenPair{}, err
	}
	expires := now.Add(s.cfg.RefreshTTL)
	if end := started.Add(s.cfg.SessionMaxAge); end.Before(expires) {
		expires = end
	}
	rt := account.RefreshToken{
		ID: ids.New(), Hash: HashToken(raw), FamilyID: family, UserID: u.ID,
		IssuedAt: now, ExpiresAt: expires, SessionStartedAt: started,
	}
	if err := st.RefreshTokens().Create(ctx, rt); err != nil {
		return TokenPair{}, fmt.Errorf("store refresh token: %w", err)
	}
	access, _, err := s.Tokens.Issue(signing.Access{
		UserID: u.ID, Email: u.Email, Roles: u.Roles, SessionID: family, IssuedAt: now, TTL: s.cfg.AccessTTL,
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("sign access token: %w", err)
	}
	return TokenPair{
		AccessToken: access, ExpiresIn: s.cfg.AccessTTL,
		RefreshToken: raw, RefreshExpiresIn: expires.Sub(now),
	}, nil
}

func (s *service) Refresh(ctx context.Context, raw string) (TokenPair, error) {
	if !wellFormed(raw) {
		return TokenPair{}, account.ErrInvalidRefresh
	}
	now := s.now()
	old, err := s.Store.RefreshTokens().ByHash(ctx, HashToken(raw))
	if err != nil {
		return TokenPair{}, fmt.Errorf("load refresh token: %w", err)
	}
	switch {
	case old.RevokedAt != nil:
		return TokenPair{}, account.ErrInvalidRefresh
	case old.UsedAt != nil:
		return TokenPair{}, s.reuse(ctx, old)
	case !now.Before(old.ExpiresAt):
		return TokenPair{}, account.ErrInvalidRefresh
	case !now.Before(old.SessionStart().Add(s.cfg.SessionMaxAge)):
		// The session is over, whatever the token's own expiry (one issued
		// before -session-max-age was lowered): the password is asked again.
		return TokenPair{}, account.ErrInvalidRefresh
	}
	u, err := s.Store.Users().ByID(ctx, old.UserID)
	if errors.Is(err, account.ErrNotFound) {
		return TokenPair{}, account.ErrInvalidRefresh
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("load user: %w", err)
	}
	if u.Disabled {
		if _, err := s.Store.RefreshTokens().RevokeFamily(ctx, old.FamilyID, now); err != nil {
			return TokenPair{}, fmt.Errorf("revoke session: %w", err)
		}
		return TokenPair{}, account.ErrDisabled
	}
	var pair TokenPair
	err = s.Store.InTx(ctx, func(tx Store) error {
		// The user's row first, as every change of the account takes it
		// before the account's refresh tokens: the other order deadlocks
		// with a password change or a disabling.
		cur, err := s.issuable(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		// The session may have ended while this waited for the lock: its
		// successor would then expire before it is issued. Checked with the
		// time the pair is issued at.
		now := s.now()
		if !now.Before(old.SessionStart().Add(s.cfg.SessionMaxAge)) {
			return account.ErrInvalidRefresh
		}
		marked, err := tx.RefreshTokens().MarkUsed(ctx, old.ID, now)
		if err != nil {
			return fmt.Errorf("mark refresh token used: %w", err)
		}
		if !marked {
			return account.ErrRefreshReused
		}
		pair, err = s.issuePair(ctx, tx, cur, old.FamilyID, old.SessionStart(), now)
		return err
	})
	if errors.Is(err, account.ErrRefreshReused) {
		// Another request used the token between the read and the update.
		return TokenPair{}, s.reuse(ctx, old)
	}
	if errors.Is(err, account.ErrNotFound) {
		return TokenPair{}, account.ErrInvalidRefresh
	}
	if err != nil {
		return TokenPair{}, err
	}
	return pair, nil
}

// reuse revokes the family of a replayed refresh token: either the client
// or a thief used it before, and the two cannot be told apart.
func (s *service) reuse(ctx context.Context, t account.RefreshToken) error {
	n, err := s.endSession(ctx, t.UserID, t.FamilyID)
	if err != nil {
		return fmt.Errorf("revoke reused session: %w", err)
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
		return fmt.Errorf("load refresh token: %w", err)
	}
	if _, err := s.endSession(ctx, t.UserID, t.FamilyID); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// endSession revokes a refresh-token family of the user and, in the same
// transaction, the access tokens of that session; it reports how many
// refresh tokens it revoked. A session already ended writes nothing, so
// replayed logouts cannot grow the feed.
func (s *service) endSession(ctx context.Context, userID, family string) (int64, error) {
	var n int64
	var written []authn.Revocation
	err := s.Store.InTx(ctx, func(tx Store) error {
		// The user's row first, as a refresh takes it: a refresh under way
		// commits its successor before this goes on, and the UPDATE below
		// then sees it. Without the lock, PostgreSQL's UPDATE waits on the
		// old token's row alone and, at READ COMMITTED, misses the successor
		// inserted meanwhile.
		if err := tx.Users().Lock(ctx, userID); err != nil && !errors.Is(err, account.ErrNotFound) {
			return err
		}
		// Read after the lock, so that the access token of the refresh
		// waited for expires before the revocation does.
		now := s.now()
		var err error
		if n, err = tx.RefreshTokens().RevokeFamily(ctx, family, now); err != nil || n == 0 {
			return err
		}
		written = []authn.Revocation{s.sessionRevocation(family, now)}
		return tx.Revocations().Add(ctx, written...)
	})
	if err != nil {
		return 0, err
	}
	s.published(written)
	return n, nil
}

// Purge deletes expired refresh and reset tokens and revocations.
func Purge(ctx context.Context, st Store, now time.Time) (int64, error) {
	a, err := st.RefreshTokens().DeleteExpired(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("delete expired refresh tokens: %w", err)
	}
	b, err := st.ResetTokens().DeleteExpired(ctx, now)
	if err != nil {
		return a, fmt.Errorf("delete expired reset tokens: %w", err)
	}
	c, err := st.Revocations().DeleteExpired(ctx, now)
	if err != nil {
		return a + b, fmt.Errorf("delete expired revocations: %w", err)
	}
	return a + b + c, nil
}
