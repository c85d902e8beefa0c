package service_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// failingStore is the real store whose transactions' outbox fails after
// writing the events it was given, as a lost connection at the commit would.
type failingStore struct{ service.Store }

func (s failingStore) InTx(ctx context.Context, fn func(tx service.Store) error) error {
	return s.Store.InTx(ctx, func(tx service.Store) error { return fn(failingStore{tx}) })
}

func (s failingStore) Outbox() service.Outbox { return failingOutbox{s.Store.Outbox()} }

type failingOutbox struct{ service.Outbox }

var errOutbox = errors.New("outbox went away")

func (o failingOutbox) Write(ctx context.Context, evs ...events.Event) error {
	if err := o.Outbox.Write(ctx, evs...); err != nil {
		return err
	}
	return errOutbox
}

// The page is read and announced in one transaction: a failure leaves no
// event of it behind, and the call can be made again.
func TestAFailedAnnouncementWritesNoEvent(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		deps, _ := newDepsOn(t, db)
		_, err := service.Bootstrap(ctx, deps, "alice@example.org", "correct horse battery")
		require.NoError(t, err)
		svc := service.New(deps, service.Config{})
		registerPat(t, svc)
		alice, err := deps.Store.Users().ByEmail(ctx, "alice@example.org")
		require.NoError(t, err)
		admin := authn.Principal{UserID: alice.ID, Roles: []string{authn.RoleAdmin}}
		n := len(outboxEvents(t, db))

		deps.Store = failingStore{deps.Store}
		_, err = service.New(deps, service.Config{}).AnnounceUsers(ctx, admin, service.AnnounceUsersInput{})
		require.ErrorIs(t, err, errOutbox)
		assert.Len(t, outboxEvents(t, db), n, "nothing half-written")

		a, err := svc.AnnounceUsers(ctx, admin, service.AnnounceUsersInput{})
		require.NoError(t, err)
		assert.Equal(t, service.Announced{Count: 2}, a)
		assert.Len(t, outboxEvents(t, db), n+2)
	})
}

// The caller is checked against the database, as for every administration
// use case: the token's role alone is not enough.
func TestAnnouncingAsAnAccountThatIsNoAdministratorIsRefused(t *testing.T) {
	ctx := context.Background()
	deps, _, db := newDeps(t)
	svc := service.New(deps, service.Config{})
	registerPat(t, svc)
	pat, err := deps.Store.Users().ByEmail(ctx, "pat@example.org")
	require.NoError(t, err)
	n := len(outboxEvents(t, db))

	_, err = svc.AnnounceUsers(ctx, authn.Principal{UserID: pat.ID, Roles: []string{authn.RoleAdmin}}, service.AnnounceUsersInput{})
	require.ErrorIs(t, err, account.ErrForbidden)
	_, err = svc.AnnounceUsers(ctx, authn.Principal{UserID: "01900000-0000-7000-8000-000000000001", Roles: []string{authn.RoleAdmin}}, service.AnnounceUsersInput{})
	require.ErrorIs(t, err, account.ErrUnauthenticated)
	assert.Len(t, outboxEvents(t, db), n)
}
