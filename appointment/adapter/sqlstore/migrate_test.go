package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A database migrated to version 1 before the waitlist existed gains it, and
// one whose early version 1 already made it migrates without error.
func TestWaitlistMigrationUpgradesVersionOne(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		backToVersionOne := func(dropWaitlist bool) {
			// What the later migrations made goes too (00003: the patient
			// locks and the waitlist's patient index; 00005 on PostgreSQL:
			// the doctor locks; 00006: the inbox of consumed events; 00007:
			// who last changed an appointment; 00008: the audit trail; 00009:
			// the patients' statuses; 00011: the bounds of a wait's day).
			_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS patient_locks")
			require.NoError(t, err)
			dropWaitBounds(t, db)
			dropPatientStatus(t, db)
			dropAuditTrail(t, db)
			_, err = db.ExecContext(ctx, "ALTER TABLE appointments DROP COLUMN updated_by")
			require.NoError(t, err)
			_, err = db.ExecContext(ctx, "DROP TABLE processed_events")
			require.NoError(t, err)
			if db.Dialect == sqldb.Postgres {
				_, err = db.ExecContext(ctx, "DROP TABLE doctor_locks")
				require.NoError(t, err)
			}
			dropIndex := "DROP INDEX waitlist_patient_id"
			if db.Dialect == sqldb.MySQL {
				dropIndex += " ON waitlist"
			}
			_, err = db.ExecContext(ctx, dropIndex)
			require.NoError(t, err)
			if dropWaitlist {
				_, err := db.ExecContext(ctx, "DROP TABLE waitlist")
				require.NoError(t, err)
			}
			_, err = db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id > 1")
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

// Appointments stored before who changed them was recorded: one never
// changed since its booking was last changed by its booker; of one changed
// since, nobody knows.
func TestUpdatedByMigrationNamesTheBookerOfUnchangedAppointments(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		store := sqlstore.New(db)
		unchanged, changed := repotest.New(ids.New(), 0, 30), repotest.New(ids.New(), 0, 30)
		for _, a := range []appointment.Appointment{unchanged, changed} {
			require.NoError(t, store.Book(ctx, a, service.BookOptions{}))
		}
		changed.Status, changed.Version, changed.UpdatedBy = appointment.Arrived, 2, ids.New()
		require.NoError(t, store.Update(ctx, changed, 1, repotest.Audit(changed)))

		// Back to version 6: 00008 (the audit trail), 00009 (the patients'
		// statuses), 00011 (the bounds of a wait's day) and 00012 (the
		// inbox's age index) go too.
		dropIndex := "DROP INDEX processed_events_processed_at"
		if db.Dialect == sqldb.MySQL {
			dropIndex += " ON processed_events"
		}
		_, err := db.ExecContext(ctx, dropIndex)
		require.NoError(t, err)
		dropWaitBounds(t, db)
		dropPatientStatus(t, db)
		dropAuditTrail(t, db)
		_, err = db.ExecContext(ctx, "ALTER TABLE appointments DROP COLUMN updated_by")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id >= 7")
		require.NoError(t, err)
		require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))

		got, err := store.Get(ctx, unchanged.ID)
		require.NoError(t, err)
		assert.Equal(t, unchanged.BookedBy, got.UpdatedBy)
		got, err = store.Get(ctx, changed.ID)
		require.NoError(t, err)
		assert.Empty(t, got.UpdatedBy)
		assert.Equal(t, changed.BookedBy, got.BookedBy)
	})
}

// dropWaitBounds undoes migration 00011.
func dropWaitBounds(t *testing.T, db *sqldb.DB) {
	t.Helper()
	for _, c := range []string{"time_zone", "day_until", "day_from"} {
		_, err := db.ExecContext(context.Background(), "ALTER TABLE waitlist DROP COLUMN "+c)
		require.NoError(t, err)
	}
}

// dropPatientStatus undoes migration 00009.
func dropPatientStatus(t *testing.T, db *sqldb.DB) {
	t.Helper()
	_, err := db.ExecContext(context.Background(), "DROP TABLE patient_status")
	require.NoError(t, err)
}

// dropAuditTrail undoes migration 00008.
func dropAuditTrail(t *testing.T, db *sqldb.DB) {
	t.Helper()
	ctx := context.Background()
	_, err := db.ExecContext(ctx, "DROP TABLE audit_events")
	require.NoError(t, err)
	if db.Dialect == sqldb.Postgres {
		_, err = db.ExecContext(ctx, "DROP FUNCTION refuse_change()")
		require.NoError(t, err)
	}
}

// A MariaDB or SQLite database migrated before these dialects had their
// no-op 00005 (PostgreSQL's doctor locks) takes it on the next start, after
// its newer versions, so that every dialect lists the same versions;
// PostgreSQL always had it.
func TestMigrationsFillTheVersionTheDialectLacked(t *testing.T) {
	sqltest.EachSource(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		_, err := db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = 5")
		require.NoError(t, err)
		require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM goose_db_version WHERE version_id = 5 AND is_applied").Scan(&n))
		assert.Equal(t, 1, n)
	})
}

// On a MariaDB database created with latin1 as its default, the tables
// still hold any text: a booking in Polish is stored and read back as
// written, and no column is left in latin1.
func TestSchemaDoesNotDependOnTheDatabaseCharset(t *testing.T) {
	ctx := context.Background()
	db := sqltest.MySQLLatin1(t, sqlstore.Migrations())
	assert.Empty(t, sqltest.MySQLColumnsIn(t, db, "latin1"))

	a := repotest.New(ids.New(), 0, 30)
	a.DoctorName = "Łukasz Wiśniewski"
	a.Reason = "Ból głowy od tygodnia 🩺"
	st := sqlstore.New(db)
	require.NoError(t, st.Book(ctx, a, service.BookOptions{Audit: repotest.Audit(a)}))
	got, err := st.Get(ctx, a.ID)
	require.NoError(t, err)
	assert.Equal(t, a.DoctorName, got.DoctorName)
	assert.Equal(t, a.Reason, got.Reason)
}
