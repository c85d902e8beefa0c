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
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestCopyToPostgres fills a MariaDB and a SQLite database through the store
// (bookings with their audit events, one cancelled and its time booked
// again), copies each with dbcopy into an empty PostgreSQL database migrated
// from the embedded migrations, and serves the copy: MariaDB's generated
// active_start has no column to go to, and the lock tables SQLite does
// without start empty on PostgreSQL, filled as writers come.
func TestCopyToPostgres(t *testing.T) {
	sqltest.EachSource(t, sqlstore.Migrations(), func(t *testing.T, src *sqldb.DB) {
		ctx := context.Background()
		st := sqlstore.New(src)
		doctor := ids.New()
		first := repotest.New(doctor, 0, 30)
		first.DoctorName = "Łukasz Wiśniewski"
		first.Reason = "Ból głowy od tygodnia 🩺"
		cancelled := repotest.New(doctor, 30, 60)
		again := repotest.New(doctor, 30, 60)
		for _, a := range []appointment.Appointment{first, cancelled} {
			require.NoError(t, st.Book(ctx, a, service.BookOptions{Audit: repotest.Audit(a)}))
		}
		cancelled.Status = appointment.Cancelled
		cancelled.Version++
		require.NoError(t, st.Update(ctx, cancelled, 1, repotest.Audit(cancelled)))
		require.NoError(t, st.Book(ctx, again, service.BookOptions{Audit: repotest.Audit(again)}))

		dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
		require.NoError(t, err)
		t.Cleanup(func() { _ = dst.Close() })
		rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations()})
		require.NoError(t, err)
		require.True(t, rep.OK())
		if src.Dialect == sqldb.SQLite {
			assert.Equal(t, []string{"doctor_locks", "patient_locks"}, rep.TargetOnly)
		} else {
			assert.Empty(t, rep.TargetOnly)
		}

		pg := sqlstore.New(dst)
		for _, a := range []appointment.Appointment{first, cancelled, again} {
			want, err := st.Get(ctx, a.ID)
			require.NoError(t, err)
			got, err := pg.Get(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		}
		trail := repotest.Trail(t, pg, first.PatientID)
		assert.Len(t, trail, 1)

		// The copy serves: its locks fill as bookings come, and the
		// time still held is refused.
		next := repotest.New(doctor, 60, 90)
		require.NoError(t, pg.Book(ctx, next, service.BookOptions{Audit: repotest.Audit(next)}))
		clash := repotest.New(doctor, 45, 75)
		assert.Error(t, pg.Book(ctx, clash, service.BookOptions{Audit: repotest.Audit(clash)}))
	})
}
