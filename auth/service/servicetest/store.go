// Package servicetest holds the contract suite of the auth storage port (service.Store), which every adapter runs.
package servicetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
)

var t0 = time.Date(2030, 3, 1, 9, 30, 0, 123456000, time.UTC)

// unique makes an email address no other subtest uses: the subtests may
// share one database.
func unique(local string) string { return local + "-" + uuid.NewString()[:8] + "@example.org" }

func newUser(t *testing.T, email string, roles ...string) account.User {
	t.Helper()
	return account.User{
		ID: ids.New(), Email: email, FullName: "Zoë O'Brien 王",
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", Roles: roles,
		Version: 1, CreatedAt: t0, UpdatedAt: t0,
	}
}

// createPatient stores a new patient that no other subtest knows of.
func createPatient(t *testing.T, st service.Store) account.User {
	t.Helper()
	u := newUser(t, unique("pat"), authn.RolePatient)
	require.NoError(t, st.Users().Create(context.Background(), u))
	return u
}

// RunStoreContract checks what the service expects of a service.Store.
// newStore may return stores over one database for every subtest: each
// subtest makes its own users and keeps to its own times.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) service.Store) {
	t.Run("users", func(t *testing.T) {
		ctx := context.Background()
		zoe := unique("zoe")
		users := newStore(t).Users()

		u := newUser(t, zoe, authn.RolePatient)
		require.NoError(t, users.Create(ctx, u))
		got, err := users.ByID(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, got, "every field survives the round trip")
		got, err = users.ByEmail(ctx, zoe)
		require.NoError(t, err)
		assert.Equal(t, u.ID, got.ID)

		_, err = users.ByID(ctx, uuid.NewString())
		assert.ErrorIs(t, err, account.ErrNotFound)
		_, err = users.ByEmail(ctx, "x' OR '1'='1")
		assert.ErrorIs(t, err, account.ErrNotFound, "placeholders only")

		dup := newUser(t, zoe, authn.RoleDoctor)
		assert.ErrorIs(t, users.Create(ctx, dup), account.ErrEmailTaken)
		_, err = users.ByID(ctx, dup.ID)
		assert.ErrorIs(t, err, account.ErrNotFound, "a failed create leaves nothing behind")

		// Update: roles replaced, version checked.
		u.Roles = []string{authn.RoleAdmin, authn.RoleDoctor}
		u.Disabled = true
		u.Version = 2
		u.UpdatedAt = t0.Add(time.Minute)
		require.NoError(t, users.Update(ctx, u))
		got, err = users.ByID(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, got)

		stale := u
		stale.Version = 2 // expects stored version 1, which is gone
		assert.ErrorIs(t, users.Update(ctx, stale), account.ErrVersionConflict)
		missing := newUser(t, unique("nobody"))
		missing.Version = 2
		assert.ErrorIs(t, users.Update(ctx, missing), account.ErrNotFound)
	})
	t.Run("users list keyset and role filter", func(t *testing.T) {
		ctx := context.Background()
		users := newStore(t).Users()
		// Other subtests may have left users behind: count relative to them.
		before, err := users.List(ctx, service.UserQuery{Limit: 1000})
		require.NoError(t, err)
		doctors, err := users.List(ctx, service.UserQuery{Role: authn.RoleDoctor, Limit: 1000})
		require.NoError(t, err)
		var wantDoctors []string
		for _, u := range doctors {
			wantDoctors = append(wantDoctors, u.ID)
		}
		for i := 0; i < 7; i++ {
			role := authn.RolePatient
			if i%2 == 0 {
				role = authn.RoleDoctor
			}
			u := newUser(t, unique(fmt.Sprintf("u%d", i)), role)
			require.NoError(t, users.Create(ctx, u))
			if role == authn.RoleDoctor {
				wantDoctors = append(wantDoctors, u.ID)
			}
		}
		all, err := users.List(ctx, service.UserQuery{Limit: 1000})
		require.NoError(t, err)
		assert.Len(t, all, len(before)+7)

		var seen []string
		after := ""
		for {
			page, err := users.List(ctx, service.UserQuery{Role: authn.RoleDoctor, After: after, Limit: 2})
			require.NoError(t, err)
			for _, u := range page {
				assert.True(t, u.Has(authn.RoleDoctor))
				seen = append(seen, u.ID)
			}
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1].ID
			// An insert in the middle of paging does not disturb the pages.
			require.NoError(t, users.Create(ctx, newUser(t, unique("late"), authn.RolePatient)))
		}
		assert.Equal(t, wantDoctors, seen, "id order, each once")
	})
	t.Run("refresh tokens", func(t *testing.T) {
		ctx := context.Background()
		st := newStore(t)
		u := createPatient(t, st)
		rt := st.RefreshTokens()
		family := uuid.NewString()
		mk := func(fam string) account.RefreshToken {
			return account.RefreshToken{
				ID: uuid.NewString(), Hash: service.HashToken(uuid.NewString()), FamilyID: fam, UserID: u.ID,
				IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), SessionStartedAt: t0.Add(-24 * time.Hour),
			}
		}
		a, b, other := mk(family), mk(family), mk(uuid.NewString())
		for _, x := range []account.RefreshToken{a, b, other} {
			require.NoError(t, rt.Create(ctx, x))
		}
		got, err := rt.ByHash(ctx, a.Hash)
		require.NoError(t, err)
		assert.Equal(t, a, got, "the session's start kept beside the token's own instants")
		_, err = rt.ByHash(ctx, service.HashToken("nope"))
		assert.ErrorIs(t, err, account.ErrInvalidRefresh)

		ok, err := rt.MarkUsed(ctx, a.ID, t0.Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = rt.MarkUsed(ctx, a.ID, t0.Add(2*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "a token is used once")
		got, err = rt.ByHash(ctx, a.Hash)
		require.NoError(t, err)
		require.NotNil(t, got.UsedAt)
		assert.Equal(t, t0.Add(time.Minute), *got.UsedAt)

		n, err := rt.RevokeFamily(ctx, family, t0.Add(3*time.Minute))
		require.NoError(t, err)
		assert.EqualValues(t, 2, n)
		ok, err = rt.MarkUsed(ctx, b.ID, t0.Add(4*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "a revoked token cannot be used")
		got, err = rt.ByHash(ctx, other.Hash)
		require.NoError(t, err)
		assert.Nil(t, got.RevokedAt, "other families untouched")

		n, err = rt.RevokeUser(ctx, u.ID, t0.Add(5*time.Minute))
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "only tokens not yet revoked")

		n, err = rt.DeleteExpired(ctx, t0.Add(2*time.Hour))
		require.NoError(t, err)
		assert.EqualValues(t, 3, n)
	})
	t.Run("reset tokens", func(t *testing.T) {
		ctx := context.Background()
		st := newStore(t)
		u := createPatient(t, st)
		rs := st.ResetTokens()
		mk := func(created time.Time) account.ResetToken {
			return account.ResetToken{Hash: service.HashToken(uuid.NewString()), UserID: u.ID,
				CreatedAt: created, ExpiresAt: created.Add(30 * time.Minute)}
		}
		a, b := mk(t0), mk(t0.Add(time.Minute))
		require.NoError(t, rs.Create(ctx, a))
		require.NoError(t, rs.Create(ctx, b))
		got, err := rs.ByHash(ctx, a.Hash)
		require.NoError(t, err)
		assert.Equal(t, a, got)
		_, err = rs.ByHash(ctx, "x")
		assert.ErrorIs(t, err, account.ErrInvalidReset)

		n, err := rs.CountSince(ctx, u.ID, t0.Add(-time.Second))
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		n, err = rs.CountSince(ctx, u.ID, t0)
		require.NoError(t, err)
		assert.Equal(t, 1, n)

		ok, err := rs.Consume(ctx, a.Hash, t0.Add(31*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "expired")
		ok, err = rs.Consume(ctx, a.Hash, t0.Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = rs.Consume(ctx, a.Hash, t0.Add(2*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "single use")

		require.NoError(t, rs.InvalidateUser(ctx, u.ID, t0.Add(3*time.Minute)))
		ok, err = rs.Consume(ctx, b.Hash, t0.Add(4*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "invalidated")

		deleted, err := rs.DeleteExpired(ctx, t0.Add(time.Hour))
		require.NoError(t, err)
		assert.EqualValues(t, 2, deleted)
	})
	t.Run("reset token quota holds under races", func(t *testing.T) {
		ctx := context.Background()
		// Later than the other subtests' tokens, which their purges delete.
		t0 := t0.Add(48 * time.Hour)
		st := newStore(t)
		u := createPatient(t, st)
		mk := func(created time.Time) account.ResetToken {
			return account.ResetToken{Hash: service.HashToken(uuid.NewString()), UserID: u.ID,
				CreatedAt: created, ExpiresAt: created.Add(30 * time.Minute)}
		}
		old := mk(t0.Add(-time.Hour))
		require.NoError(t, st.ResetTokens().Create(ctx, old))

		const tries, quota = 8, 3
		var wg sync.WaitGroup
		var stored atomic.Int32
		for i := 0; i < tries; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := st.ResetTokens().CreateWithin(ctx, mk(t0), t0.Add(-30*time.Minute), quota)
				assert.NoError(t, err)
				if ok {
					stored.Add(1)
				}
			}()
		}
		wg.Wait()
		assert.EqualValues(t, quota, stored.Load(), "tokens older than the window do not count; the quota holds")
		n, err := st.ResetTokens().CountSince(ctx, u.ID, t0.Add(-30*time.Minute))
		require.NoError(t, err)
		assert.Equal(t, quota, n)

		ok, err := st.ResetTokens().CreateWithin(ctx, mk(t0.Add(31*time.Minute)), t0.Add(time.Minute), quota)
		require.NoError(t, err)
		assert.True(t, ok, "a new window")
	})
	t.Run("transactions commit or roll back", func(t *testing.T) {
		ctx := context.Background()
		st := newStore(t)
		boom := errors.New("boom")
		a := newUser(t, unique("a"), authn.RolePatient)
		err := st.InTx(ctx, func(tx service.Store) error {
			require.NoError(t, tx.Users().Create(ctx, a))
			// Nested use joins the same transaction.
			return tx.InTx(ctx, func(tx service.Store) error {
				_, err := tx.Users().ByID(ctx, a.ID)
				require.NoError(t, err, "visible inside the transaction")
				return boom
			})
		})
		assert.ErrorIs(t, err, boom)
		_, err = st.Users().ByID(ctx, a.ID)
		assert.ErrorIs(t, err, account.ErrNotFound, "rolled back")

		require.NoError(t, st.InTx(ctx, func(tx service.Store) error { return tx.Users().Create(ctx, a) }))
		_, err = st.Users().ByID(ctx, a.ID)
		assert.NoError(t, err, "committed")
	})
	t.Run("a locked user's change waits for the lock's transaction", func(t *testing.T) {
		ctx := context.Background()
		st := newStore(t)
		u := createPatient(t, st)
		assert.ErrorIs(t, st.InTx(ctx, func(tx service.Store) error { return tx.Users().Lock(ctx, "no-such-user") }), account.ErrNotFound)

		locked := make(chan struct{})
		var committed time.Time
		done := make(chan error, 1)
		go func() {
			done <- st.InTx(ctx, func(tx service.Store) error {
				if err := tx.Users().Lock(ctx, u.ID); err != nil {
					return err
				}
				close(locked)
				time.Sleep(300 * time.Millisecond) // the change below starts meanwhile
				committed = time.Now()
				return nil
			})
		}()
		<-locked
		err := st.InTx(ctx, func(tx service.Store) error {
			cur, err := tx.Users().ByID(ctx, u.ID)
			if err != nil {
				return err
			}
			cur.Version++
			return tx.Users().Update(ctx, cur)
		})
		changed := time.Now()
		require.NoError(t, err)
		require.NoError(t, <-done)
		assert.False(t, changed.Before(committed), "the change went through while the user was locked")
	})
	t.Run("live sessions", func(t *testing.T) {
		ctx := context.Background()
		st := newStore(t)
		u := createPatient(t, st)
		mk := func(fam string, issued time.Time) account.RefreshToken {
			return account.RefreshToken{
				ID: uuid.NewString(), Hash: service.HashToken(uuid.NewString()), FamilyID: fam, UserID: u.ID,
				IssuedAt: issued, ExpiresAt: issued.Add(time.Hour),
			}
		}
		fresh, stale, loggedOut := ids.New(), ids.New(), ids.New()
		for _, x := range []account.RefreshToken{
			mk(fresh, t0.Add(-time.Hour)), mk(fresh, t0.Add(-time.Minute)), mk(stale, t0.Add(-time.Hour)), mk(loggedOut, t0.Add(-time.Minute)),
		} {
			require.NoError(t, st.RefreshTokens().Create(ctx, x))
		}
		_, err := st.RefreshTokens().RevokeFamily(ctx, loggedOut, t0)
		require.NoError(t, err)
		got, err := st.RefreshTokens().LiveFamilies(ctx, u.ID, t0.Add(-15*time.Minute))
		require.NoError(t, err)
		assert.Equal(t, []string{fresh}, got, "once each; neither sessions idle longer than since nor revoked ones")
	})
	t.Run("revocations", func(t *testing.T) {
		ctx := context.Background()
		st := newStore(t)
		rv := st.Revocations()
		base := lastIndex(t, rv)
		session := authn.Revocation{SessionID: ids.New(), NotBefore: t0, ExpiresAt: t0.Add(15 * time.Minute)}
		user := authn.Revocation{UserID: ids.New(), NotBefore: t0.Truncate(time.Second), ExpiresAt: t0.Add(16 * time.Minute)}
		require.NoError(t, rv.Add(ctx, session, user))

		got, index, err := rv.After(ctx, base, t0, 100)
		require.NoError(t, err)
		assert.Equal(t, []authn.Revocation{session, user}, got, "every field survives, in order")
		assert.Greater(t, index, base)

		first, i1, err := rv.After(ctx, base, t0, 1)
		require.NoError(t, err)
		assert.Equal(t, []authn.Revocation{session}, first, "at most limit")
		rest, i2, err := rv.After(ctx, i1, t0, 100)
		require.NoError(t, err)
		assert.Equal(t, []authn.Revocation{user}, rest, "the next page goes on from the index")
		assert.Equal(t, index, i2)

		none, same, err := rv.After(ctx, index, t0, 100)
		require.NoError(t, err)
		assert.Empty(t, none)
		assert.Equal(t, index, same, "nothing newer: the index asked after")

		got, i3, err := rv.After(ctx, base, t0.Add(15*time.Minute), 100)
		require.NoError(t, err)
		assert.Equal(t, []authn.Revocation{user}, got, "expired entries are left out")
		assert.Equal(t, index, i3, "but still move the index on")

		// A failed transaction leaves no entry.
		boom := errors.New("boom")
		err = st.InTx(ctx, func(tx service.Store) error {
			require.NoError(t, tx.Revocations().Add(ctx, authn.Revocation{UserID: ids.New(), NotBefore: t0, ExpiresAt: t0.Add(time.Hour)}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		none, _, err = rv.After(ctx, index, t0, 100)
		require.NoError(t, err)
		assert.Empty(t, none, "rolled back")

		n, err := rv.DeleteExpired(ctx, t0.Add(15*time.Minute+time.Second))
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
		n, err = rv.DeleteExpired(ctx, t0.Add(17*time.Minute))
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
		// Deleting the newest entries frees no index for reuse: a follower
		// that read them must still see what comes next.
		next := authn.Revocation{SessionID: ids.New(), NotBefore: t0, ExpiresAt: t0.Add(time.Hour)}
		require.NoError(t, rv.Add(ctx, next))
		got, i4, err := rv.After(ctx, index, t0, 100)
		require.NoError(t, err)
		assert.Equal(t, []authn.Revocation{next}, got)
		assert.Greater(t, i4, index)
	})
	t.Run("revocations commit in index order", func(t *testing.T) {
		// A follower that has read index n must never see an index below n
		// appear later, or it would miss that entry for good.
		ctx := context.Background()
		st := newStore(t)
		base := lastIndex(t, st.Revocations())
		const writers = 12
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := st.InTx(ctx, func(tx service.Store) error {
					if err := tx.Revocations().Add(ctx, authn.Revocation{SessionID: ids.New(), NotBefore: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
						return err
					}
					time.Sleep(time.Duration(i%4) * 3 * time.Millisecond) // commit late, in a mixed order
					return nil
				})
				assert.NoError(t, err)
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		seen, index := 0, base
		follow := func() {
			got, next, err := st.Revocations().After(ctx, index, t0, 1000)
			require.NoError(t, err)
			seen += len(got)
			index = next
		}
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
				follow()
			}
		}
		follow()
		assert.Equal(t, writers, seen, "a follower reading while writers commit misses nothing")
	})
}

// lastIndex returns the index of the newest revocation stored.
func lastIndex(t *testing.T, rv service.Revocations) uint64 {
	t.Helper()
	var index uint64
	for {
		_, next, err := rv.After(context.Background(), index, time.Time{}, 1000)
		require.NoError(t, err)
		if next == index {
			return index
		}
		index = next
	}
}
