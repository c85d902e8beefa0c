package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// Mail queued before a mail named its appointment migrates with the queue
// and still goes out; it names no appointment, so nothing withdraws it. A
// reminder stored before change_version takes its own version as the last
// change mailed.
func TestWithdrawalMigrationKeepsTheQueue(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		dropIndex, dropAgeIndex := "DROP INDEX deliveries_appointment", "DROP INDEX processed_events_processed_at"
		if db.Dialect == sqldb.MySQL {
			dropIndex += " ON deliveries"
			dropAgeIndex += " ON processed_events"
		}
		for _, q := range []string{
			dropAgeIndex,
			dropIndex,
			"ALTER TABLE deliveries DROP COLUMN withdrawn",
			"ALTER TABLE deliveries DROP COLUMN appointment_version",
			"ALTER TABLE deliveries DROP COLUMN appointment_id",
			"DROP TABLE held_mails",
			"DROP TABLE slot_offers",
			"ALTER TABLE reminders DROP COLUMN change_version",
			"DELETE FROM goose_db_version WHERE version_id > 1",
		} {
			_, err := db.ExecContext(ctx, q)
			require.NoError(t, err, q)
		}
		now := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
		id := ids.New()
		_, err := db.ExecContext(ctx, `INSERT INTO deliveries (id, user_id, kind, recipient, subject, body_text, body_html, status, attempts, last_error, next_attempt_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, '', ?, ?, ?)`,
			id, ids.New(), notice.AppointmentReminder, "ada@example.org", "Reminder", "text", "<p>html</p>", now, now, now)
		require.NoError(t, err)

		appt := ids.New()
		_, err = db.ExecContext(ctx, `INSERT INTO reminders (appointment_id, patient_user_id, time_zone, start_at, due_at, status, version, updated_at)
			VALUES (?, ?, 'Europe/Berlin', ?, ?, 'withdrawn', 3, ?)`, appt, ids.New(), now.Add(48*time.Hour), now.Add(24*time.Hour), now)
		require.NoError(t, err)

		require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
		// A reminder stored before change_version starts at its own
		// version: no event older than it mails late.
		var changeVersion int64
		require.NoError(t, db.QueryRowContext(ctx, `SELECT change_version FROM reminders WHERE appointment_id = ?`, appt).Scan(&changeVersion))
		assert.Equal(t, int64(3), changeVersion)
		got, err := sqlstore.New(db).ClaimMail(ctx, now, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, id, got[0].ID)
		assert.Empty(t, got[0].AppointmentID)
		assert.Equal(t, "text", got[0].Text)
		held, err := sqlstore.New(db).RenewLease(ctx, id, got[0].Attempts, now.Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, held, "not withdrawn")
	})
}

// On a MariaDB database created with latin1 as its default, no column is
// left in latin1: names, titles and mail text outside Latin-1 are stored,
// and the ids keep their byte-compared ASCII.
func TestSchemaDoesNotDependOnTheDatabaseCharset(t *testing.T) {
	db := sqltest.MySQLLatin1(t, sqlstore.Migrations())
	assert.Empty(t, sqltest.MySQLColumnsIn(t, db, "latin1"))
	assert.Contains(t, sqltest.MySQLColumnsIn(t, db, "ascii"), "notifications.id")
}
