package sqlstore_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/seed"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// denied reports a server's refusal for lack of a right: MySQL's command
// denied, PostgreSQL's insufficient privilege (which covers "must be owner").
func denied(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1142 || me.Number == 1044 || me.Number == 1227
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

// TestAuditTrailHoldsAgainstTheRuntimeAccount checks the append-only trail
// as the service runs in production: migrated by the schema owner, served by
// an account with SELECT, INSERT, UPDATE and DELETE on every table. That
// account can write and read events, the triggers refuse it any change to
// them, and it has no right to remove the triggers or the table.
func TestAuditTrailHoldsAgainstTheRuntimeAccount(t *testing.T) {
	for _, tc := range []struct {
		name     string
		open     func(t testing.TB) (owner, runtime *sqldb.DB)
		ddl      []string
		triggers string
		want     int
	}{
		{
			name: "mysql",
			open: func(t testing.TB) (*sqldb.DB, *sqldb.DB) {
				return sqltest.MySQLWithRuntimeUser(t, sqlstore.Migrations())
			},
			ddl: []string{
				"DROP TRIGGER audit_events_no_update",
				"DROP TRIGGER audit_events_no_delete",
				"DROP TRIGGER history_revisions_no_update",
				"ALTER TABLE audit_events ADD COLUMN note TEXT",
				"DROP TABLE audit_events",
				"TRUNCATE TABLE audit_events",
				"RENAME TABLE audit_events TO audit_events_old",
			},
			triggers: "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
			want:     4,
		},
		{
			name: "postgres",
			open: func(t testing.TB) (*sqldb.DB, *sqldb.DB) {
				return sqltest.PostgresWithRuntimeUser(t, sqlstore.Migrations())
			},
			ddl: []string{
				"DROP TRIGGER audit_events_no_update ON audit_events",
				"DROP TRIGGER audit_events_no_delete ON audit_events",
				"DROP TRIGGER history_revisions_no_update ON history_revisions",
				"ALTER TABLE audit_events DISABLE TRIGGER USER",
				"ALTER TABLE audit_events ADD COLUMN note TEXT",
				"DROP TABLE audit_events",
				"TRUNCATE TABLE audit_events",
				"ALTER TABLE audit_events RENAME TO audit_events_old",
				"CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
				"SET session_replication_role = replica",
			},
			triggers: "SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'O'",
			want:     6,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner, runtime := tc.open(t)
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
			for _, stmt := range tc.ddl {
				_, err := runtime.ExecContext(ctx, stmt)
				assert.Truef(t, denied(err), "%s: the runtime account has no right to it, got %v", stmt, err)
			}

			var triggers, events int
			require.NoError(t, owner.QueryRowContext(ctx, tc.triggers).Scan(&triggers))
			assert.Equal(t, tc.want, triggers, "every trigger still stands")
			require.NoError(t, owner.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events").Scan(&events))
			assert.Equal(t, 1, events, "the event is intact")
		})
	}
}

// TestPostgresMigrationTakesBackTheRuntimeRoleRights checks the deployment
// of scripts/postgres-up.sh: the owner's default privileges give the runtime
// role SELECT, INSERT, UPDATE and DELETE on every table the migrations
// create, and the migration takes UPDATE and DELETE back on the audit trail
// and the revisions, so the server refuses them before any trigger runs.
// The other tables keep every right the service needs.
func TestPostgresMigrationTakesBackTheRuntimeRoleRights(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ownerDSN := sqltest.PostgresDSN(t, nil)
	owner, err := sqldb.Open(ctx, ownerDSN)
	require.NoError(t, err)
	t.Cleanup(func() { _ = owner.Close() })
	_, err = owner.ExecContext(ctx, "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+sqltest.RuntimeUser)
	require.NoError(t, err, "run scripts/postgres-up.sh, which creates %s", sqltest.RuntimeUser)
	require.NoError(t, owner.Migrate(ctx, sqlstore.Migrations()))

	u, err := url.Parse(ownerDSN)
	require.NoError(t, err)
	u.User = url.UserPassword(sqltest.RuntimeUser, sqltest.RuntimeUser)
	runtime, err := sqldb.Open(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = runtime.Close() })
	s := store(t, runtime)

	now := time.Now().UTC().Truncate(time.Microsecond)
	p := seed.Patients(1, 1)[0]
	ev := patient.AuditEvent{ID: ids.New(), OccurredAt: now, UserID: "u1", Role: "ADMIN", Action: patient.ActionCreate,
		Resource: patient.ResourcePatient, PatientID: p.ID, Outcome: patient.OutcomeAllowed}
	require.NoError(t, s.CreatePatient(ctx, p, ev), "the runtime role writes patients and events")
	p.Version, p.Phone = 2, "+441234567899"
	ev.ID, ev.Action = ids.New(), patient.ActionUpdate
	require.NoError(t, s.UpdatePatient(ctx, p, ev), "and updates patients")

	for _, stmt := range []string{
		"UPDATE audit_events SET outcome = 'denied'",
		"DELETE FROM audit_events",
		"UPDATE history_revisions SET notes = ''",
		"DELETE FROM history_revisions",
		"TRUNCATE audit_events",
	} {
		_, err := runtime.ExecContext(ctx, stmt)
		assert.Truef(t, denied(err), "%s: want permission denied, got %v", stmt, err)
	}
	var events int
	require.NoError(t, owner.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events").Scan(&events))
	assert.Equal(t, 2, events)
}
