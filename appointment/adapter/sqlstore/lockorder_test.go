package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A booking takes the doctor's row before the patient's, even in one
// statement: while it waits for the patient's row it already holds the
// doctor's, so no writer can hold them the other way round.
func TestLockRowsTakesTheDoctorFirst(t *testing.T) {
	sqltest.Each(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		if db.Dialect != sqldb.MySQL {
			return // only MySQL takes two lock rows in one statement
		}
		ctx := context.Background()
		s := New(db)
		const doctor, patient = "00000000-0000-7000-8000-00000000000d", "00000000-0000-7000-8000-00000000000p"
		for _, r := range []lockRef{doctorLock(doctor), patientLock(patient)} {
			_, err := db.ExecContext(ctx, `INSERT INTO `+r.table+` (`+r.column+`) VALUES (?)`, r.id)
			require.NoError(t, err)
		}

		// Someone holds the patient's row.
		holder, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer holder.Rollback() //nolint:errcheck
		require.NoError(t, s.lockRows(ctx, holder, patientLock(patient)))

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
