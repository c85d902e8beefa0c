package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

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
		old, err := events.New("patient.deactivated", 1, "p", nil, now)
		require.NoError(t, err)
		recent, err := events.New("patient.deactivated", 1, "p", nil, now)
		require.NoError(t, err)
		require.True(t, apply(old, now.Add(-inbox.Retention-time.Hour)))
		require.True(t, apply(recent, now.Add(-time.Hour)))

		n, err := store.PurgeInbox(ctx, now.Add(-inbox.Retention))
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		assert.False(t, apply(recent, now), "a recent claim still absorbs its redelivery")
	})
}
