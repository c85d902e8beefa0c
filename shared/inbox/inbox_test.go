package inbox_test

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

//go:embed testdata/migrations
var embedded embed.FS

func TestARedeliveredEventChangesNothing(t *testing.T) {
	migrations, err := fs.Sub(embedded, "testdata/migrations")
	require.NoError(t, err)
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ev, err := events.New("auth.user_registered", 1, "u1", nil, time.Now())
		require.NoError(t, err)
		effect := func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				fresh, err := inbox.Claim(ctx, tx, db.Dialect, ev, time.Now())
				if err != nil || !fresh {
					return err
				}
				_, err = tx.ExecContext(ctx, `INSERT INTO effects (id) VALUES (?)`, ids.New())
				return err
			})
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- effect() }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			// Concurrent first deliveries may lose a race the database
			// reports as retryable; the broker redelivers those.
			if err != nil {
				assert.True(t, sqldb.IsUniqueViolation(err) || sqldb.IsRetryable(err), "%v", err)
			}
		}
		require.NoError(t, effect(), "a later redelivery is a no-op")
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM effects`).Scan(&n))
		assert.Equal(t, 1, n, "one effect for eight deliveries")
	})
}

// An id that is not a UUID is refused before it reaches the column, which
// a MariaDB server out of strict mode would cut to another event's claim.
func TestAnIDThatIsNotAUUIDIsRefused(t *testing.T) {
	migrations, err := fs.Sub(embedded, "testdata/migrations")
	require.NoError(t, err)
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ev, err := events.New("auth.user_registered", 1, "u1", nil, time.Now())
		require.NoError(t, err)
		ev.ID += "-second"
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := inbox.Claim(ctx, tx, db.Dialect, ev, time.Now())
			return err
		})
		assert.ErrorIs(t, err, inbox.ErrInvalidID)
	})
}
