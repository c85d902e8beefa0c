package service_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

// A token outlives the disabling of its account at a verifier the
// revocation has not reached yet: the service reads the stored account, and
// a disabled one reads its profile, changes its password and administers
// nothing, whatever roles its token claims.
func TestADisabledAccountsTokenIsRefusedByTheService(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := newAdminService(t)
	admin, asAnn := ann(t, st)
	change(t, st, "ann@example.org", disable)

	_, err := svc.Me(ctx, asAnn)
	assert.ErrorIs(t, err, account.ErrDisabled, "me")
	_, err = svc.ChangePassword(ctx, asAnn, service.ChangePasswordInput{
		CurrentPassword: "violet tram cupboard", NewPassword: "amber kettle horizon", ClientIP: "192.0.2.1",
	})
	assert.ErrorIs(t, err, account.ErrDisabled, "password change")
	_, err = svc.ListUsers(ctx, asAnn, service.ListUsersInput{})
	assert.ErrorIs(t, err, account.ErrDisabled, "list users")
	_, err = svc.GetUser(ctx, asAnn, admin.ID)
	assert.ErrorIs(t, err, account.ErrDisabled, "get user")

	stored, err := st.Users().ByID(ctx, admin.ID)
	require.NoError(t, err)
	assert.Equal(t, admin.PasswordHash, stored.PasswordHash, "the password is unchanged")
}

// Every administration use case reads the caller's roles from the store:
// an administrator demoted since their token was issued, whose token still
// claims ADMIN, lists, reads, changes, creates and announces nothing.
func TestADemotedAdministratorsTokenAdministersNothing(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := newAdminService(t)
	registerPat(t, svc)
	_, asAnn := ann(t, st)
	pat, err := st.Users().ByEmail(ctx, "pat@example.org")
	require.NoError(t, err)
	change(t, st, "ann@example.org", func(u *account.User) { u.Roles = []string{authn.RoleDoctor} })

	_, err = svc.ListUsers(ctx, asAnn, service.ListUsersInput{})
	assert.ErrorIs(t, err, account.ErrForbidden, "list users")
	_, err = svc.GetUser(ctx, asAnn, pat.ID)
	assert.ErrorIs(t, err, account.ErrForbidden, "get user")
	admin := []string{authn.RoleAdmin}
	_, err = svc.UpdateUser(ctx, asAnn, service.UpdateUserInput{ID: pat.ID, Roles: &admin})
	assert.ErrorIs(t, err, account.ErrForbidden, "update user")
	_, err = svc.CreateUser(ctx, asAnn, service.CreateUserInput{
		Email: "eve@example.org", Password: "another long passphrase", FullName: "Eve", Roles: admin})
	assert.ErrorIs(t, err, account.ErrForbidden, "create user")
	_, err = svc.AnnounceUsers(ctx, asAnn, service.AnnounceUsersInput{})
	assert.ErrorIs(t, err, account.ErrForbidden, "announce users")

	stored, err := st.Users().ByID(ctx, pat.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{authn.RolePatient}, stored.Roles, "Pat's roles are unchanged")
	_, err = st.Users().ByEmail(ctx, "eve@example.org")
	assert.ErrorIs(t, err, account.ErrNotFound, "no account was created")
}

// Disabling an account ends its sessions for good: enabled again, the
// account's refresh tokens from before stay dead and its owner signs in
// afresh.
func TestDisablingEndsTheSessionsEvenOnceEnabledAgain(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := newAdminService(t)
	registerPat(t, svc)
	_, asAnn := ann(t, st)
	pair, err := svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	require.NoError(t, err)
	pat, err := st.Users().ByEmail(ctx, "pat@example.org")
	require.NoError(t, err)

	off, on := true, false
	_, err = svc.UpdateUser(ctx, asAnn, service.UpdateUserInput{ID: pat.ID, Disabled: &off})
	require.NoError(t, err)
	_, err = svc.UpdateUser(ctx, asAnn, service.UpdateUserInput{ID: pat.ID, Disabled: &on})
	require.NoError(t, err)

	_, err = svc.Refresh(ctx, pair.RefreshToken)
	assert.ErrorIs(t, err, account.ErrInvalidRefresh, "a session from before the disabling resumed")
	_, err = svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "violet tram cupboard", ClientIP: "192.0.2.1"})
	assert.NoError(t, err, "the owner signs in again")
}

// A reset uses up its link and voids the account's other outstanding
// links: each one sent proves control of the mailbox once, and the second
// must not set the password again after the owner chose a new one.
func TestAResetVoidsTheAccountsOtherLinks(t *testing.T) {
	ctx := context.Background()
	deps, _, _ := newDeps(t)
	mail := &keptResets{}
	deps.Notifier = mail
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)
	require.NoError(t, svc.ForgotPassword(ctx, "pat@example.org"))
	require.NoError(t, svc.ForgotPassword(ctx, "pat@example.org"))
	require.Len(t, mail.tokens, 2)

	require.NoError(t, svc.ResetPassword(ctx, mail.tokens[0], "amber kettle horizon"))
	err := svc.ResetPassword(ctx, mail.tokens[1], "a thiefs new passphrase")
	assert.ErrorIs(t, err, account.ErrInvalidReset, "the other link still set the password")
	_, err = svc.Login(ctx, service.LoginInput{Email: "pat@example.org", Password: "amber kettle horizon", ClientIP: "192.0.2.1"})
	assert.NoError(t, err, "the password of the first reset stays")
}

// A used or expired link is answered as a dead link (400 naming token)
// whatever new password comes with it, and costs no hashing.
func TestADeadResetLinkIsRefusedBeforeTheNewPassword(t *testing.T) {
	ctx := context.Background()
	deps, ch, _ := newDeps(t)
	mail := &keptResets{}
	deps.Notifier = mail
	clk := deps.Clock.(*clocktest.Clock)
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)
	require.NoError(t, svc.ForgotPassword(ctx, "pat@example.org"))
	require.NoError(t, svc.ResetPassword(ctx, mail.tokens[0], "amber kettle horizon"))
	require.NoError(t, svc.ForgotPassword(ctx, "pat@example.org"))
	require.Len(t, mail.tokens, 2)
	clk.Advance(service.DefaultConfig().ResetTTL)

	hashed := ch.hash.Load()
	for name, tok := range map[string]string{"used": mail.tokens[0], "expired": mail.tokens[1]} {
		for _, pw := range []string{"short", "a perfectly good passphrase"} {
			err := svc.ResetPassword(ctx, tok, pw)
			assert.ErrorIs(t, err, account.ErrInvalidReset, "%s link, new password %q", name, pw)
		}
	}
	assert.Equal(t, hashed, ch.hash.Load(), "a dead link cost hashing")
}
