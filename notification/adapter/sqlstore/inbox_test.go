package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
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
