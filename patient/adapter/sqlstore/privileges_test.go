package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestAuditTrailHoldsAgainstTheRuntimeAccount checks the append-only trail
// on MariaDB as the service runs in production: migrated by the schema
// owner, served by an account with SELECT, INSERT, UPDATE and DELETE only.
// That account can write and read events, the triggers refuse it any change
// to them, and it has no right to remove the triggers or the table.
func TestAuditTrailHoldsAgainstTheRuntimeAccount(t *testing.T) {
	owner, runtime := sqltest.MySQLWithRuntimeUser(t, sqlstore.Migrations())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := store(t, runtime)

	pid := ids.New()
	ev := patient.AuditEvent{ID: ids.New(), OccurredAt: time.Now().UTC().Truncate(time.Microsecond), UserID: "u1",
		Role: "ADMIN", Action: patient.ActionRead, Resource: patient.ResourcePatient, PatientID: pid,
		Outcome: patient.OutcomeAllowed, RequestID: "req-1"}
	require.NoError(t, s.AppendAudit(ctx, ev), "the runtime account appends events")
	trail, err := s.ListAudit(ctx, patient.AuditQuery{PatientID: pid, Limit: 10})
	require.NoError(t, err, "and reads them")
	assert.Equal(t, []patient.AuditEvent{ev}, trail.Items)

	for _, stmt := range []string{
		"UPDATE audit_events SET outcome = 'denied'",
		"DELETE FROM audit_events",
	} {
		_, err := runtime.ExecContext(ctx, stmt)
		assert.ErrorContainsf(t, err, "append-only", "%s: the triggers refuse it", stmt)
	}
	for _, stmt := range []string{
		"DROP TRIGGER audit_events_no_update",
		"DROP TRIGGER audit_events_no_delete",
		"DROP TRIGGER history_revisions_no_update",
		"ALTER TABLE audit_events ADD COLUMN note TEXT",
		"DROP TABLE audit_events",
		"TRUNCATE TABLE audit_events",
		"RENAME TABLE audit_events TO audit_events_old",
	} {
		_, err := runtime.ExecContext(ctx, stmt)
		assert.ErrorContainsf(t, err, "command denied", "%s: the runtime account has no right to it", stmt)
	}

	var triggers, events int
	require.NoError(t, owner.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()").Scan(&triggers))
	assert.Equal(t, 4, triggers, "every trigger still stands")
	require.NoError(t, owner.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events").Scan(&events))
	assert.Equal(t, 1, events, "the event is intact")
}
