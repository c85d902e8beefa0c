package service_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// countingHasher records how much hashing work each call costs.
type countingHasher struct {
	*password.Hasher
	verify, dummy, hash atomic.Int32
}

func (h *countingHasher) Hash(ctx context.Context, pw string) (string, error) {
	h.hash.Add(1)
	return h.Hasher.Hash(ctx, pw)
}

func (h *countingHasher) Verify(ctx context.Context, pw, enc string) (bool, bool, error) {
	h.verify.Add(1)
	return h.Hasher.Verify(ctx, pw, enc)
}

func (h *countingHasher) VerifyDummy(ctx context.Context, pw string) error {
	h.dummy.Add(1)
	return h.Hasher.VerifyDummy(ctx, pw)
}

type noMail struct{}

func (noMail) PasswordReset(context.Context, service.PasswordReset) error { return nil }
func (noMail) AccountExists(context.Context, service.AccountExists) error { return nil }

// newDeps returns the dependencies of a service on a fresh SQLite database:
// cheap hashing that counts its work, a fixed clock, one signing key and no
// mail. Tests change what they need before service.New.
func newDeps(t *testing.T) (service.Deps, *countingHasher, *sqldb.DB) {
	t.Helper()
	db := sqltest.SQLite(t, sqlstore.Migrations())
	deps, h := newDepsOn(t, db)
	return deps, h, db
}

// newDepsOn is newDeps on a database the test chose.
func newDepsOn(t *testing.T, db *sqldb.DB) (service.Deps, *countingHasher) {
	t.Helper()
	ph, err := password.NewHasher(password.HasherOptions{Params: password.Cheap})
	require.NoError(t, err)
	h := &countingHasher{Hasher: ph}
	clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour, Now: clk.Now})
	_, err = ring.EnsureKey(context.Background())
	require.NoError(t, err)
	return service.Deps{
		Store: sqlstore.New(db), Hasher: h, Policy: password.NewPolicy(),
		Throttle: throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, clk.Now),
		Tokens:   ring, Notifier: noMail{}, Clock: clk,
	}, h
}

func newService(t *testing.T) (service.Service, *countingHasher) {
	t.Helper()
	deps, h, _ := newDeps(t)
	return service.New(deps, service.Config{}), h
}

// registerPat registers the patient Pat, pat@example.org with the password
// "violet tram cupboard".
func registerPat(t *testing.T, svc service.Service) {
	t.Helper()
	require.NoError(t, svc.Register(context.Background(), service.RegisterInput{
		Email: "pat@example.org", Password: "violet tram cupboard", FullName: "Pat",
	}))
}

func TestLoginSpendsOneHashWhateverTheOutcome(t *testing.T) {
	ctx := context.Background()
	svc, h := newService(t)
	registerPat(t, svc)

	_, err := svc.Login(ctx, service.LoginInput{Email: "ghost@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	assert.ErrorIs(t, err, account.ErrInvalidCredentials)
	assert.EqualValues(t, 1, h.dummy.Load(), "an unknown email costs one verification")
	assert.EqualValues(t, 0, h.verify.Load())

	_, err = svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "wrong password!", ClientIP: "192.0.2.1"})
	assert.ErrorIs(t, err, account.ErrInvalidCredentials)
	assert.EqualValues(t, 1, h.verify.Load(), "a wrong password costs one verification")

	_, err = svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	assert.EqualValues(t, 2, h.verify.Load())
	assert.EqualValues(t, 1, h.hash.Load(), "no rehash at unchanged parameters")
}

func TestThrottledLoginsCostNoHashing(t *testing.T) {
	ctx := context.Background()
	svc, h := newService(t)
	for i := 0; i < 6; i++ {
		_, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "guess guess", ClientIP: "192.0.2.1"})
		require.ErrorIs(t, err, account.ErrInvalidCredentials)
	}
	before := h.dummy.Load() + h.verify.Load()
	_, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "guess guess", ClientIP: "192.0.2.1"})
	var thr *service.ThrottledError
	require.ErrorAs(t, err, &thr)
	assert.Equal(t, time.Second, thr.RetryAfter)
	assert.Equal(t, before, h.dummy.Load()+h.verify.Load(), "refused before any hashing")
}

