package sqlstore_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/seed"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/patient/service/servicetest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// store returns a Store on db, closed when the test ends.
func store(t *testing.T, db *sqldb.DB) *sqlstore.Store {
	s := sqlstore.New(db)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// contract runs a repository contract suite on every database, each on a
// fresh one.
func contract(t *testing.T, run func(t *testing.T, newRepos func(t *testing.T) servicetest.Repositories)) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		run(t, func(t *testing.T) servicetest.Repositories { return store(t, db) })
	})
}

func TestPatientRepository(t *testing.T) { contract(t, servicetest.RunPatientRepositoryContract) }

func TestSearchPatients(t *testing.T) { contract(t, servicetest.RunPatientSearchContract) }

// TestSearchPatientsUnderGenericPlans runs the search contract on
// PostgreSQL with every statement planned generically, as prepared
// statements are after a few runs: the prefix bounds passed as parameters
// must select exactly what LIKE does.
func TestSearchPatientsUnderGenericPlans(t *testing.T) {
	dsn := sqltest.PostgresDSN(t, sqlstore.Migrations())
	db, err := sqldb.Open(context.Background(), dsn+"&plan_cache_mode=force_generic_plan")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var mode string
	require.NoError(t, db.QueryRowContext(context.Background(), "SHOW plan_cache_mode").Scan(&mode))
	require.Equal(t, "force_generic_plan", mode)
	servicetest.RunPatientSearchContract(t, func(t *testing.T) servicetest.Repositories { return store(t, db) })
}

func TestHistoryRepository(t *testing.T) { contract(t, servicetest.RunHistoryRepositoryContract) }

func TestAuditRepository(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		servicetest.RunAuditRepositoryContract(t, func(t *testing.T) service.AuditRepository { return store(t, db) })

		// Beyond the port: the database itself refuses to rewrite the trail.
		ctx := context.Background()
		_, err := db.ExecContext(ctx, "UPDATE audit_events SET outcome = 'allowed'")
		assert.Error(t, err, "audit events cannot be changed")
		_, err = db.ExecContext(ctx, "DELETE FROM audit_events")
		assert.Error(t, err, "audit events cannot be deleted")
	})
}

// TestBulkInsert checks the seeding path, which writes no audit events.
func TestBulkInsert(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := store(t, db)
		ps := seed.Patients(1200, 1) // more than one multi-row INSERT
		require.NoError(t, s.BulkInsertPatients(ctx, ps))
		n, err := s.CountPatients(ctx)
		require.NoError(t, err)
		assert.Equal(t, len(ps), n)
		got, err := s.PatientByID(ctx, ps[1100].ID)
		require.NoError(t, err)
		want := ps[1100]
		want.CreatedAt, want.UpdatedAt = want.CreatedAt.Truncate(time.Microsecond), want.UpdatedAt.Truncate(time.Microsecond)
		assert.Equal(t, want, got)
	})
}

// TestTamperedCursors checks that a cursor not given out by a list is the
// cursor field error on every list and every database, never a query
// error: on MySQL a key outside ASCII compared with an id column fails the
// query.
func TestTamperedCursors(t *testing.T) {
	forge := func(keys string) string { return base64.RawURLEncoding.EncodeToString([]byte(keys)) }
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := store(t, db)
		pid := ids.New()
		for _, c := range []string{"%%%", forge(`null`), forge(`[1]`), forge(`["é"]`), forge(`["é😀"]`),
			forge(`["` + strings.ToUpper(pid)[:35] + `"]`), forge(`["` + strings.ToUpper(pid) + `"]`), forge(`["a","b"]`)} {
			_, err := s.ListEntries(ctx, patient.HistoryQuery{PatientID: pid, Cursor: c})
			servicetest.AssertCursorRefused(t, err, "history %s", c)
			_, err = s.ListAudit(ctx, patient.AuditQuery{PatientID: pid, Cursor: c})
			servicetest.AssertCursorRefused(t, err, "audit %s", c)
		}
		for _, c := range []string{forge(`["é","é","é"]`), forge(`["a","b"]`), forge(`["a","b","c","d"]`), forge(`["a","b",1]`)} {
			_, err := s.SearchPatients(ctx, patient.SearchQuery{Query: "a", Cursor: c})
			servicetest.AssertCursorRefused(t, err, "search %s", c)
			_, err = s.SearchPatients(ctx, patient.SearchQuery{Cursor: c})
			servicetest.AssertCursorRefused(t, err, "search %s", c)
		}
		// Name keys outside ASCII are fine: they select another page.
		found, err := s.SearchPatients(ctx, patient.SearchQuery{Query: "é", Cursor: forge(`["😀","é","` + pid + `"]`)})
		require.NoError(t, err)
		assert.Empty(t, found.Items)
	})
}

// Batches of audit events come in every size; their INSERTs must not each
// be prepared on every connection, or a shared MySQL server runs out of
// prepared statements (max_prepared_stmt_count) for every service on it.
func TestAuditBatchesPrepareNoStatementPerSize(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := store(t, db)
		ctx, pid := context.Background(), ids.New()
		for n := 1; n <= 20; n++ {
			evs := make([]patient.AuditEvent, n)
			for i := range evs {
				evs[i] = patient.AuditEvent{ID: ids.New(), OccurredAt: time.Now().UTC().Truncate(time.Microsecond), UserID: "u",
					Role: "DOCTOR", Action: patient.ActionRead, Resource: "patient", PatientID: pid, Outcome: patient.OutcomeAllowed}
			}
			require.NoError(t, s.AppendAudit(ctx, evs...))
		}
		assert.LessOrEqual(t, sqlstore.PreparedStatements(s), 1, "one statement, the single event's")
	})
}

func TestStatusEvents(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		servicetest.RunStatusEventsContract(t, func(t *testing.T) servicetest.EventsFixture {
			return servicetest.EventsFixture{Repos: store(t, db), Outbox: func(t *testing.T, subject string) []events.Event {
				var out []events.Event
				for _, ev := range outboxtest.Events(t, db, "") {
					if ev.Subject == subject {
						out = append(out, ev)
					}
				}
				return out
			}}
		})
	})
}

// On a MariaDB database created with latin1 as its default, no column is
// left in latin1: the tables name their character set.
func TestSchemaDoesNotDependOnTheDatabaseCharset(t *testing.T) {
	db := sqltest.MySQLLatin1(t, sqlstore.Migrations())
	assert.Empty(t, sqltest.MySQLColumnsIn(t, db, "latin1"))
}
