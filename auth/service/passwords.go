package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/logging"
)

func (s *service) ChangePassword(ctx context.Context, actor authn.Principal, in ChangePasswordInput) (TokenPair, error) {
	var fe domainerr.FieldErrors
	if in.CurrentPassword == "" {
		fe.Add("currentPassword", "is required")
	} else if password.TooLong(in.CurrentPassword) {
		fe.Add("currentPassword", "is incorrect")
	}
	u, err := s.activeUser(ctx, actor)
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
		return TokenPair{}, fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		// A stolen access token must not become a way to guess passwords.
		s.Throttle.Failed(u.Email, in.ClientIP)
		return TokenPair{}, domainerr.Field("currentPassword", "is incorrect")
	}
	s.Throttle.Succeeded(u.Email, in.ClientIP)
	// The same characters in another Unicode form are the same password.
	if password.Normalize(in.NewPassword) == password.Normalize(in.CurrentPassword) {
		return TokenPair{}, domainerr.Field("newPassword", "must differ from the current password")
	}
	hash, err := s.Hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return TokenPair{}, fmt.Errorf("hash password: %w", err)
	}
	var (
		pair    TokenPair
		revoked []authn.Revocation
	)
	for checked := false; ; checked = true {
		var stored account.User
		err = s.Store.InTx(ctx, func(tx Store) error {
			// The user's row first, then the tokens, as in every change of
			// the account: the other order deadlocks with a reset. Read
			// again under the lock, so that a change committed since the
			// first read is seen, not answered 409.
			cur, err := lockedUser(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			if cur.Disabled {
				return account.ErrDisabled
			}
			if cur.PasswordHash != u.PasswordHash {
				stored = cur
				return errHashChanged
			}
			now := s.now()
			cur.PasswordHash, cur.UpdatedAt = hash, now
			cur.Version++
			if err := tx.Users().Update(ctx, cur); err != nil {
				return fmt.Errorf("update user: %w", err)
			}
			// Every session ends, the access tokens in use with them.
			if revoked, err = s.revokeUser(ctx, tx, cur.ID, now, thisSecond(now)); err != nil {
				return err
			}
			if _, err := tx.RefreshTokens().RevokeUser(ctx, cur.ID, now); err != nil {
				return fmt.Errorf("revoke sessions: %w", err)
			}
			// A reset link sent before must not undo the change.
			if err := tx.ResetTokens().InvalidateUser(ctx, cur.ID, now); err != nil {
				return fmt.Errorf("invalidate reset tokens: %w", err)
			}
			if pair, err = s.startSession(ctx, tx, cur); err != nil {
				return err
			}
			// Last, so that the feed's writers hold their turn briefly.
			return tx.Revocations().Add(ctx, revoked...)
		})
		if !errors.Is(err, errHashChanged) || checked {
			break
		}
		// A login's upgrade of the hash keeps the password; a reset or
		// another change does not. The stored hash decides.
		ok, _, verr := s.Hasher.Verify(ctx, in.CurrentPassword, stored.PasswordHash)
		if verr != nil {
			return TokenPair{}, fmt.Errorf("verify password: %w", verr)
		}
		if !ok {
			return TokenPair{}, domainerr.Field("currentPassword", "is incorrect")
		}
		u = stored
	}
	switch {
	case errors.Is(err, errHashChanged):
		return TokenPair{}, domainerr.Field("currentPassword", "is incorrect")
	case errors.Is(err, account.ErrNotFound):
		return TokenPair{}, account.ErrUnauthenticated
	case err != nil:
		return TokenPair{}, err
	}
	// No address that knew the old password stays known to the account
	// (a thief's would pass its block); the one that changed it does.
	s.Throttle.Lift(u.Email)
	s.Throttle.Succeeded(u.Email, in.ClientIP)
	s.published(revoked)
	return pair, nil
}

func (s *service) ForgotPassword(ctx context.Context, rawEmail string) error {
	email, err := account.NormalizeEmail(rawEmail)
	if err != nil {
		return domainerr.Field("email", err.Error())
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
		return fmt.Errorf("load user: %w", err)
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
	var stored bool
	err = s.Store.InTx(ctx, func(tx Store) error {
		stored = false // a retried transaction starts over
		// Read again under the user's lock: an account disabled since the
		// read above voided its links, and one stored now would outlive
		// that, setting the password once the account is enabled again.
		cur, err := lockedUser(ctx, tx, u.ID)
		if errors.Is(err, account.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		if cur.Disabled {
			return nil
		}
		u = cur
		stored, err = tx.ResetTokens().CreateWithin(ctx, t, now.Add(-s.cfg.ResetTTL), s.cfg.ResetsPerWindow)
		if err != nil || !stored || s.EventSeal == nil {
			return err
		}
		// The notification service delivers the link: the token and its
		// event commit together.
		ev, err := s.passwordResetRequested(u, raw, t.ExpiresAt, now)
		if err != nil {
			return err
		}
		return tx.Outbox().Write(ctx, ev)
	})
	if err != nil {
		return fmt.Errorf("store reset token: %w", err)
	}
	if !stored {
		return nil
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
		return fmt.Errorf("load reset token: %w", err)
	}
	if t.UsedAt != nil || !now.Before(t.ExpiresAt) {
		return account.ErrInvalidReset
	}
	u, err := s.Store.Users().ByID(ctx, t.UserID)
	if errors.Is(err, account.ErrNotFound) {
		return account.ErrInvalidReset
	}
	if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	if u.Disabled {
		// Disabling voids the links; one read before it committed is as
		// dead, and answers like any dead link, so it tells nothing of the
		// account.
		return account.ErrInvalidReset
	}
	if err := s.Policy.Check(newPassword, u.Email); err != nil {
		return domainerr.Field("newPassword", err.Error())
	}
	hash, err := s.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	var revoked []authn.Revocation
	err = s.Store.InTx(ctx, func(tx Store) error {
		// The user's row first, then the tokens, as in every change of the
		// account: the other order deadlocks with a password change or a
		// second reset. Read under the lock: the version may have moved.
		cur, err := lockedUser(ctx, tx, u.ID)
		if errors.Is(err, account.ErrNotFound) {
			return account.ErrInvalidReset
		}
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		if cur.Disabled {
			return account.ErrInvalidReset
		}
		now := s.now()
		ok, err := tx.ResetTokens().Consume(ctx, hashTok, now)
		if err != nil {
			return fmt.Errorf("consume reset token: %w", err)
		}
		if !ok {
			return account.ErrInvalidReset
		}
		cur.PasswordHash, cur.UpdatedAt = hash, now
		cur.Version++
		if err := tx.Users().Update(ctx, cur); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		if err := tx.ResetTokens().InvalidateUser(ctx, cur.ID, now); err != nil {
			return fmt.Errorf("invalidate reset tokens: %w", err)
		}
		if revoked, err = s.revokeUser(ctx, tx, cur.ID, now, thisSecond(now)); err != nil {
			return err
		}
		if _, err := tx.RefreshTokens().RevokeUser(ctx, cur.ID, now); err != nil {
			return fmt.Errorf("revoke sessions: %w", err)
		}
		return tx.Revocations().Add(ctx, revoked...)
	})
	if err != nil {
		return err
	}
	s.published(revoked)
	// Proving control of the mailbox lifts any login block on the account.
	s.Throttle.Lift(u.Email)
	return nil
}
