package repotest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
)

// runPatientOverlap checks that a patient is in one place at a time: with
// NoPatientOverlap, a booking or a move to a time overlapping another
// active appointment of the patient, with any doctor, is refused with
// appointment.ErrPatientBusy, under concurrency too; without it (an
// administrator's), it is not.
func runPatientOverlap(t *testing.T, newFixture func(t *testing.T) Fixture) {
	ctx := context.Background()
	free := service.BookOptions{NoPatientOverlap: true}
	of := func(patient string, a appointment.Appointment) appointment.Appointment {
		a.PatientID = patient
		return a
	}

	t.Run("a patient's overlapping booking with another doctor is refused; touching ones are not", func(t *testing.T) {
		f := newFixture(t)
		patient, doctor := ids.New(), ids.New()
		require.NoError(t, f.Repo.Book(ctx, of(patient, New(doctor, 0, 30)), free))
		for _, span := range [][2]int{{15, 45}, {-15, 15}, {-60, 120}, {10, 20}, {0, 30}} {
			err := f.Repo.Book(ctx, of(patient, New(ids.New(), span[0], span[1])), free, event(t, New(doctor, 0, 30)))
			assert.ErrorIs(t, err, appointment.ErrPatientBusy, "%v overlaps 0-30", span)
		}
		assert.ErrorIs(t, f.Repo.Book(ctx, of(patient, New(doctor, 0, 30)), free), appointment.ErrPatientBusy,
			"the same time with the same doctor again: the patient is told they are busy, on every database")
		require.NoError(t, f.Repo.Book(ctx, of(patient, New(ids.New(), 30, 60)), free), "starting when the other ends")
		require.NoError(t, f.Repo.Book(ctx, of(patient, New(ids.New(), -30, 0)), free), "ending when the other starts")
		require.NoError(t, f.Repo.Book(ctx, New(ids.New(), 0, 30), free), "another patient at that time")
		assert.Equal(t, 4, f.Count(t, "appointments"))
		assert.Equal(t, 0, f.Count(t, "outbox"), "a refused booking leaves no event")
	})

	t.Run("only an active appointment of the patient holds them", func(t *testing.T) {
		f := newFixture(t)
		patient := ids.New()
		for _, st := range []appointment.Status{appointment.Cancelled, appointment.EnteredInError, appointment.Arrived, appointment.CheckedIn} {
			a := of(patient, New(ids.New(), 0, 30))
			require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
			b := a
			b.Status, b.Version = st, 2
			require.NoError(t, f.Repo.Update(ctx, b, 1, Audit(b)))
			err := f.Repo.Book(ctx, of(patient, New(ids.New(), 0, 30)), free)
			if st.Occupies() {
				assert.ErrorIs(t, err, appointment.ErrPatientBusy, "an appointment %s holds the patient", st)
				// Free the time for the next status.
				b.Status, b.Version = appointment.EnteredInError, 3
				require.NoError(t, f.Repo.Update(ctx, b, 2, Audit(b)))
			} else {
				require.NoError(t, err, "an appointment %s does not hold the patient", st)
				// And neither does this one, for the next status.
				var mine []appointment.Appointment
				mine, err = f.Repo.List(ctx, service.Query{PatientID: patient, Statuses: []appointment.Status{appointment.Booked}, Limit: 10})
				require.NoError(t, err)
				require.Len(t, mine, 1)
				c := mine[0]
				c.Status, c.Version = appointment.Cancelled, 2
				require.NoError(t, f.Repo.Update(ctx, c, 1, Audit(c)))
			}
		}
	})

	t.Run("a move into the patient's other appointment is refused; over its own old time it is not", func(t *testing.T) {
		f := newFixture(t)
		patient := ids.New()
		a := of(patient, New(ids.New(), 0, 30))
		require.NoError(t, f.Repo.Book(ctx, a, free))
		require.NoError(t, f.Repo.Book(ctx, of(patient, New(ids.New(), 60, 90)), free))
		moved := a
		moved.Start, moved.End, moved.Version = at(75), at(105), 2
		err := f.Repo.Reschedule(ctx, moved, 1, service.RescheduleOptions{Audit: Audit(moved), NoPatientOverlap: true}, event(t, moved))
		assert.ErrorIs(t, err, appointment.ErrPatientBusy)
		got, err := f.Repo.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, a, got, "a refused move changes nothing")
		assert.Equal(t, 0, f.Count(t, "outbox"))

		moved.Start, moved.End = at(15), at(45)
		require.NoError(t, f.Repo.Reschedule(ctx, moved, 1, service.RescheduleOptions{Audit: Audit(moved), NoPatientOverlap: true}),
			"overlapping its own old time is no conflict")
		again := moved
		again.Start, again.End, again.Version = at(30), at(60), 3
		require.NoError(t, f.Repo.Reschedule(ctx, again, 2, service.RescheduleOptions{Audit: Audit(again), NoPatientOverlap: true}),
			"ending when the other starts")
		got, err = f.Repo.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, at(30), got.Start)
	})

	t.Run("without the rule (an administrator's booking or move) the patient may hold overlapping times", func(t *testing.T) {
		f := newFixture(t)
		patient := ids.New()
		require.NoError(t, f.Repo.Book(ctx, of(patient, New(ids.New(), 0, 30)), free))
		joint := of(patient, New(ids.New(), 0, 30))
		require.NoError(t, f.Repo.Book(ctx, joint, service.BookOptions{MaxActive: 10, Now: at(-60)}))
		b := of(patient, New(ids.New(), 60, 90))
		require.NoError(t, f.Repo.Book(ctx, b, free))
		moved := b
		moved.Start, moved.End, moved.Version = at(15), at(45), 2
		require.NoError(t, f.Repo.Reschedule(ctx, moved, 1, service.RescheduleOptions{Audit: Audit(moved)}))
		assert.Equal(t, 3, f.Count(t, "appointments"))
	})

	t.Run("a move offers the freed time to the waitlist", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		a := New(doctor, 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, free))
		w := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: today.String(), PatientID: ids.New(), PatientUserID: ids.New(),
			CreatedAt: a.CreatedAt}
		require.NoError(t, f.Repo.JoinWaitlist(ctx, w, service.PatientSeen{}, today, appointment.AuditEvent{}))
		moved := a
		moved.Start, moved.End, moved.Version = at(60), at(90), 2
		offered := 0
		offer := &service.Offer{DoctorID: doctor, Start: a.Start, Day: today.String(), PatientID: a.PatientID,
			Event: func(appointment.WaitlistEntry) (events.Event, error) {
				offered++
				return event(t, a), nil
			}}
		require.NoError(t, f.Repo.Reschedule(ctx, moved, 1, service.RescheduleOptions{Audit: Audit(moved), Offer: offer, NoPatientOverlap: true}))
		assert.Equal(t, 1, offered)
		assert.Equal(t, 0, f.Count(t, "waitlist"), "the entry left the list")
	})

	t.Run("concurrent bookings of one patient with different doctors at overlapping times: one wins", func(t *testing.T) {
		f := newFixture(t)
		patient := ids.New()
		// No cap: the rule alone must queue them.
		errs := concurrently(30, func(i int) error {
			// Each with another doctor, spans of 20 to 49 minutes all covering minute 19.
			return f.Repo.Book(ctx, of(patient, New(ids.New(), 0, 20+i)), free)
		})
		assertOneWins(t, errs, appointment.ErrPatientBusy)
		assert.Equal(t, 1, f.Count(t, "appointments"))
	})

	t.Run("concurrent moves and bookings of one patient into overlapping times: one wins", func(t *testing.T) {
		f := newFixture(t)
		patient := ids.New()
		var apps []appointment.Appointment
		for i := range 10 {
			a := of(patient, New(ids.New(), 120+60*i, 150+60*i))
			require.NoError(t, f.Repo.Book(ctx, a, free))
			apps = append(apps, a)
		}
		errs := concurrently(20, func(i int) error {
			if i < len(apps) {
				m := apps[i]
				m.Start, m.End, m.Version = at(0), at(30), 2
				return f.Repo.Reschedule(ctx, m, 1, service.RescheduleOptions{Audit: Audit(m), NoPatientOverlap: true})
			}
			return f.Repo.Book(ctx, of(patient, New(ids.New(), 15, 45)), free)
		})
		assertOneWins(t, errs, appointment.ErrPatientBusy)
		now := at(-60)
		mine, err := f.Repo.List(ctx, service.Query{PatientID: patient, EndAfter: &now, Limit: 100})
		require.NoError(t, err)
		held := 0
		for _, a := range mine {
			if a.Start.Before(at(45)) {
				held++
			}
		}
		assert.Equal(t, 1, held, "one appointment of the patient in the contested time")
	})
}
