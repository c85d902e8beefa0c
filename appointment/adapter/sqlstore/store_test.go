package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestRepositoryContract(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		first := true
		repotest.Run(t, func(t *testing.T) repotest.Fixture {
			// Each case needs empty tables: the first uses the fresh
			// database, the others start from a cleared one.
			if !first {
				for _, table := range []string{"appointments", "idempotency_keys", "outbox", "waitlist", "processed_events", "patient_status"} {
					_, err := db.ExecContext(context.Background(), "DELETE FROM "+table)
					require.NoError(t, err)
				}
			}
			first = false
			return repotest.Fixture{Repo: sqlstore.New(db), Count: func(t *testing.T, table string) int {
				var n int
				require.NoError(t, db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n))
				return n
			}, Outbox: func(t *testing.T) []events.Event {
				return outboxtest.Events(t, db, "")
			}}
		})
	})
}

// TestServesWithDataRightsOnly: the serving account holds SELECT, INSERT,
// UPDATE and DELETE only, and every write path works with them.
func TestServesWithDataRightsOnly(t *testing.T) {
	run := func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		a := repotest.New(ids.New(), 0, 30)
		key := &service.IdempotencyKey{UserID: ids.New(), Key: "k", RequestHash: "h", CreatedAt: a.CreatedAt}
		require.NoError(t, s.Book(ctx, a, service.BookOptions{Key: key, MaxActive: 10, Now: a.CreatedAt}))
		require.NoError(t, s.JoinWaitlist(ctx, appointment.WaitlistEntry{ID: ids.New(), DoctorID: a.DoctorID, Day: "2031-03-04",
			PatientID: a.PatientID, PatientUserID: a.PatientUserID, CreatedAt: a.CreatedAt}, service.PatientSeen{}, civil.Of(a.CreatedAt), repotest.Audit(a)))
		a.Status, a.Version = appointment.Cancelled, 2
		require.NoError(t, s.Update(ctx, a, 1, repotest.Audit(a)))
		// The consumer of the patient service's events: statuses, and the
		// waits of a deactivated patient removed.
		svc := service.New(s, nil, nil, clocktest.New(a.CreatedAt), ids.New, service.Options{})
		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, a.PatientID, false, 2)))
		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, a.PatientID, true, 3)))
		// A join correcting a status recorded at a version the patient
		// service never gave.
		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, a.PatientID, false, 9)))
		require.NoError(t, s.JoinWaitlist(ctx, appointment.WaitlistEntry{ID: ids.New(), DoctorID: a.DoctorID, Day: "2031-03-05",
			PatientID: a.PatientID, PatientUserID: a.PatientUserID, CreatedAt: a.CreatedAt}, service.PatientSeen{Version: 4, Disowned: 9},
			civil.Of(a.CreatedAt), repotest.Audit(a)))
		_, err := s.PurgeKeys(ctx, a.CreatedAt.Add(time.Second))
		require.NoError(t, err)
		_, err = s.PurgeWaitlist(ctx, civil.MustParse("2031-03-05"))
		require.NoError(t, err)
	}
	t.Run("mysql", func(t *testing.T) {
		_, runtime := sqltest.MySQLWithRuntimeUser(t, sqlstore.Migrations())
		run(t, runtime)
	})
	t.Run("postgres", func(t *testing.T) {
		_, runtime := sqltest.PostgresWithRuntimeUser(t, sqlstore.Migrations())
		run(t, runtime)
	})
}
