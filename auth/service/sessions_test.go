package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// roles returns the roles an access token claims.
func roles(t *testing.T, tok string) []string {
	t.Helper()
	var c struct {
		jwt.RegisteredClaims
		Roles []string `json:"roles"`
	}
	_, _, err := jwt.NewParser().ParseUnverified(tok, &c)
	require.NoError(t, err)
	return c.Roles
}

// change applies f to the stored user with email, as an administrator's
// request committed meanwhile would.
func change(t *testing.T, st *sqlstore.Store, email string, f func(*account.User)) {
	t.Helper()
	ctx := context.Background()
	u, err := st.Users().ByEmail(ctx, email)
	require.NoError(t, err)
	f(&u)
	u.Version++
	require.NoError(t, st.Users().Update(ctx, u))
}

func demote(u *account.User)  { u.Roles = []string{authn.RolePatient} }
func disable(u *account.User) { u.Disabled = true }

// newAdminService returns a service in which ann@example.org is an ADMIN,
// with the hasher that runs a hook during a verification.
func newAdminService(t *testing.T) (service.Service, *sqlstore.Store, *reentrantHasher) {
	t.Helper()
	deps, ch, db := newDeps(t)
	h := &reentrantHasher{countingHasher: ch}
	deps.Hasher = h
	st := sqlstore.New(db)
	deps.Store = st
	svc := service.New(deps, service.Config{})
	require.NoError(t, svc.Register(context.Background(), service.RegisterInput{
		Email: "ann@example.org", Password: "violet tram cupboard", FullName: "Ann",
	}))
	change(t, st, "ann@example.org", func(u *account.User) { u.Roles = []string{authn.RoleAdmin} })
	return svc, st, h
}

// ann is newAdminService's administrator, stored and as her token names her.
func ann(t *testing.T, st *sqlstore.Store) (account.User, authn.Principal) {
	t.Helper()
	u, err := st.Users().ByEmail(context.Background(), "ann@example.org")
	require.NoError(t, err)
	return u, authn.Principal{UserID: u.ID, Roles: []string{authn.RoleAdmin}}
}

// A demotion, a disabled account or a new password committed while a login
// checks the password decides the outcome of that login.
func TestLoginFollowsChangesCommittedDuringThePasswordCheck(t *testing.T) {
	ctx := context.Background()
	in := service.LoginInput{Email: "ann@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"}

	svc, st, h := newAdminService(t)
	h.during = func() { change(t, st, in.Email, demote) }
	pair, err := svc.Login(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, []string{authn.RolePatient}, roles(t, pair.AccessToken), "not the ADMIN role read before the demotion")

	svc, st, h = newAdminService(t)
	h.during = func() { change(t, st, in.Email, disable) }
	_, err = svc.Login(ctx, in)
	assert.ErrorIs(t, err, account.ErrDisabled)

	// A password change revokes the sessions it sees; a login that checked
	// the old password must not start one it does not.
	svc, st, h = newAdminService(t)
	h.during = func() {
		change(t, st, in.Email, func(u *account.User) {
			u.PasswordHash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$bmV3bmV3bmV3bmV3bmV3bmV3"
		})
	}
	_, err = svc.Login(ctx, in)
	assert.ErrorIs(t, err, account.ErrInvalidCredentials)

	// Another login's upgrade of the hash keeps the password: this login
	// goes through.
	svc, st, h = newAdminService(t)
	h.during = func() {
		upgraded, err := h.countingHasher.Hash(ctx, in.Password)
		require.NoError(t, err)
		change(t, st, in.Email, func(u *account.User) { u.PasswordHash = upgraded })
	}
	pair, err = svc.Login(ctx, in)
	require.NoError(t, err, "a rehash of the same password")
	assert.Equal(t, []string{authn.RoleAdmin}, roles(t, pair.AccessToken))
}

// hookedStore runs before its first transaction a hook standing for a
// change another request commits between a use case's reads and its writes.
type hookedStore struct {
	*sqlstore.Store
	before func()
}

func (s *hookedStore) InTx(ctx context.Context, fn func(tx service.Store) error) error {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.Store.InTx(ctx, fn)
}