func TestRegisterAnswersATakenAddressLikeANewOne(t *testing.T) {
	ctx := context.Background()
	deps, h, db := newDeps(t)
	q, mail := deferred(&deps)
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)
	assert.EqualValues(t, 1, h.hash.Load())
	assert.Empty(t, q.jobs)

	err := svc.Register(ctx, service.RegisterInput{Email: "PAT@example.org", Password: "amber kettle horizon", FullName: "Mallory"})
	require.NoError(t, err, "the same answer as for a new address")
	assert.EqualValues(t, 2, h.hash.Load(), "the same hashing work as for a new address")
	assert.Empty(t, mail.exists, "nothing is delivered before the answer")
	require.Len(t, q.jobs, 1)
	q.jobs[0]()
	require.Len(t, mail.exists, 1, "then the owner hears of it")
	assert.Equal(t, "pat@example.org", mail.exists[0].Email)
	assert.Equal(t, "Pat", mail.exists[0].FullName, "the account is left as it was")
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM users`).Scan(&n))
	assert.Equal(t, 1, n)

	var fe domainerr.FieldErrors
	require.ErrorAs(t, svc.Register(ctx, service.RegisterInput{Email: "pat@example.org", Password: "short", FullName: "Pat"}), &fe,
		"an invalid request is still a 400, for a taken address too")
}

// userID signs in and returns the subject of the access token.
func userID(t *testing.T, svc service.Service, email, pw string) string {
	t.Helper()
	pair, err := svc.Login(context.Background(), service.LoginInput{Email: email, Password: pw, ClientIP: "192.0.2.200"})
	require.NoError(t, err)
	var c jwt.RegisteredClaims
	_, _, err = jwt.NewParser().ParseUnverified(pair.AccessToken, &c)
	require.NoError(t, err)
	return c.Subject
}

func TestCursorRoundTrip(t *testing.T) {
	id := "0190a4d2-0000-7000-8000-000000000001"
	got, err := service.DecodeUserCursor(page.EncodeCursor(id))
	require.NoError(t, err)
	assert.Equal(t, id, got)
	got, err = service.DecodeUserCursor("")
	require.NoError(t, err)
	assert.Empty(t, got)
	for _, c := range []string{"***", page.EncodeCursor("not-a-uuid"), page.EncodeCursor(id + "x"),
		page.EncodeCursor(strings.ToUpper(id)), page.EncodeCursor(7)} {
		_, err := service.DecodeUserCursor(c)
		assert.Equal(t, error(page.ErrCursor), err, c)
	}
}

// reentrantHasher runs during its first verification a hook standing for a
// request that arrives while that verification is under way.
type reentrantHasher struct {
	*countingHasher
	during func()
}

func (h *reentrantHasher) Verify(ctx context.Context, pw, enc string) (bool, bool, error) {
	if f := h.during; f != nil {
		h.during = nil
		f()
	}
	return h.countingHasher.Verify(ctx, pw, enc)
}

func (h *reentrantHasher) VerifyDummy(ctx context.Context, pw string) error {
	if f := h.during; f != nil {
		h.during = nil
		f()
	}
	return h.countingHasher.VerifyDummy(ctx, pw)
}

func TestParallelGuessesCannotOutrunTheThrottle(t *testing.T) {
	ctx := context.Background()
	deps, counting, _ := newDeps(t)
	h := &reentrantHasher{countingHasher: counting}
	deps.Hasher = h
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)

	guess := func(ip string) error {
		_, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "guess guess", ClientIP: ip})
		return err
	}
	for i := 0; i < throttle.DefaultAccount.Free-1; i++ {
		require.ErrorIs(t, guess(fmt.Sprintf("192.0.2.%d", i)), account.ErrInvalidCredentials)
	}
	// The last free guess is being hashed when another, from elsewhere,
	// arrives: it must wait for the outcome rather than be hashed too.
	var parallel error
	h.during = func() { parallel = guess("198.51.100.1") }
	before := h.verify.Load()
	require.ErrorIs(t, guess("192.0.2.99"), account.ErrInvalidCredentials)
	var thr *service.ThrottledError
	require.ErrorAs(t, parallel, &thr)
	assert.Equal(t, before+1, h.verify.Load(), "only the first of the two was hashed")
}

// queue is a Background that keeps the work for the test to run.
type queue struct{ jobs []func() }

func (q *queue) Go(ctx context.Context, fn func(context.Context)) bool {
	q.jobs = append(q.jobs, func() { fn(ctx) })
	return true
}

// deferred makes deps hand their deliveries to a queue that the test runs
// by hand, and deliver into an outbox.
func deferred(deps *service.Deps) (*queue, *outbox) {
	q, mail := &queue{}, &outbox{}
	deps.Notifier, deps.Background = mail, q
	return q, mail
}

type outbox struct {
	sent   []service.PasswordReset
	exists []service.AccountExists
}

func (o *outbox) AccountExists(_ context.Context, a service.AccountExists) error {
	o.exists = append(o.exists, a)
	return nil
}

func (o *outbox) PasswordReset(_ context.Context, r service.PasswordReset) error {
	o.sent = append(o.sent, r)
	return nil
}

func TestForgotPasswordDoesTheSameBeforeAnsweringWhateverTheAddress(t *testing.T) {
	ctx := context.Background()
	deps, _, db := newDeps(t)
	q, mail := deferred(&deps)
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)
	u := userID(t, svc, "pat@example.org", "violet tram cupboard")

	require.NoError(t, svc.ForgotPassword(ctx, "pat@example.org"))
	require.NoError(t, svc.ForgotPassword(ctx, "ghost@example.org"))
	assert.Empty(t, mail.sent, "nothing is delivered before the answer")
	assert.Len(t, q.jobs, 2, "both addresses defer the same work")
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM reset_tokens`).Scan(&n))
	assert.Zero(t, n, "no token is written before the answer")

	for _, job := range q.jobs {
		job()
	}
	require.Len(t, mail.sent, 1, "then the account's owner gets the link")
	assert.Equal(t, u, mail.sent[0].UserID)

	var fe domainerr.FieldErrors
	assert.ErrorAs(t, svc.ForgotPassword(ctx, "not an address"), &fe, "a malformed address is still a 400")
}

