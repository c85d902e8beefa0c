package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestInboxNeverTakesAnotherEventForARedelivery: an id longer than
// processed_events.event_id (36) is refused or claimed whole, never cut to
// the claim of another event sharing its first 36 characters, whose effect
// would then be dropped. The broker refuses such ids before they come here.
func TestInboxNeverTakesAnotherEventForARedelivery(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		base := ids.New()
		claim := func(id string) (bool, error) {
			ev, err := events.New("appointment.booked", 1, "a1", nil, time.Now())
			require.NoError(t, err)
			ev.ID = id
			var fresh bool
			err = db.InTx(ctx, func(tx *sql.Tx) error {
				var err error
				fresh, err = inbox.Claim(ctx, tx, db.Dialect, ev, time.Now())
				return err
			})
			return fresh, err
		}
		_, _ = claim(base + "-first")
		fresh, err := claim(base + "-second")
		assert.True(t, err != nil || fresh, "a distinct event must never be taken for a redelivery of another (fresh=%v, err=%v)", fresh, err)
	})
}

// The inbox keeps its claims for shared/inbox's retention, then lets them
// go: a claim within it still absorbs its event's redelivery.
func TestInboxClaimsPastTheRetentionArePurged(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		store := sqlstore.New(db)
		now := time.Now().UTC()
		apply := func(ev events.Event, at time.Time) bool {
			fresh, err := store.Apply(ctx, ev, at, func(context.Context, service.Tx) error { return nil })
			require.NoError(t, err)
			return fresh
		}
		old, err := events.New("appointment.booked", 1, "a", nil, now)
		require.NoError(t, err)
		recent, err := events.New("appointment.booked", 1, "a", nil, now)
		require.NoError(t, err)
		require.True(t, apply(old, now.Add(-inbox.Retention-time.Hour)))
		require.True(t, apply(recent, now.Add(-time.Hour)))

		n, err := store.PurgeInbox(ctx, now.Add(-inbox.Retention))
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		assert.False(t, apply(recent, now), "a recent claim still absorbs its redelivery")
	})
}
