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

// Claims older than the retention go, in chunks, and the recent ones stay
// to absorb their events' redeliveries.
func TestPurgeDeletesTheClaimsPastTheRetention(t *testing.T) {
	migrations, err := fs.Sub(embedded, "testdata/migrations")
	require.NoError(t, err)
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
		old := now.Add(-inbox.Retention - time.Hour)
		claim := func(tx *sql.Tx, at time.Time) (events.Event, error) {
			ev, err := events.New("auth.user_registered", 1, "u", nil, at)
			if err != nil {
				return ev, err
			}
			_, err = inbox.Claim(ctx, tx, db.Dialect, ev, at)
			return ev, err
		}
		var recent []events.Event
		require.NoError(t, db.InTx(ctx, func(tx *sql.Tx) error {
			for range 2*1000 + 5 {
				if _, err := claim(tx, old); err != nil {
					return err
				}
			}
			for range 3 {
				ev, err := claim(tx, now.Add(-time.Hour))
				if err != nil {
					return err
				}
				recent = append(recent, ev)
			}
			// A claim made at the cut-off itself is not older than the
			// retention: it stays.
			ev, err := claim(tx, now.Add(-inbox.Retention))
			recent = append(recent, ev)
			return err
		}))

		n, err := inbox.Purge(ctx, db, db.Dialect, now.Add(-inbox.Retention))
		require.NoError(t, err)
		assert.Equal(t, int64(2*1000+5), n)
		require.NoError(t, db.InTx(ctx, func(tx *sql.Tx) error {
			for _, ev := range recent {
				fresh, err := inbox.Claim(ctx, tx, db.Dialect, ev, now)
				require.NoError(t, err)
				assert.False(t, fresh, "a recent claim still absorbs its redelivery")
			}
			return nil
		}))
	})
}
