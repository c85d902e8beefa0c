package service_test

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
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
