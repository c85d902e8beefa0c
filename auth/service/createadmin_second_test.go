package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// The caller of a change is checked again under its lock (9ffa11f), but
// only for PATCH /users. An administrator demoted while their
// POST /users (hashing the new password, ~100 ms with the real
// parameters) is under way still creates an ADMIN account afterwards: the
// demoted administrator keeps the role through the account they made.
func TestSecondADemotedAdminCannotCreateAnAdminMeanwhile(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ph, err := password.NewHasher(password.HasherOptions{Params: password.Cheap})
		require.NoError(t, err)
		clk := clocktest.New(time.Now().UTC().Truncate(time.Second))
		ring := signing.NewRing(sqlstore.NewKeys(db), signing.Options{Retention: time.Hour, Now: clk.Now})
		_, err = ring.EnsureKey(ctx)
		require.NoError(t, err)
		store := &hookedStore{Store: sqlstore.New(db)}
		deps := service.Deps{
			Store: store, Hasher: ph, Policy: password.NewPolicy(),
			Throttle: throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, clk.Now),
			Tokens:   ring, Notifier: noMail{}, Clock: clk,
		}
		_, err = service.Bootstrap(ctx, deps, "alice@example.org", "correct horse battery")
		require.NoError(t, err)
		svc := service.New(deps, service.Config{})
		alice, err := store.Users().ByEmail(ctx, "alice@example.org")
		require.NoError(t, err)
		asAlice := authn.Principal{UserID: alice.ID, Roles: []string{authn.RoleAdmin}}
		bob, err := svc.CreateUser(ctx, asAlice, service.CreateUserInput{
			Email: "bob@example.org", Password: "tardis blue box", FullName: "Bob", Roles: []string{authn.RoleAdmin}})
		require.NoError(t, err)
		asBob := authn.Principal{UserID: bob.ID, Roles: []string{authn.RoleAdmin}}

		store.before = func() { // Alice demotes Bob while his request hashes
			_, err := svc.UpdateUser(ctx, asAlice, service.UpdateUserInput{ID: bob.ID, Roles: &[]string{authn.RoleDoctor}})
			require.NoError(t, err)
		}
		_, err = svc.CreateUser(ctx, asBob, service.CreateUserInput{
			Email: "bob2@example.org", Password: "another long passphrase", FullName: "Bob 2", Roles: []string{authn.RoleAdmin}})
		assert.Error(t, err, "an administrator demoted meanwhile created an ADMIN account")
	})
}