// guessCurrentPassword sends actor's change form wrong current passwords
// from 192.0.2.1, the account's free failures and one more, which starts
// the address's block; each is refused as a wrong currentPassword.
func guessCurrentPassword(t *testing.T, svc service.Service, actor authn.Principal) {
	t.Helper()
	for i := 0; i <= throttle.DefaultAccount.Free; i++ {
		_, err := svc.ChangePassword(context.Background(), actor, service.ChangePasswordInput{
			CurrentPassword: fmt.Sprintf("guess number %d", i), NewPassword: "amber kettle horizon", ClientIP: "192.0.2.1",
		})
		var fe domainerr.FieldErrors
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "currentPassword", fe[0].Field)
	}
}

func TestWrongCurrentPasswordCountsTowardTheLoginThrottle(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t)
	registerPat(t, svc)
	u := userID(t, svc, "pat@example.org", "violet tram cupboard")
	actor := authn.Principal{UserID: u, Roles: []string{authn.RolePatient}}
	// A stolen access token guessing the password through the change form
	// spends the same allowance as guesses at the login.
	// The free failures, then one more that starts the block.
	guessCurrentPassword(t, svc, actor)
	_, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	var thr *service.ThrottledError
	require.ErrorAs(t, err, &thr, "the guessing address is throttled on the account, even for the right password")
	assert.Positive(t, thr.RetryAfter)
}

// After a password change only the address that changed it stays known to
// the account: a thief's, which logged in with the old password, waits out
// the account's block like any other while it guesses the new one.
func TestAPasswordChangeForgetsTheAddressesThatKnewTheOldPassword(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t)
	registerPat(t, svc)
	const thief, owner = "203.0.113.66", "192.0.2.1"
	_, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: thief})
	require.NoError(t, err)
	u := userID(t, svc, "pat@example.org", "violet tram cupboard")
	actor := authn.Principal{UserID: u, Roles: []string{authn.RolePatient}}
	_, err = svc.ChangePassword(ctx, actor, service.ChangePasswordInput{
		CurrentPassword: "violet tram cupboard", NewPassword: "amber kettle horizon", ClientIP: owner,
	})
	require.NoError(t, err)
	for i := 0; i <= throttle.DefaultAccount.Free; i++ {
		_, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "a wrong guess!", ClientIP: fmt.Sprintf("198.51.100.%d", i)})
		require.ErrorIs(t, err, account.ErrInvalidCredentials)
	}
	_, err = svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "another guess", ClientIP: thief})
	var thr *service.ThrottledError
	assert.ErrorAs(t, err, &thr, "the thief's address waits the account's block out")
	_, err = svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "amber kettle horizon", ClientIP: owner})
	assert.NoError(t, err, "the owner's passes")
}

