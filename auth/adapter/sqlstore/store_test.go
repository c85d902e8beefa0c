package sqlstore_test

import (
	"context"
	"crypto/ed25519"
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
	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

var t0 = time.Date(2030, 3, 1, 9, 30, 0, 123456000, time.UTC)

func newUser(t *testing.T, email string, roles ...string) account.User {
	t.Helper()
	return account.User{
		ID: uuid.Must(uuid.NewV7()).String(), Email: email, FullName: "Zoë O'Brien 王",
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", Roles: roles,
		Version: 1, CreatedAt: t0, UpdatedAt: t0,
	}
}

func TestUsers(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		users := sqlstore.New(db).Users()

		u := newUser(t, "zoe@example.org", account.RolePatient)
		require.NoError(t, users.Create(ctx, u))
		got, err := users.ByID(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, got, "every field survives the round trip")
		got, err = users.ByEmail(ctx, "zoe@example.org")
		require.NoError(t, err)
		assert.Equal(t, u.ID, got.ID)

		_, err = users.ByID(ctx, uuid.NewString())
		assert.ErrorIs(t, err, account.ErrNotFound)
		_, err = users.ByEmail(ctx, "x' OR '1'='1")
		assert.ErrorIs(t, err, account.ErrNotFound, "placeholders only")

		dup := newUser(t, "zoe@example.org", account.RoleDoctor)
		assert.ErrorIs(t, users.Create(ctx, dup), account.ErrEmailTaken)
		_, err = users.ByID(ctx, dup.ID)
		assert.ErrorIs(t, err, account.ErrNotFound, "a failed create leaves nothing behind")

		// Update: roles replaced, version checked.
		u.Roles = []string{account.RoleAdmin, account.RoleDoctor}
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
		missing := newUser(t, "nobody@example.org")
		missing.Version = 2
		assert.ErrorIs(t, users.Update(ctx, missing), account.ErrNotFound)
	})
}

func TestUsersListKeysetAndRoleFilter(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		users := sqlstore.New(db).Users()
		var doctors []string
		for i := 0; i < 7; i++ {
			role := account.RolePatient
			if i%2 == 0 {
				role = account.RoleDoctor
			}
			u := newUser(t, fmt.Sprintf("u%d@example.org", i), role)
			require.NoError(t, users.Create(ctx, u))
			if role == account.RoleDoctor {
				doctors = append(doctors, u.ID)
			}
		}
		all, err := users.List(ctx, service.UserQuery{Limit: 100})
		require.NoError(t, err)
		assert.Len(t, all, 7)

		var seen []string
		after := ""
		for {
			page, err := users.List(ctx, service.UserQuery{Role: account.RoleDoctor, After: after, Limit: 2})
			require.NoError(t, err)
			for _, u := range page {
				assert.True(t, u.Has(account.RoleDoctor))
				seen = append(seen, u.ID)
			}
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1].ID
			// An insert in the middle of paging does not disturb the pages.
			require.NoError(t, users.Create(ctx, newUser(t, uuid.NewString()[:8]+"@example.org", account.RolePatient)))
		}
		assert.Equal(t, doctors, seen, "id order, each once")
	})
}

func TestRefreshTokens(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := sqlstore.New(db)
		u := newUser(t, "pat@example.org", account.RolePatient)
		require.NoError(t, st.Users().Create(ctx, u))
		rt := st.RefreshTokens()
		family := uuid.NewString()
		mk := func(fam string) account.RefreshToken {
			return account.RefreshToken{
				ID: uuid.NewString(), Hash: service.HashToken(uuid.NewString()), FamilyID: fam, UserID: u.ID,
				IssuedAt: t0, ExpiresAt: t0.Add(time.Hour),
			}
		}
		a, b, other := mk(family), mk(family), mk(uuid.NewString())
		for _, x := range []account.RefreshToken{a, b, other} {
			require.NoError(t, rt.Create(ctx, x))
		}
		got, err := rt.ByHash(ctx, a.Hash)
		require.NoError(t, err)
		assert.Equal(t, a, got)
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
}

func TestResetTokens(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := sqlstore.New(db)
		u := newUser(t, "pat@example.org", account.RolePatient)
		require.NoError(t, st.Users().Create(ctx, u))
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
}

func TestResetTokenQuotaHoldsUnderRaces(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := sqlstore.New(db)
		u := newUser(t, "pat@example.org", account.RolePatient)
		require.NoError(t, st.Users().Create(ctx, u))
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
}

func TestInTxCommitsOrRollsBack(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := sqlstore.New(db)
		boom := errors.New("boom")
		a := newUser(t, "a@example.org", account.RolePatient)
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
}

func TestKeys(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		keys := sqlstore.NewKeys(db)
		rec := func(activates time.Time) signing.Record {
			k, err := signing.Generate(t0, activates)
			require.NoError(t, err)
			r, err := (*signing.Sealer)(nil).Seal(k)
			require.NoError(t, err)
			return r
		}
		first := rec(t0)
		require.NoError(t, keys.Insert(ctx, first))
		got, err := keys.Published(ctx, t0)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, first, got[0])
		assert.Len(t, got[0].Public, ed25519.PublicKeySize)

		second := rec(t0.Add(time.Hour))
		require.NoError(t, keys.Rotate(ctx, second))
		got, err = keys.Published(ctx, t0)
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, second.KID, got[0].KID, "newest activation first")
		require.NotNil(t, got[1].RetiresAt)
		assert.Equal(t, t0.Add(time.Hour), *got[1].RetiresAt, "the old key retires when the new one activates")
		assert.Nil(t, got[0].RetiresAt)

		got, err = keys.Published(ctx, t0.Add(2*time.Hour))
		require.NoError(t, err)
		assert.Len(t, got, 1, "a key retired before the cut-off is not published")

		n, err := keys.Prune(ctx, t0.Add(2*time.Hour))
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
		n, err = keys.Prune(ctx, t0.Add(200*time.Hour))
		require.NoError(t, err)
		assert.Zero(t, n, "the active key is never pruned")
	})
}