func TestRefreshFollowsChangesCommittedBeforeItIssues(t *testing.T) {
	ctx := context.Background()
	in := service.LoginInput{Email: "ann@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"}
	for name, tc := range map[string]struct {
		change func(*account.User)
		check  func(t *testing.T, pair service.TokenPair, err error)
	}{
		"demoted": {demote, func(t *testing.T, pair service.TokenPair, err error) {
			require.NoError(t, err)
			assert.Equal(t, []string{authn.RolePatient}, roles(t, pair.AccessToken), "not the ADMIN role read before the demotion")
		}},
		"disabled": {disable, func(t *testing.T, _ service.TokenPair, err error) {
			assert.ErrorIs(t, err, account.ErrDisabled)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			deps, _, db := newDeps(t)
			st := sqlstore.New(db)
			hs := &hookedStore{Store: st}
			deps.Store = hs
			svc := service.New(deps, service.Config{})
			require.NoError(t, svc.Register(ctx, service.RegisterInput{Email: in.Email, Password: in.Password, FullName: "Ann"}))
			change(t, st, in.Email, func(u *account.User) { u.Roles = []string{authn.RoleAdmin} })
			first, err := svc.Login(ctx, in)
			require.NoError(t, err)
			require.Equal(t, []string{authn.RoleAdmin}, roles(t, first.AccessToken))

			hs.before = func() { change(t, st, in.Email, tc.change) }
			pair, err := svc.Refresh(ctx, first.RefreshToken)
			tc.check(t, pair, err)
		})
	}
}

// gatedTokens signs access tokens, and while armed holds the next Issue
// (called inside a refresh's transaction, after the successor token is
// inserted) until released: the refresh is then paused with its
// transaction open.
type gatedTokens struct {
	service.AccessTokens
	armed   chan struct{} // receives once per gated call
	inside  chan struct{}
	release chan struct{}
}

func (g *gatedTokens) Issue(a signing.Access) (string, time.Time, error) {
	select {
	case <-g.armed:
		g.inside <- struct{}{}
		<-g.release
	default:
	}
	return g.AccessTokens.Issue(a)
}

// waitForLockWait waits until another session of db's database waits for a
// lock (PostgreSQL, MySQL). On MySQL, which shows lock waits only to those
// with the PROCESS privilege, that is a statement taking a user's row or
// revoking refresh tokens: with the refresh paused holding both, it waits.
// SQLite runs one writer at a time, and the other waits in its busy
// handler, where nothing shows it.
func waitForLockWait(t *testing.T, db *sqldb.DB) {
	t.Helper()
	var q string
	switch db.Dialect {
	case sqldb.Postgres:
		q = `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
			AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`
	case sqldb.MySQL:
		q = `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()
			AND (INFO LIKE '%FOR UPDATE' OR INFO LIKE 'UPDATE refresh_tokens SET revoked_at%')`
	default:
		return
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		require.NoError(t, db.QueryRowContext(context.Background(), q).Scan(&n))
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the session's end never waited for the refresh under way")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A logout, or a replayed refresh token revoking its family, while a
// refresh of the same session is between the insert of its successor and
// its commit must still end the whole session: the successor that refresh
// hands out is refused afterwards. The refresh is held in its transaction
// until the session's end waits for a lock; then both finish.
func TestEndingASessionDuringARefreshRevokesTheSuccessor(t *testing.T) {
	for _, byReplay := range []bool{false, true} {
		name := "logout"
		if byReplay {
			name = "replayed token"
		}
		t.Run(name, func(t *testing.T) {
			sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
				endDuringRefresh(t, db, byReplay)
			})
		})
	}
}

