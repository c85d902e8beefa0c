package service

import (
	"context"
	"fmt"
	"time"

	"github.com/medisync/medisync/shared/authn"
)

// verifierLeeway is the clock skew verifiers allow on exp (authn.Config's
// default): a token is accepted that long past its expiry, so its
// revocation must be listed that long too.
const verifierLeeway = 30 * time.Second

// revocationLife is how long a revocation is listed: as long as the longest
// lived token any verifier accepts (authn.DefaultMaxLifetime, above which
// auth refuses its -access-ttl), not this instance's -access-ttl. A token
// issued under a longer lifetime, before a restart or by an instance not
// yet upgraded that shortened it, outlives this instance's lifetime, and
// must stay withdrawn as long as it lives.
const revocationLife = authn.DefaultMaxLifetime + verifierLeeway

// sessionRevocation withdraws every access token of a sign-in session; the
// newest was issued at now at the latest.
func (s *service) sessionRevocation(family string, now time.Time) authn.Revocation {
	return authn.Revocation{SessionID: family, NotBefore: now, ExpiresAt: now.Add(revocationLife)}
}

// userRevocation withdraws the user's access tokens issued before
// notBefore, a whole second: iat has second resolution.
func (s *service) userRevocation(userID string, notBefore time.Time) authn.Revocation {
	return authn.Revocation{UserID: userID, NotBefore: notBefore, ExpiresAt: notBefore.Add(revocationLife)}
}

// thisSecond is the NotBefore for a change that ends every session as well
// (password change and reset): the tokens of now's second from before the
// change go by their session's entry, and a token issued right after it,
// in a new session, stays valid.
func thisSecond(now time.Time) time.Time { return now.Truncate(time.Second) }

// nextSecond is the NotBefore for a change that leaves sessions open (a role
// change) or admits no new token (disabling): a token issued earlier in
// now's second cannot be told from one issued after, so the whole second
// goes; the client's refresh in a later second gets a token that passes.
func nextSecond(now time.Time) time.Time { return now.Truncate(time.Second).Add(time.Second) }

// revokeUser lists, in tx, the revocations that end the user's live
// sessions and withdraw the user's tokens issued before notBefore; call it
// before the user's refresh tokens are revoked, and store what it returns
// last in the transaction.
func (s *service) revokeUser(ctx context.Context, tx Store, userID string, now, notBefore time.Time) ([]authn.Revocation, error) {
	families, err := tx.RefreshTokens().LiveFamilies(ctx, userID, now.Add(-revocationLife))
	if err != nil {
		return nil, fmt.Errorf("list live sessions: %w", err)
	}
	out := make([]authn.Revocation, 0, len(families)+1)
	for _, f := range families {
		out = append(out, s.sessionRevocation(f, now))
	}
	return append(out, s.userRevocation(userID, notBefore)), nil
}

// published tells the listener of revocations once they are committed.
func (s *service) published(rs []authn.Revocation) {
	if len(rs) > 0 && s.Listener != nil {
		s.Listener.Revoked(rs)
	}
}
