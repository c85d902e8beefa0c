package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// Two cancellations of one doctor's slots at once, both slots on the days
// of two waits that joined on neighbouring UTC dates: the first offer takes
// the older wait and must not hold the other one locked past its use, or
// the concurrent second offer passes over it and the second slot goes to
// nobody although a patient waits for its day.
func TestConcurrentOffersReachWaitsOfNeighbouringDays(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		doctor := ids.New()
		joined := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
		join := func(day, zone string, m int) appointment.WaitlistEntry {
			loc, err := time.LoadLocation(zone)
			require.NoError(t, err)
			d := civil.MustParse(day)
			e := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: day, PatientID: ids.New(), PatientUserID: ids.New(),
				CreatedAt: joined.Add(time.Duration(m) * time.Minute), DayFrom: d.In(loc).UTC(), DayUntil: d.AddDays(1).In(loc).UTC(),
				TimeZone: zone}
			require.NoError(t, s.JoinWaitlist(ctx, e, service.PatientSeen{}, civil.MustParse("2031-03-01"), appointment.AuditEvent{}))
			return e
		}
		// Both days hold 16:00Z and 17:00Z on 3 March.
		a := join("2031-03-03", "UTC", 0)        // [03-03 00:00Z, 03-04 00:00Z)
		b := join("2031-03-04", "Asia/Tokyo", 1) // [03-03 15:00Z, 03-04 15:00Z)

		first, second := repotest.New(doctor, 7*60, 7*60+30), repotest.New(doctor, 8*60, 8*60+30)
		require.NoError(t, s.Book(ctx, first, service.BookOptions{}))
		require.NoError(t, s.Book(ctx, second, service.BookOptions{}))

		offered := make(chan string, 2)
		offer := func(start time.Time, during func()) service.Offer {
			return service.Offer{DoctorID: doctor, Start: start, Day: "2031-03-03", Event: func(e appointment.WaitlistEntry) (events.Event, error) {
				offered <- e.ID
				if during != nil {
					during()
				}
				return events.New("appointment.slot_freed", 1, doctor, map[string]string{"offeredToPatientUserId": e.PatientUserID}, start)
			}}
		}
		cancel := func(ap appointment.Appointment) appointment.Appointment {
			c := ap
			c.Status, c.Version = appointment.Cancelled, 2
			return c
		}
		secondDone := make(chan error, 1)
		// The second cancellation runs while the first is inside its
		// transaction, after it chose its wait (as two requests would).
		during := func() {
			go func() {
				secondDone <- s.UpdateAndOffer(ctx, cancel(second), 1, repotest.Audit(second), offer(second.Start, nil))
			}()
			select {
			case err := <-secondDone:
				secondDone <- err
			case <-time.After(3 * time.Second): // SQLite: the second waits for the first
			}
		}
		require.NoError(t, s.UpdateAndOffer(ctx, cancel(first), 1, repotest.Audit(first), offer(first.Start, during)))
		require.NoError(t, <-secondDone)
		close(offered)
		var got []string
		for id := range offered {
			got = append(got, id)
		}
		assert.ElementsMatch(t, []string{a.ID, b.ID}, got, "each freed slot goes to one of the two waits for its day")
		var left int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM waitlist").Scan(&left))
		assert.Zero(t, left, "a patient still waits for a day whose freed slot went to nobody")
	})
}
