package sqlstore_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func readEvent(patientID string) appointment.AuditEvent {
	return appointment.AuditEvent{ID: ids.New(), OccurredAt: time.Now().UTC().Truncate(time.Microsecond), UserID: ids.New(),
		Role: authn.RoleDoctor, Action: appointment.ActionRead, Resource: appointment.ResourceAppointment, PatientID: patientID,
		ResourceID: ids.New(), Outcome: appointment.OutcomeAllowed, RequestID: "req-1"}
}

// denied reports a server's refusal for lack of a right: MySQL's "command
// denied" and "access denied", PostgreSQL's "permission denied" and "must
// be owner".
func denied(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "denied") || strings.Contains(err.Error(), "must be owner"))
}

// TestAuditTrailIsAppendOnly: on every database the triggers refuse to
// change or remove an event, whoever asks.
func TestAuditTrailIsAppendOnly(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		ev := readEvent(ids.New())
		require.NoError(t, s.AppendAudit(ctx, ev))
		stmts := []string{"UPDATE audit_events SET outcome = 'denied'", "DELETE FROM audit_events"}
		if db.Dialect == sqldb.Postgres {
			stmts = append(stmts, "TRUNCATE audit_events")
		}
		for _, stmt := range stmts {
			_, err := db.ExecContext(ctx, stmt)
			assert.ErrorContainsf(t, err, "append-only", "%s", stmt)
		}
		assert.Equal(t, []appointment.AuditEvent{ev}, repotest.Trail(t, s, ev.PatientID), "the event is intact")
	})
}

// TestRecorderStoresBeforeItReturns: the group-commit recorder over this
// store has stored an event once Record returns, for concurrent callers too.
func TestRecorderStoresBeforeItReturns(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		b := auditlog.New[appointment.AuditEvent](s, auditlog.Options{})
		t.Cleanup(func() { _ = b.Close(context.Background()) })
		pid := ids.New()
		ev := readEvent(pid)
		require.NoError(t, b.Record(ctx, ev))
		assert.Equal(t, []appointment.AuditEvent{ev}, repotest.Trail(t, s, pid), "stored before Record returns")

		const n = 50
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = b.Record(ctx, readEvent(pid)) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		assert.Len(t, repotest.Trail(t, s, pid), n+1, "every answered event is stored")
	})
}

// TestAuditTrailHoldsAgainstTheRuntimeAccount: migrated by the schema
// owner and served by an account with data rights only, the trail takes
// and gives events, the triggers refuse that account any change to them,
// and it has no right to remove the triggers or the table.
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
				"ALTER TABLE audit_events ADD COLUMN note TEXT",
				"DROP TABLE audit_events",
				"TRUNCATE TABLE audit_events",
				"RENAME TABLE audit_events TO audit_events_old",
			},
			triggers: "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'audit_events'",
			want:     2,
		},
		{
			name: "postgres",
			open: func(t testing.TB) (*sqldb.DB, *sqldb.DB) {
				return sqltest.PostgresWithRuntimeUser(t, sqlstore.Migrations())
			},
			ddl: []string{
				"DROP TRIGGER audit_events_no_update ON audit_events",
				"DROP TRIGGER audit_events_no_delete ON audit_events",
				"ALTER TABLE audit_events DISABLE TRIGGER USER",
				"ALTER TABLE audit_events ADD COLUMN note TEXT",
				"DROP TABLE audit_events",
				"TRUNCATE TABLE audit_events",
				"ALTER TABLE audit_events RENAME TO audit_events_old",
				"CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
				"SET session_replication_role = replica",
			},
			triggers: "SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'O' AND tgrelid = 'audit_events'::regclass",
			want:     3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner, runtime := tc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s := sqlstore.New(runtime)
			ev := readEvent(ids.New())
			require.NoError(t, s.AppendAudit(ctx, ev), "the runtime account appends events")
			assert.Equal(t, []appointment.AuditEvent{ev}, repotest.Trail(t, s, ev.PatientID), "and reads them")

			for _, stmt := range []string{"UPDATE audit_events SET outcome = 'denied'", "DELETE FROM audit_events"} {
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

// TestPostgresMigrationTakesBackTheRuntimeRoleRights: under the default
// privileges scripts/postgres-up.sh sets, the runtime role would hold
// UPDATE and DELETE on every table the owner creates; the migration takes
// them back on the audit trail, so the server refuses them before any
// trigger runs, while the other tables keep every right the service needs.
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
	s := sqlstore.New(runtime)

	a := repotest.New(ids.New(), 0, 30)
	require.NoError(t, s.Book(ctx, a, service.BookOptions{Audit: repotest.Audit(a)}), "the runtime role books with its event")
	a.Status, a.Version = appointment.Cancelled, 2
	require.NoError(t, s.Update(ctx, a, 1, repotest.Audit(a)), "and changes appointments")

	for _, stmt := range []string{"UPDATE audit_events SET outcome = 'denied'", "DELETE FROM audit_events", "TRUNCATE audit_events"} {
		_, err := runtime.ExecContext(ctx, stmt)
		assert.Truef(t, denied(err), "%s: want permission denied, got %v", stmt, err)
	}
	var events int
	require.NoError(t, owner.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events").Scan(&events))
	assert.Equal(t, 2, events)
}
