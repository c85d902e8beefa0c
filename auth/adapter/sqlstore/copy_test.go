package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/auth/throttle"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

type noMail struct{}

func (noMail) PasswordReset(context.Context, service.PasswordReset) error { return nil }
func (noMail) AccountExists(context.Context, service.AccountExists) error { return nil }

// authService is the service over db, as cmd/auth wires it, with cheap
// hashing and the clock given.
func authService(t *testing.T, db *sqldb.DB, clk *clocktest.Clock) (service.Service, *sqlstore.Store, service.Deps) {
	t.Helper()
	h, err := password.NewHasher(password.HasherOptions{Params: password.Cheap})
	require.NoError(t, err)
	ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour, Now: clk.Now})
	_, err = ring.EnsureKey(context.Background())
	require.NoError(t, err)
	store := sqlstore.New(db)
	deps := service.Deps{
		Store: store, Hasher: h, Policy: password.NewPolicy(),
		Throttle: throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, clk.Now),
		Tokens:   ring, Notifier: noMail{}, Clock: clk,
	}
	return service.New(deps, service.Config{}), store, deps
}

// authSnapshot is what the service and the revocation feed tell.
type authSnapshot struct {
	Users       []account.User
	Revocations []authn.Revocation
	FeedIndex   uint64
}

func readAuth(t *testing.T, svc service.Service, store *sqlstore.Store, admin authn.Principal, now time.Time) authSnapshot {
	t.Helper()
	ctx := context.Background()
	var snap authSnapshot
	for in := (service.ListUsersInput{Limit: 2}); ; {
		pg, err := svc.ListUsers(ctx, admin, in)
		require.NoError(t, err)
		for _, u := range pg.Items {
			got, err := svc.GetUser(ctx, admin, u.ID)
			require.NoError(t, err)
			require.Equal(t, u, got)
		}
		snap.Users = append(snap.Users, pg.Items...)
		if in.Cursor = pg.NextCursor; in.Cursor == "" {
			break
		}
	}
	var err error
	snap.Revocations, snap.FeedIndex, err = store.Revocations().After(ctx, 0, now, 1000)
	require.NoError(t, err)
	return snap
}

// TestCopyToPostgres fills a MariaDB database through the service (accounts
// with roles, sign-ins, rotated and revoked refresh tokens, a password reset
// request, role changes that revoke sessions), copies it with dbcopy into an
// empty PostgreSQL database migrated from the embedded migrations (whose
// revocation_writer row the copy replaces), and serves the copy: the same
// accounts, passwords and signing keys, refresh tokens issued before the copy
// still rotate, revoked ones stay refused, and the revocation feed goes on
// after the copied index.
func TestCopyToPostgres(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Date(2026, 2, 1, 8, 30, 0, 123456789, time.UTC))
	const pw = "correct horse battery staple"

	src := sqltest.MySQL(t, sqlstore.Migrations())
	svc, store, deps := authService(t, src, clk)
	_, err := service.Bootstrap(ctx, deps, "admin@example.org", pw)
	require.NoError(t, err)
	adminUser, err := store.Users().ByEmail(ctx, "admin@example.org")
	require.NoError(t, err)
	admin := authn.Principal{UserID: adminUser.ID, Roles: []string{authn.RoleAdmin}}
	doctor, err := svc.CreateUser(ctx, admin, service.CreateUserInput{Email: "dr.mueller@example.org", Password: pw, FullName: "Jürgen Müller", Roles: []string{authn.RoleDoctor}})
	require.NoError(t, err)
	for _, u := range []struct{ email, name string }{{"zoe@example.org", "Zoë Ōtsuka"}, {"liam@example.org", "Liam O'Brien"}} {
		clk.Advance(time.Minute)
		require.NoError(t, svc.Register(ctx, service.RegisterInput{Email: u.email, Password: pw, FullName: u.name}))
	}

	login := func(svc service.Service, email string) service.TokenPair {
		t.Helper()
		tp, err := svc.Login(ctx, service.LoginInput{Email: email, Password: pw, ClientIP: "203.0.113.7"})
		require.NoError(t, err)
		return tp
	}
	clk.Advance(time.Minute)
	kept := login(svc, "zoe@example.org")                    // still valid at the copy
	rotated := login(svc, "liam@example.org")                // used once: its successor is valid
	successor, err := svc.Refresh(ctx, rotated.RefreshToken) // the family goes on
	require.NoError(t, err)
	loggedOut := login(svc, "zoe@example.org")
	require.NoError(t, svc.Logout(ctx, loggedOut.RefreshToken))
	login(svc, "dr.mueller@example.org")
	clk.Advance(time.Minute)
	roles := []string{authn.RoleDoctor, authn.RoleAdmin}
	one := 1
	_, err = svc.UpdateUser(ctx, admin, service.UpdateUserInput{ID: doctor.ID, Roles: &roles, IfMatch: &one})
	require.NoError(t, err)
	require.NoError(t, svc.ForgotPassword(ctx, "liam@example.org"))

	want := readAuth(t, svc, store, admin, clk.Now())
	require.Len(t, want.Users, 4)
	require.NotEmpty(t, want.Revocations, "the logout and the role change revoke sessions")

	// The copy, into an empty database the copy migrates.
	dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })
	rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations(), BatchRows: 2})
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.Differences())
	rows := map[string]int64{}
	for _, tr := range rep.Tables {
		rows[tr.Table] = tr.TargetRows
	}
	assert.EqualValues(t, 4, rows["users"])
	assert.EqualValues(t, 5, rows["user_roles"], "tables: %v", rows)
	assert.EqualValues(t, 5, rows["refresh_tokens"])
	assert.EqualValues(t, 1, rows["revocation_writer"])
	again, err := dbcopy.Verify(ctx, src, dst)
	require.NoError(t, err)
	require.True(t, again.OK())

	// The copy, served.
	pg, pgStore, _ := authService(t, dst, clk)
	assert.Equal(t, want, readAuth(t, pg, pgStore, admin, clk.Now()))
	clk.Advance(time.Minute)
	_, err = pg.Refresh(ctx, kept.RefreshToken)
	require.NoError(t, err, "a session from before the copy goes on")
	next, err := pg.Refresh(ctx, successor.RefreshToken)
	require.NoError(t, err)
	_, err = pg.Refresh(ctx, loggedOut.RefreshToken)
	require.Error(t, err, "a logged-out session stays closed")
	_, err = pg.Refresh(ctx, rotated.RefreshToken)
	require.Error(t, err, "a refresh token used before the copy stays used")
	_, err = pg.Refresh(ctx, next.RefreshToken)
	require.Error(t, err, "its reuse closed the whole family")
	login(pg, "dr.mueller@example.org")
	_, err = pg.UpdateUser(ctx, admin, service.UpdateUserInput{ID: doctor.ID, Roles: &roles, IfMatch: &one})
	require.Error(t, err, "the copy keeps the versions")
	disabled := true
	_, err = pg.UpdateUser(ctx, admin, service.UpdateUserInput{ID: doctor.ID, Disabled: &disabled})
	require.NoError(t, err)
	feed, index, err := pgStore.Revocations().After(ctx, want.FeedIndex, clk.Now(), 1000)
	require.NoError(t, err)
	assert.NotEmpty(t, feed, "the new revocation follows the copied ones")
	assert.Greater(t, index, want.FeedIndex)
}