func endDuringRefresh(t *testing.T, db *sqldb.DB, byReplay bool) {
	ctx := context.Background()
	ph, err := password.NewHasher(password.HasherOptions{Params: password.Cheap})
	require.NoError(t, err)
	clk := clocktest.New(time.Now().UTC().Truncate(time.Second))
	ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour, Now: clk.Now})
	_, err = ring.EnsureKey(ctx)
	require.NoError(t, err)
	gate := &gatedTokens{AccessTokens: ring, armed: make(chan struct{}, 1), inside: make(chan struct{}), release: make(chan struct{})}
	svc := service.New(service.Deps{
		Store: sqlstore.New(db), Hasher: ph, Policy: password.NewPolicy(),
		Throttle: throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, clk.Now),
		Tokens:   gate, Notifier: noMail{}, Clock: clk,
	}, service.Config{})
	registerPat(t, svc)
	pair, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)

	used := pair.RefreshToken
	if byReplay {
		// A thief refreshes first, and goes on refreshing; the owner's app
		// then presents the token the thief used.
		pair, err = svc.Refresh(ctx, used)
		require.NoError(t, err)
	}
	gate.armed <- struct{}{}
	type refreshed struct {
		pair service.TokenPair
		err  error
	}
	refreshDone := make(chan refreshed, 1)
	go func() {
		p, err := svc.Refresh(ctx, pair.RefreshToken)
		refreshDone <- refreshed{p, err}
	}()
	<-gate.inside // the old token is marked used, its successor inserted, nothing committed

	endDone := make(chan error, 1)
	go func() {
		if !byReplay {
			endDone <- svc.Logout(ctx, pair.RefreshToken)
			return
		}
		if _, err := svc.Refresh(ctx, used); !errors.Is(err, account.ErrRefreshReused) {
			endDone <- errors.New("the replayed token was not taken for a reuse")
			return
		}
		endDone <- nil
	}()
	waitForLockWait(t, db)
	close(gate.release)

	r := <-refreshDone
	require.NoError(t, <-endDone)
	if r.err != nil {
		return // the refresh lost to the session's end: nothing was handed out
	}
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL`).Scan(&n))
	assert.Zero(t, n, "refresh tokens of the ended session left unrevoked")
	_, err = svc.Refresh(ctx, r.pair.RefreshToken)
	assert.Error(t, err, "the successor of an ended session's token still refreshes")
}

// patLoggedIn is a service of the default configuration on a test clock,
// and the session pat opened by logging in.
func patLoggedIn(t *testing.T) (service.Service, *clocktest.Clock, service.TokenPair) {
	t.Helper()
	deps, _, _ := newDeps(t)
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)
	pair, err := svc.Login(context.Background(), service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	return svc, deps.Clock.(*clocktest.Clock), pair
}

// A sign-in session lasts -session-max-age from its login however often it
// is refreshed: each successor expires by then at the latest, and the
// password is asked again after it (OWASP ASVS 3.3.2). A refresh token used
// once a week would otherwise keep the session, or a thief's copy of it,
// for ever.
func TestASessionEndsAtItsMaxAgeHoweverOftenItIsRefreshed(t *testing.T) {
	ctx := context.Background()
	svc, clk, pair := patLoggedIn(t)
	var err error
	assert.Equal(t, 7*24*time.Hour, pair.RefreshExpiresIn)
	maxAge := service.DefaultConfig().SessionMaxAge
	end := clk.Now().Add(maxAge)
	for clk.Now().Add(6 * 24 * time.Hour).Before(end) {
		clk.Advance(6 * 24 * time.Hour)
		pair, err = svc.Refresh(ctx, pair.RefreshToken)
		require.NoError(t, err, "a refresh within the session's max age")
		assert.Equal(t, min(7*24*time.Hour, end.Sub(clk.Now())), pair.RefreshExpiresIn, "not past the session's end")
	}
	clk.Advance(end.Sub(clk.Now()))
	_, err = svc.Refresh(ctx, pair.RefreshToken)
	assert.ErrorIs(t, err, account.ErrInvalidRefresh, "a session past its max age still refreshes")

	// A new login starts a new session.
	pair, err = svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = svc.Refresh(ctx, pair.RefreshToken)
	require.NoError(t, err)
}

// A -session-max-age lowered after a token was issued ends its session at
// the new bound, though the token itself has not expired.
func TestALoweredSessionMaxAgeEndsTheSessionsAlreadyOpen(t *testing.T) {
	ctx := context.Background()
	deps, _, _ := newDeps(t)
	clk := deps.Clock.(*clocktest.Clock)
	registerPat(t, service.New(deps, service.Config{}))
	pair, err := service.New(deps, service.Config{}).Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	clk.Advance(2 * 24 * time.Hour)
	_, err = service.New(deps, service.Config{SessionMaxAge: 24 * time.Hour}).Refresh(ctx, pair.RefreshToken)
	assert.ErrorIs(t, err, account.ErrInvalidRefresh)
}

// A refresh that passes the session's end while it waits (here 2 s, for
// the user's row another request holds) is refused like one arriving
// after the end, not answered with a successor that expired before it was
// issued.
func TestARefreshReachingTheSessionsEndWhileItWaitsIsRefused(t *testing.T) {
	ctx := context.Background()
	deps, _, db := newDeps(t)
	clk := deps.Clock.(*clocktest.Clock)
	store := &hookedStore{Store: sqlstore.New(db)}
	deps.Store = store
	svc := service.New(deps, service.Config{SessionMaxAge: 24 * time.Hour})
	registerPat(t, svc)
	pair, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	clk.Advance(24*time.Hour - time.Second) // one second of the session left
	store.before = func() { clk.Advance(2 * time.Second) }
	_, err = svc.Refresh(ctx, pair.RefreshToken)
	assert.ErrorIs(t, err, account.ErrInvalidRefresh)
}

// A revocation is listed as long as the longest lived token a verifier
// accepts, not this instance's -access-ttl: a token issued under a longer
// lifetime, by an instance still running the old setting during a rolling
// upgrade or before a restart that shortened it, stays withdrawn as long as
// it lives.
func TestRevocationOutlivesTokensIssuedUnderALongerTTL(t *testing.T) {
	ctx := context.Background()
	deps, _, db := newDeps(t)
	clk := deps.Clock.(*clocktest.Clock)
	ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: 2 * time.Hour, Now: clk.Now,
		Issuer: authn.DefaultIssuer, Audience: authn.DefaultAudience})
	_, err := ring.EnsureKey(ctx)
	require.NoError(t, err)
	deps.Tokens = ring

	revs := authn.NewRevocationList(clk.Now)
	deps.Listener = listenerFunc(func(rs []authn.Revocation) { revs.Add(rs...) })
	verifier := authn.NewVerifier(func(context.Context) jwt.Keyfunc { return ring.Keyfunc },
		authn.Config{Now: clk.Now, CacheSize: -1, Revocations: revs})

	oldInstance := service.New(deps, service.Config{AccessTTL: time.Hour})
	newInstance := service.New(deps, service.Config{AccessTTL: 15 * time.Minute})
	registerPat(t, oldInstance)

	// A thief holds Pat's token, issued under the 60-minute lifetime.
	stolen, err := oldInstance.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	p, err := verifier.Verify(ctx, stolen.AccessToken)
	require.NoError(t, err)

	// Pat changes the password on an instance running the 15-minute lifetime.
	clk.Advance(time.Minute)
	_, err = newInstance.ChangePassword(ctx, p, service.ChangePasswordInput{CurrentPassword: "violet tram cupboard",
		NewPassword: "amber kettle lantern", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	_, err = verifier.Verify(ctx, stolen.AccessToken)
	require.ErrorIs(t, err, authn.ErrRevoked, "withdrawn at once")

	clk.Advance(58 * time.Minute)
	revs.Prune()
	_, err = verifier.Verify(ctx, stolen.AccessToken)
	require.ErrorIs(t, err, authn.ErrRevoked, "59 minutes after login the token still lives; its revocation must still hold")
}

// listenerFunc hands the revocations auth commits to f.
type listenerFunc func([]authn.Revocation)

func (f listenerFunc) Revoked(rs []authn.Revocation) { f(rs) }

// A logout withdraws the access tokens of its session with one entry of
// the revocation feed; a logout of a session already ended, or a replayed
// refresh token of one, writes none, so that replays cannot grow the feed
// every verifier reads.
func TestEndingAnEndedSessionWritesNoRevocation(t *testing.T) {
	ctx := context.Background()
	deps, _, _ := newDeps(t)
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)
	feed := func() []authn.Revocation {
		t.Helper()
		rs, _, err := deps.Store.Revocations().After(ctx, 0, deps.Clock.Now(), 1000)
		require.NoError(t, err)
		return rs
	}
	first, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	second, err := svc.Refresh(ctx, first.RefreshToken)
	require.NoError(t, err)

	require.NoError(t, svc.Logout(ctx, second.RefreshToken))
	rs := feed()
	require.Len(t, rs, 1, "the logout withdraws its session's access tokens")
	assert.NotEmpty(t, rs[0].SessionID)
	assert.Equal(t, authn.DefaultMaxLifetime+30*time.Second, rs[0].ExpiresAt.Sub(rs[0].NotBefore),
		"listed as long as the longest lived token a verifier accepts, and the verifiers' leeway")

	require.NoError(t, svc.Logout(ctx, second.RefreshToken))
	require.NoError(t, svc.Logout(ctx, first.RefreshToken))
	_, err = svc.Refresh(ctx, first.RefreshToken)
	assert.ErrorIs(t, err, account.ErrInvalidRefresh, "a token of an ended session is invalid, not a replay")
	assert.Len(t, feed(), 1, "an ended session's logouts and replays wrote to the feed")
}

// A refresh token is refused from the instant it expires on.
func TestARefreshTokenIsRefusedAtItsExpiry(t *testing.T) {
	ctx := context.Background()
	svc, clk, pair := patLoggedIn(t)
	clk.Advance(pair.RefreshExpiresIn - time.Microsecond)
	pair, err := svc.Refresh(ctx, pair.RefreshToken)
	require.NoError(t, err, "a moment before its expiry")
	clk.Advance(pair.RefreshExpiresIn)
	_, err = svc.Refresh(ctx, pair.RefreshToken)
	assert.ErrorIs(t, err, account.ErrInvalidRefresh, "at its expiry")
}