// barrierStore is the SQL store whose next n transactions each wait, before
// they begin, until all n have been asked for: the requests making them
// have all done what they do before their transaction.
type barrierStore struct {
	*sqlstore.Store
	mu      sync.Mutex
	waiting int
	all     chan struct{}
}

func (b *barrierStore) InTx(ctx context.Context, fn func(tx service.Store) error) error {
	b.mu.Lock()
	if b.all != nil {
		b.waiting--
		all := b.all
		if b.waiting == 0 {
			close(all)
			b.all = nil
		}
		b.mu.Unlock()
		<-all
	} else {
		b.mu.Unlock()
	}
	return b.Store.InTx(ctx, fn)
}

func (b *barrierStore) arm(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting, b.all = n, make(chan struct{})
}

// Two administrators who each take the other's ADMIN role, or disable the
// other, at the same moment leave one administrator: the second change
// finds its caller no longer one and is refused, as it would one after the
// other. Both requests check their caller before either writes; the
// store's barrier holds each at its transaction until both have.
func TestTwoAdminsDemotingEachOtherAtOnceLeaveAnAdmin(t *testing.T) {
	for _, change := range []struct {
		name string
		in   func(id string) service.UpdateUserInput
	}{
		{"demote", func(id string) service.UpdateUserInput {
			return service.UpdateUserInput{ID: id, Roles: &[]string{authn.RoleDoctor}}
		}},
		{"disable", func(id string) service.UpdateUserInput {
			off := true
			return service.UpdateUserInput{ID: id, Disabled: &off}
		}},
	} {
		t.Run(change.name, func(t *testing.T) {
			sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
				ctx := context.Background()
				store := &barrierStore{Store: sqlstore.New(db)}
				svc, asAlice, asBob := twoAdmins(t, db, store)
				alice, bob := asAlice.UserID, asBob.UserID

				store.arm(2)
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i, p := range []struct {
					actor  authn.Principal
					target string
				}{{asAlice, bob}, {asBob, alice}} {
					wg.Go(func() { _, errs[i] = svc.UpdateUser(ctx, p.actor, change.in(p.target)) })
				}
				wg.Wait()

				admins := 0
				for _, id := range []string{alice, bob} {
					u, err := store.Users().ByID(ctx, id)
					require.NoError(t, err)
					if u.Has(authn.RoleAdmin) && !u.Disabled {
						admins++
					}
				}
				assert.Equal(t, 1, admins, "active administrators left (alice: %v, bob: %v)", errs[0], errs[1])
				refused := errs[0]
				if refused == nil {
					refused = errs[1]
				}
				if change.name == "demote" {
					assert.ErrorIs(t, refused, account.ErrForbidden)
				} else {
					assert.ErrorIs(t, refused, account.ErrDisabled)
				}
			})
		})
	}
}

// An administrator demoted or disabled while their POST /users hashes the
// new password (some 100 ms with the real parameters) creates no account:
// the caller is checked again under the lock of their row as the account
// is inserted, so that the role they lost does not live on in an account
// they made.
func TestAnAdminDemotedWhileCreatingAUserCreatesNone(t *testing.T) {
	for _, change := range []struct {
		name string
		in   func(id string) service.UpdateUserInput
		want error
	}{
		{"demoted", func(id string) service.UpdateUserInput {
			return service.UpdateUserInput{ID: id, Roles: &[]string{authn.RoleDoctor}}
		}, account.ErrForbidden},
		{"disabled", func(id string) service.UpdateUserInput {
			off := true
			return service.UpdateUserInput{ID: id, Disabled: &off}
		}, account.ErrDisabled},
	} {
		t.Run(change.name, func(t *testing.T) {
			sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
				ctx := context.Background()
				store := &hookedStore{Store: sqlstore.New(db)}
				svc, asAlice, asBob := twoAdmins(t, db, store)
				bob := asBob.UserID

				store.before = func() { // Alice changes Bob while his request hashes
					_, err := svc.UpdateUser(ctx, asAlice, change.in(bob))
					require.NoError(t, err)
				}
				_, err := svc.CreateUser(ctx, asBob, service.CreateUserInput{
					Email: "bob2@example.org", Password: "another long passphrase", FullName: "Bob 2", Roles: []string{authn.RoleAdmin}})
				assert.ErrorIs(t, err, change.want)
				_, err = store.Users().ByEmail(ctx, "bob2@example.org")
				assert.ErrorIs(t, err, account.ErrNotFound, "no account was created")
			})
		})
	}
}

