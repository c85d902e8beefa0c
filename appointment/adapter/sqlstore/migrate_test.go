package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A database migrated to version 1 before the waitlist existed gains it, and
// one whose early version 1 already made it migrates without error.
func TestWaitlistMigrationUpgradesVersionOne(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		backToVersionOne := func(dropWaitlist bool) {
			if dropWaitlist {
				_, err := db.ExecContext(ctx, "DROP TABLE waitlist")
				require.NoError(t, err)
			}
			_, err := db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id > 1")
			require.NoError(t, err)
		}
		countWaitlist := func() error {
			var n int
			return db.QueryRowContext(ctx, "SELECT COUNT(*) FROM waitlist").Scan(&n)
		}

		backToVersionOne(true)
		require.Error(t, countWaitlist())
		require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
		require.NoError(t, countWaitlist())

		backToVersionOne(false)
		require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
		require.NoError(t, countWaitlist())
	})
}