// TestCopiedFeedNeverReusesAnIndex: every verifier (gateway, services) holds
// the feed index it last read and asks for ids above it. Expired revocations
// are purged, so a copy made in a quiet hour may find none left; the copy
// must still go on from the source's counter, not from MAX(copied id)+1,
// or the next revocations would fall at or below the index the running
// verifiers hold and never reach them.
func TestCopiedFeedNeverReusesAnIndex(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC))
	src := sqltest.MySQL(t, sqlstore.Migrations())
	store := sqlstore.New(src)
	for range 3 {
		require.NoError(t, store.Revocations().Add(ctx, authn.Revocation{UserID: ids.New(), NotBefore: clk.Now(), ExpiresAt: clk.Now().Add(15 * time.Minute)}))
	}
	_, held, err := store.Revocations().After(ctx, 0, clk.Now(), 1000)
	require.NoError(t, err)
	require.EqualValues(t, 3, held, "the index every verifier now holds")

	clk.Advance(time.Hour)
	_, err = service.Purge(ctx, store, clk.Now()) // auth's hourly clean-up
	require.NoError(t, err)

	dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })
	rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations()})
	require.NoError(t, err)
	require.True(t, rep.OK())

	// auth now serves from PostgreSQL; an administrator disables an account.
	pg := sqlstore.New(dst)
	require.NoError(t, pg.Revocations().Add(ctx, authn.Revocation{UserID: ids.New(), NotBefore: clk.Now(), ExpiresAt: clk.Now().Add(15 * time.Minute)}))
	feed, next, err := pg.Revocations().After(ctx, held, clk.Now(), 1000)
	require.NoError(t, err)
	assert.Len(t, feed, 1, "a verifier at index %d must see the revocation written after the switch", held)
	assert.Greater(t, next, held)
}

// TestEveryInstallationCopiesToPostgres: a freshly migrated database of
// either source copies, SQLite's lacking the revocation_writer PostgreSQL's
// migrations make and seed.
func TestEveryInstallationCopiesToPostgres(t *testing.T) {
	sqltest.EachSource(t, sqlstore.Migrations(), func(t *testing.T, src *sqldb.DB) {
		ctx := context.Background()
		dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
		require.NoError(t, err)
		t.Cleanup(func() { _ = dst.Close() })
		rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations()})
		require.NoError(t, err)
		if src.Dialect == sqldb.SQLite {
			assert.Equal(t, []string{"revocation_writer"}, rep.TargetOnly)
		}
		var writers int
		require.NoError(t, dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM revocation_writer").Scan(&writers))
		assert.Equal(t, 1, writers, "the writer's row stays")
	})
}

// docs/moving-to-postgres.md: a failed copy leaves the target migrated and
// empty but for auth's seeded revocation_writer row, and the copy can be run
// again; a copy refused for its source leaves the target untouched.
func TestCopyCanBeRunAgainAfterAFailedCopy(t *testing.T) {
	sqltest.EachSource(t, sqlstore.Migrations(), func(t *testing.T, src *sqldb.DB) {
		ctx := context.Background()
		clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		authService(t, src, clk)
		dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
		require.NoError(t, err)
		t.Cleanup(func() { _ = dst.Close() })

		// A source that is no service database is refused before the
		// target is migrated.
		_, err = dbcopy.Copy(ctx, sqltest.SQLite(t, nil), dst, dbcopy.Options{Migrations: sqlstore.Migrations()})
		require.ErrorIs(t, err, dbcopy.ErrSchemaMismatch)
		var tables int
		require.NoError(t, dst.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&tables))
		assert.Zero(t, tables, "the target was left as given")

		// A run cut short (interrupted, a dropped connection): its one
		// transaction is rolled back.
		cctx, cancel := context.WithCancel(ctx)
		_, err = dbcopy.Copy(cctx, src, dst, dbcopy.Options{
			Migrations: sqlstore.Migrations(),
			Progress:   func(string, int64) { cancel() },
		})
		require.Error(t, err, "the first run was to fail")

		rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations()})
		require.NoError(t, err, "the copy is run again")
		assert.True(t, rep.OK())
	})
}
