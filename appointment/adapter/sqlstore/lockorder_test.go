package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A booking takes the doctor's row before the patient's, even in one
// statement: while it waits for the patient's row it already holds the
// doctor's, so no writer can hold them the other way round.
func TestLockRowsTakesTheDoctorFirst(t *testing.T) {
	eachLockingServer(t, func(t *testing.T, db *sqldb.DB, s *Store) {
		ctx := context.Background()
		const doctor, patient = "00000000-0000-7000-8000-00000000000d", "00000000-0000-7000-8000-00000000000p"
		// Someone holds the patient's row.
		holder := holdLock(t, db, s, patientLock(patient), doctorLock(doctor))

		// A booking asks for both and waits for the patient's.
		booking, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer booking.Rollback() //nolint:errcheck
		done := make(chan error, 1)
		go func() { done <- s.lockRows(ctx, booking, doctorLock(doctor), patientLock(patient)) }()

		// Meanwhile the doctor's row is already the booking's.
		require.Eventually(t, func() bool {
			probe, err := db.BeginTx(ctx, nil)
			if err != nil {
				return false
			}
			defer probe.Rollback() //nolint:errcheck
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			var got string
			err = probe.QueryRowContext(pctx, `SELECT doctor_id FROM doctor_locks WHERE doctor_id = ? FOR UPDATE NOWAIT`, doctor).Scan(&got)
			return err != nil && !errors.Is(err, sql.ErrNoRows)
		}, 5*time.Second, 50*time.Millisecond, "the doctor's row stays free while the booking waits for the patient's")

		require.NoError(t, holder.Rollback())
		assert.NoError(t, <-done, "the booking gets both rows once the patient's is free")
	})
}

// A booking waits for the doctor's lock row on PostgreSQL too: writers of
// one doctor's times queue there instead of inserting side by side, where
// the exclusion constraint's check makes each wait for the other's
// uncommitted entry and one of them dies in a deadlock.
func TestBookingQueuesBehindTheDoctorsRow(t *testing.T) {
	eachLockingServer(t, func(t *testing.T, db *sqldb.DB, s *Store) {
		ctx := context.Background()
		a := repotest.New(ids.New(), 0, 30)
		holder := holdLock(t, db, s, doctorLock(a.DoctorID))

		done := make(chan error, 1)
		go func() { done <- s.Book(ctx, a, service.BookOptions{MaxActive: 10, Now: a.CreatedAt}) }()
		select {
		case err := <-done:
			t.Fatalf("the booking did not wait for the doctor's row (%v)", err)
		case <-time.After(300 * time.Millisecond):
		}
		require.NoError(t, holder.Rollback())
		assert.NoError(t, <-done, "the booking goes on once the row is free")
	})
}

// eachLockingServer runs fn on a store over each database that takes lock
// rows: SQLite takes none, its writers run one at a time.
func eachLockingServer(t *testing.T, fn func(t *testing.T, db *sqldb.DB, s *Store)) {
	sqltest.Each(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		if db.Dialect != sqldb.SQLite {
			fn(t, db, New(db))
		}
	})
}

// holdLock creates the rows of held and of others, then holds held's in a
// transaction of its own until the test rolls it back or ends.
func holdLock(t *testing.T, db *sqldb.DB, s *Store, held lockRef, others ...lockRef) *sql.Tx {
	t.Helper()
	ctx := context.Background()
	for _, r := range append([]lockRef{held}, others...) {
		_, err := db.ExecContext(ctx, `INSERT INTO `+r.table+` (`+r.column+`) VALUES (?)`, r.id)
		require.NoError(t, err)
	}
	holder, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = holder.Rollback() })
	require.NoError(t, s.lockRows(ctx, holder, held))
	return holder
}