// keptResets keeps the reset links the service hands the notifier.
type keptResets struct {
	noMail
	mu     sync.Mutex
	tokens []string
}

func (k *keptResets) PasswordReset(_ context.Context, r service.PasswordReset) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.tokens = append(k.tokens, r.Token)
	return nil
}

// Disabling an account voids its reset links, so that none sets a password
// once the account is enabled again. A reset requested as an administrator
// disables the account reads it enabled, and comes to store its link after
// the disabling committed: it then stores none, as it would one after the
// other.
func TestAResetRequestedWhileTheAccountIsDisabledLeavesNoLink(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ph, err := password.NewHasher(password.HasherOptions{Params: password.Cheap})
		require.NoError(t, err)
		clk := clocktest.New(time.Now().UTC().Truncate(time.Second))
		ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour, Now: clk.Now})
		_, err = ring.EnsureKey(ctx)
		require.NoError(t, err)
		store := &hookedStore{Store: sqlstore.New(db)}
		mail := &keptResets{}
		deps := service.Deps{
			Store: store, Hasher: ph, Policy: password.NewPolicy(),
			Throttle: throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, clk.Now),
			Tokens:   ring, Notifier: mail, Clock: clk,
		}
		_, err = service.Bootstrap(ctx, deps, "alice@example.org", "correct horse battery")
		require.NoError(t, err)
		svc := service.New(deps, service.Config{})
		alice, err := store.Users().ByEmail(ctx, "alice@example.org")
		require.NoError(t, err)
		asAlice := authn.Principal{UserID: alice.ID, Roles: []string{authn.RoleAdmin}}
		registerPat(t, svc)
		pat, err := store.Users().ByEmail(ctx, "pat@example.org")
		require.NoError(t, err)

		off, on := true, false
		store.before = func() { // the administrator disables Pat meanwhile
			_, err := svc.UpdateUser(ctx, asAlice, service.UpdateUserInput{ID: pat.ID, Disabled: &off})
			require.NoError(t, err)
		}
		require.NoError(t, svc.ForgotPassword(ctx, "pat@example.org"))

		var live int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM reset_tokens WHERE user_id = ? AND used_at IS NULL`, pat.ID).Scan(&live))
		assert.Zero(t, live, "reset links of the disabled account left usable")

		// Enabled again, later: no link from before sets the password.
		_, err = svc.UpdateUser(ctx, asAlice, service.UpdateUserInput{ID: pat.ID, Disabled: &on})
		require.NoError(t, err)
		mail.mu.Lock()
		links := append([]string(nil), mail.tokens...)
		mail.mu.Unlock()
		for _, tok := range links {
			err := svc.ResetPassword(ctx, tok, "a brand new passphrase")
			assert.Error(t, err, "a reset link requested while the account was being disabled set its password")
		}
	})
}

// twoAdmins serves the service over store, db's store as a test wraps it,
// with two administrators: Alice, the first, and Bob, whom she made.
func twoAdmins(t *testing.T, db *sqldb.DB, store service.Store) (svc service.Service, alice, bob authn.Principal) {
	t.Helper()
	ctx := context.Background()
	ph, err := password.NewHasher(password.HasherOptions{Params: password.Cheap})
	require.NoError(t, err)
	clk := clocktest.New(time.Now().UTC().Truncate(time.Second))
	ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour, Now: clk.Now})
	_, err = ring.EnsureKey(ctx)
	require.NoError(t, err)
	deps := service.Deps{
		Store: store, Hasher: ph, Policy: password.NewPolicy(),
		Throttle: throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, clk.Now),
		Tokens:   ring, Notifier: noMail{}, Clock: clk,
	}
	_, err = service.Bootstrap(ctx, deps, "alice@example.org", "correct horse battery")
	require.NoError(t, err)
	svc = service.New(deps, service.Config{})
	a, err := store.Users().ByEmail(ctx, "alice@example.org")
	require.NoError(t, err)
	alice = authn.Principal{UserID: a.ID, Roles: []string{authn.RoleAdmin}}
	b, err := svc.CreateUser(ctx, alice, service.CreateUserInput{
		Email: "bob@example.org", Password: "tardis blue box", FullName: "Bob", Roles: []string{authn.RoleAdmin}})
	require.NoError(t, err)
	return svc, alice, authn.Principal{UserID: b.ID, Roles: []string{authn.RoleAdmin}}
}

// The change form is throttled as the login is: once the wrong current
// passwords block the address on the account, a further change waits the
// block out, with no hashing, even with the right password.
func TestAPasswordChangeWaitsOutTheBlockOfItsGuesses(t *testing.T) {
	ctx := context.Background()
	svc, h := newService(t)
	registerPat(t, svc)
	u := userID(t, svc, "pat@example.org", "violet tram cupboard")
	actor := authn.Principal{UserID: u, Roles: []string{authn.RolePatient}}
	guessCurrentPassword(t, svc, actor)
	verified := h.verify.Load()
	_, err := svc.ChangePassword(ctx, actor, service.ChangePasswordInput{
		CurrentPassword: "violet tram cupboard", NewPassword: "amber kettle horizon", ClientIP: "192.0.2.1",
	})
	var thr *service.ThrottledError
	require.ErrorAs(t, err, &thr, "a blocked change form keeps guessing")
	assert.Positive(t, thr.RetryAfter)
	assert.Equal(t, verified, h.verify.Load(), "a throttled change costs no hashing")
}

// A page that holds the last users, however full, has no next cursor: a
// client stops there rather than asking for an empty page.
func TestAFullLastPageOfUsersHasNoNextCursor(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := newAdminService(t)
	registerPat(t, svc)
	_, asAnn := ann(t, st)

	p, err := svc.ListUsers(ctx, asAnn, service.ListUsersInput{Limit: 2})
	require.NoError(t, err)
	assert.Len(t, p.Items, 2)
	assert.Empty(t, p.NextCursor, "both users fill the one page")

	p, err = svc.ListUsers(ctx, asAnn, service.ListUsersInput{Limit: 1})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	require.NotEmpty(t, p.NextCursor)
	p, err = svc.ListUsers(ctx, asAnn, service.ListUsersInput{Limit: 1, Cursor: p.NextCursor})
	require.NoError(t, err)
	assert.Len(t, p.Items, 1)
	assert.Empty(t, p.NextCursor, "the second page of one is the last")
}

// A current password longer than any the policy accepts is answered
// incorrect before any hashing, as the login answers one, and spends none
// of the throttle's allowance.
func TestAnOverlongCurrentPasswordIsIncorrectWithoutHashing(t *testing.T) {
	ctx := context.Background()
	svc, h := newService(t)
	registerPat(t, svc)
	u := userID(t, svc, "pat@example.org", "violet tram cupboard")
	actor := authn.Principal{UserID: u, Roles: []string{authn.RolePatient}}
	verified := h.verify.Load()
	for i := 0; i <= throttle.DefaultAccount.Free; i++ {
		_, err := svc.ChangePassword(ctx, actor, service.ChangePasswordInput{
			CurrentPassword: strings.Repeat("x", password.MaxLength+1), NewPassword: "amber kettle horizon", ClientIP: "192.0.2.1",
		})
		var fe domainerr.FieldErrors
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "currentPassword", fe[0].Field)
	}
	assert.Equal(t, verified, h.verify.Load(), "an over-long current password was hashed")
	_, err := svc.ChangePassword(ctx, actor, service.ChangePasswordInput{
		CurrentPassword: "violet tram cupboard", NewPassword: "amber kettle horizon", ClientIP: "192.0.2.1",
	})
	assert.NoError(t, err, "the refused attempts counted as failures")
}

// A login with a password longer than any the policy accepts is a 400
// naming password, answered before any hashing.
func TestAnOverlongLoginPasswordIsRefusedWithoutHashing(t *testing.T) {
	ctx := context.Background()
	svc, h := newService(t)
	registerPat(t, svc)
	verified, dummies := h.verify.Load(), h.dummy.Load()
	for _, email := range []string{"pat@example.org", "nobody@example.org"} {
		_, err := svc.Login(ctx, service.LoginInput{Email: email, Password: strings.Repeat("x", password.MaxLength+1), ClientIP: "192.0.2.1"})
		var fe domainerr.FieldErrors
		require.ErrorAs(t, err, &fe, email)
		assert.Equal(t, "password", fe[0].Field, email)
	}
	assert.Equal(t, verified, h.verify.Load(), "no password was checked")
	assert.Equal(t, dummies, h.dummy.Load(), "no dummy hash was checked")
}
