// Package repotest is the contract of the service.Repository port, run by
// every adapter of it against real databases.
package repotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/events/schematest"
	"github.com/medisync/medisync/shared/ids"
)

// Fixture is one repository under test; Count returns how many rows a
// table holds, so the suite can check what was written besides the answers.
type Fixture struct {
	Repo  service.Repository
	Count func(t *testing.T, table string) int
	// Outbox returns the events written to the outbox, oldest first.
	Outbox func(t *testing.T) []events.Event
}

// base is a Monday morning well in the future.
var base = time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)

// today is the day of base: the waitlist days of the suite are today or later.
var today = civil.Of(base)

func at(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }

// New returns an appointment of doctor from minute a to minute b of base.
func New(doctorID string, a, b int) appointment.Appointment {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	booker := ids.New()
	return appointment.Appointment{
		ID: ids.New(), PatientID: ids.New(), PatientUserID: ids.New(), DoctorID: doctorID, DoctorUserID: ids.New(),
		DoctorName: "Ada Lovelace", TimeZone: "Europe/Paris", Start: at(a), End: at(b), Status: appointment.Booked,
		Reason: "Follow-up", BookedBy: booker, UpdatedBy: booker, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
}

func event(t *testing.T, a appointment.Appointment) events.Event {
	t.Helper()
	ev, err := events.New("appointment.booked", 1, a.ID, map[string]string{"appointmentId": a.ID}, a.UpdatedAt)
	require.NoError(t, err)
	return ev
}

// Audit returns an audit event of a change to a, as the service writes
// with it.
func Audit(a appointment.Appointment) appointment.AuditEvent {
	return appointment.AuditEvent{ID: ids.New(), OccurredAt: a.UpdatedAt, UserID: a.UpdatedBy, Role: authn.RolePatient,
		Action: appointment.ActionStatus, Resource: appointment.ResourceAppointment, PatientID: a.PatientID, ResourceID: a.ID,
		Outcome: appointment.OutcomeAllowed, RequestID: "req-" + a.ID}
}

// Run checks the promises of service.Repository.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	ctx := context.Background()

	t.Run("book, get, event in the outbox", func(t *testing.T) {
		f := newFixture(t)
		a := New(ids.New(), 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}, event(t, a)))
		got, err := f.Repo.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, a, got)
		assert.Equal(t, 1, f.Count(t, "outbox"))
		_, err = f.Repo.Get(ctx, ids.New())
		assert.ErrorIs(t, err, appointment.ErrNotFound)
	})

	t.Run("fifty concurrent bookers of one slot: one wins", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		errs := concurrently(50, func(i int) error {
			a := New(doctor, 0, 30)
			return f.Repo.Book(ctx, a, service.BookOptions{}, event(t, a))
		})
		assertOneWins(t, errs, appointment.ErrSlotTaken)
		assert.Equal(t, 1, f.Count(t, "appointments"))
		assert.Equal(t, 1, f.Count(t, "outbox"), "a refused booking leaves no event")
	})

	t.Run("overlapping unequal slots are refused; touching ones are not", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		require.NoError(t, f.Repo.Book(ctx, New(doctor, 0, 30), service.BookOptions{}))
		for _, span := range [][2]int{{15, 45}, {-15, 15}, {-60, 120}, {10, 20}} {
			err := f.Repo.Book(ctx, New(doctor, span[0], span[1]), service.BookOptions{})
			assert.ErrorIs(t, err, appointment.ErrSlotTaken, "%v overlaps 0-30", span)
		}
		require.NoError(t, f.Repo.Book(ctx, New(doctor, 30, 60), service.BookOptions{}), "a slot that starts where another ends")
		require.NoError(t, f.Repo.Book(ctx, New(doctor, -20, 0), service.BookOptions{}), "a slot that ends where another starts")
		require.NoError(t, f.Repo.Book(ctx, New(ids.New(), 0, 30), service.BookOptions{}), "another doctor's slot")
	})

	t.Run("fifty concurrent bookers of overlapping unequal slots: one wins", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		errs := concurrently(50, func(i int) error {
			// Spans of 20 to 69 minutes all covering minute 19.
			return f.Repo.Book(ctx, New(doctor, 0, 20+i), service.BookOptions{})
		})
		assertOneWins(t, errs, appointment.ErrSlotTaken)
		assert.Equal(t, 1, f.Count(t, "appointments"))
	})

	t.Run("cancel then book again", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		a := New(doctor, 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		c := a
		c.Status, c.CancellationReason, c.Version = appointment.Cancelled, appointment.PatientRequest, 2
		c.UpdatedBy = ids.New()
		require.NoError(t, f.Repo.Update(ctx, c, 1, Audit(c), event(t, c)))
		b := New(doctor, 0, 30)
		require.NoError(t, f.Repo.Book(ctx, b, service.BookOptions{}))
		// Taking the cancelled one back would double-book.
		back := c
		back.Status, back.Version = appointment.Booked, 3
		assert.ErrorIs(t, f.Repo.Update(ctx, back, 2, Audit(back)), appointment.ErrSlotTaken)
		got, err := f.Repo.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, appointment.Cancelled, got.Status)
		assert.Equal(t, appointment.PatientRequest, got.CancellationReason)
		assert.Equal(t, c.UpdatedBy, got.UpdatedBy, "who changed it")
		assert.Equal(t, a.BookedBy, got.BookedBy, "who booked it stays")
	})

	t.Run("update checks the version", func(t *testing.T) {
		f := newFixture(t)
		a := New(ids.New(), 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		a.Status, a.Version = appointment.Arrived, 2
		assert.ErrorIs(t, f.Repo.Update(ctx, a, 5, Audit(a)), appointment.ErrStale)
		ghost := New(ids.New(), 0, 30)
		assert.ErrorIs(t, f.Repo.Update(ctx, ghost, 1, Audit(ghost)), appointment.ErrNotFound)
	})

	t.Run("reschedule frees the old time and takes the new one at once", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		a := New(doctor, 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		require.NoError(t, f.Repo.Book(ctx, New(doctor, 60, 90), service.BookOptions{}))
		moved := a
		moved.Start, moved.End, moved.Version = at(60), at(90), 2
		assert.ErrorIs(t, f.Repo.Update(ctx, moved, 1, Audit(moved)), appointment.ErrSlotTaken)
		moved.Start, moved.End, moved.TimeZone = at(15), at(45), "Asia/Tokyo"
		require.NoError(t, f.Repo.Update(ctx, moved, 1, Audit(moved)), "overlapping its own old time is no conflict")
		require.NoError(t, f.Repo.Book(ctx, New(doctor, -30, 0), service.BookOptions{}))
		got, err := f.Repo.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, at(15), got.Start)
		assert.Equal(t, "Asia/Tokyo", got.TimeZone, "the new time's zone")
	})

	t.Run("fifty concurrent reschedules into one slot: one wins", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		var apps []appointment.Appointment
		for i := range 50 {
			a := New(doctor, 60*(i+1), 60*(i+1)+30)
			require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
			apps = append(apps, a)
		}
		errs := concurrently(50, func(i int) error {
			m := apps[i]
			m.Start, m.End, m.Version = at(0), at(30), 2
			return f.Repo.Update(ctx, m, 1, Audit(m))
		})
		assertOneWins(t, errs, appointment.ErrSlotTaken)
		taken, err := f.Repo.Taken(ctx, doctor, at(0), at(30))
		require.NoError(t, err)
		assert.Len(t, taken, 1)
	})

	t.Run("one idempotency key, many concurrent requests: one appointment", func(t *testing.T) {
		f := newFixture(t)
		doctor, user := ids.New(), ids.New()
		errs := concurrently(10, func(i int) error {
			a := New(doctor, 0, 30)
			key := &service.IdempotencyKey{UserID: user, Key: "k-1", RequestHash: "h", CreatedAt: a.CreatedAt}
			return f.Repo.Book(ctx, a, service.BookOptions{Key: key})
		})
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			assert.ErrorIs(t, err, service.ErrKeyUsed)
		}
		assert.Equal(t, 1, won)
		assert.Equal(t, 1, f.Count(t, "appointments"))
		rec, err := f.Repo.IdempotentBooking(ctx, user, "k-1")
		require.NoError(t, err)
		assert.Equal(t, "h", rec.RequestHash)
		_, err = f.Repo.Get(ctx, rec.AppointmentID)
		require.NoError(t, err)
		_, err = f.Repo.IdempotentBooking(ctx, ids.New(), "k-1")
		assert.ErrorIs(t, err, service.ErrKeyUnknown, "keys are scoped per user")

		n, err := f.Repo.PurgeKeys(ctx, time.Date(2031, 1, 1, 0, 0, 1, 0, time.UTC))
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
		_, err = f.Repo.IdempotentBooking(ctx, user, "k-1")
		assert.ErrorIs(t, err, service.ErrKeyUnknown)
	})

	t.Run("taken: the held times overlapping the window, and only those", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		inside, across, before, cancelled := New(doctor, 60, 90), New(doctor, 0, 40), New(doctor, -30, 0), New(doctor, 120, 150)
		for _, a := range []appointment.Appointment{inside, across, before, cancelled} {
			require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		}
		require.NoError(t, f.Repo.Book(ctx, New(ids.New(), 60, 90), service.BookOptions{}))
		c := cancelled
		c.Status, c.Version = appointment.Cancelled, 2
		require.NoError(t, f.Repo.Update(ctx, c, 1, Audit(c)))
		got, err := f.Repo.Taken(ctx, doctor, at(0), at(180))
		require.NoError(t, err)
		assert.Equal(t, []service.Range{{Start: at(0), End: at(40)}, {Start: at(60), End: at(90)}}, got)
	})

	t.Run("waitlist: first come, first offered, once", func(t *testing.T) {
		f := newFixture(t)
		doctor, user := ids.New(), ids.New()
		patients := map[string]string{} // patient id by user
		entry := func(userID, day string, minute int) appointment.WaitlistEntry {
			if patients[userID] == "" {
				patients[userID] = ids.New()
			}
			return appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: day, PatientID: patients[userID],
				PatientUserID: userID, CreatedAt: base.Add(time.Duration(minute) * time.Minute)}
		}
		first, second := entry(user, "2031-03-03", 1), entry(ids.New(), "2031-03-03", 2)
		require.NoError(t, f.Repo.JoinWaitlist(ctx, second, service.PatientSeen{}, today, appointment.AuditEvent{}))
		require.NoError(t, f.Repo.JoinWaitlist(ctx, first, service.PatientSeen{}, today, appointment.AuditEvent{}))
		require.NoError(t, f.Repo.JoinWaitlist(ctx, entry(ids.New(), "2031-03-04", 0), service.PatientSeen{}, today, appointment.AuditEvent{}))
		again := first
		again.ID = ids.New()
		assert.ErrorIs(t, f.Repo.JoinWaitlist(ctx, again, service.PatientSeen{}, today, appointment.AuditEvent{}), appointment.ErrAlreadyWaiting)
		for i := 0; i < appointment.MaxWaitlistEntries-1; i++ {
			require.NoError(t, f.Repo.JoinWaitlist(ctx, entry(user, fmt.Sprintf("2031-04-%02d", i+1), 0), service.PatientSeen{}, today, appointment.AuditEvent{}))
		}
		assert.ErrorIs(t, f.Repo.JoinWaitlist(ctx, entry(user, "2031-05-01", 0), service.PatientSeen{}, today, appointment.AuditEvent{}), appointment.ErrWaitlistFull)
		mine, err := f.Repo.Waitlist(ctx, user, today)
		require.NoError(t, err)
		assert.Len(t, mine, appointment.MaxWaitlistEntries)

		a := New(doctor, 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		before := f.Count(t, "outbox")
		var offered []string
		offer := service.Offer{DoctorID: doctor, Start: base, Day: "2031-03-03", Event: func(e appointment.WaitlistEntry) (events.Event, error) {
			offered = append(offered, e.PatientUserID)
			return events.New("appointment.slot_freed", 1, doctor, map[string]string{"offeredToPatientUserId": e.PatientUserID}, base)
		}}
		c := a
		c.Status, c.Version = appointment.Cancelled, 2
		require.NoError(t, f.Repo.UpdateAndOffer(ctx, c, 1, Audit(c), offer, event(t, c)))
		assert.Equal(t, []string{user}, offered, "the earliest entry of the day")
		assert.Equal(t, before+2, f.Count(t, "outbox"), "the change's event and the offer")
		mine, err = f.Repo.Waitlist(ctx, user, today)
		require.NoError(t, err)
		assert.Len(t, mine, appointment.MaxWaitlistEntries-1, "an offered entry leaves the list")

		require.NoError(t, f.Repo.LeaveWaitlist(ctx, second.PatientUserID, second.ID, appointment.AuditEvent{}))
		assert.ErrorIs(t, f.Repo.LeaveWaitlist(ctx, second.PatientUserID, second.ID, appointment.AuditEvent{}), appointment.ErrWaitlistNotFound)
		assert.ErrorIs(t, f.Repo.LeaveWaitlist(ctx, ids.New(), mine[0].ID, appointment.AuditEvent{}), appointment.ErrWaitlistNotFound, "only one's own")

		b := New(doctor, 60, 90)
		require.NoError(t, f.Repo.Book(ctx, b, service.BookOptions{}))
		c = b
		c.Status, c.Version = appointment.Cancelled, 2
		require.NoError(t, f.Repo.UpdateAndOffer(ctx, c, 1, Audit(c), offer))
		assert.Len(t, offered, 1, "nobody left waiting for that day")
	})

	t.Run("waitlist: a freed time goes to the first entry whose day, as joined, holds its start", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		// join stores an entry for day, its bounds read in zone ("" for an
		// entry stored before bounds were kept), joined at minute m.
		join := func(day, zone string, m int) appointment.WaitlistEntry {
			e := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: day, PatientID: ids.New(), PatientUserID: ids.New(),
				CreatedAt: base.Add(time.Duration(m) * time.Minute)}
			if zone != "" {
				loc, err := time.LoadLocation(zone)
				require.NoError(t, err)
				d := civil.MustParse(day)
				e.DayFrom, e.DayUntil, e.TimeZone = d.In(loc).UTC(), d.AddDays(1).In(loc).UTC(), zone
			}
			require.NoError(t, f.Repo.JoinWaitlist(ctx, e, service.PatientSeen{}, today.AddDays(-1), appointment.AuditEvent{}))
			return e
		}
		// The time freed starts at base, 09:00Z on 3 March, and is on 3
		// March in the zone stored with its appointment.
		west := join("2031-03-03", "Pacific/Pago_Pago", 0)        // from 11:00Z: not yet begun
		east := join("2031-03-04", "Asia/Tokyo", 1)               // from 15:00Z on the 3rd
		kiritimati := join("2031-03-03", "Pacific/Kiritimati", 2) // until 10:00Z
		legacy := join("2031-03-03", "", 3)
		yesterday := join("2031-03-02", "Pacific/Pago_Pago", 4) // until 11:00Z on the 3rd

		mine, err := f.Repo.Waitlist(ctx, kiritimati.PatientUserID, today)
		require.NoError(t, err)
		require.Len(t, mine, 1)
		assert.Equal(t, kiritimati, mine[0], "the bounds and the zone are kept")

		var offered []string
		offer := service.Offer{DoctorID: doctor, Start: base, Day: "2031-03-03", Event: func(e appointment.WaitlistEntry) (events.Event, error) {
			offered = append(offered, e.ID)
			return events.New("appointment.slot_freed", 1, doctor, map[string]string{"offeredToPatientUserId": e.PatientUserID}, base)
		}}
		for i := range 4 {
			a := New(doctor, 60*i, 60*i+30)
			require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
			c := a
			c.Status, c.Version = appointment.Cancelled, 2
			require.NoError(t, f.Repo.UpdateAndOffer(ctx, c, 1, Audit(c), offer))
		}
		assert.Equal(t, []string{kiritimati.ID, legacy.ID, yesterday.ID}, offered, "in the order they joined, of those whose day holds the start")
		assert.Equal(t, 2, f.Count(t, "waitlist"))
		for _, e := range []appointment.WaitlistEntry{west, east} {
			mine, err := f.Repo.Waitlist(ctx, e.PatientUserID, today)
			require.NoError(t, err)
			assert.Len(t, mine, 1, "waiting for a day that does not hold the start")
		}
	})

	t.Run("waitlist: the patient who held a freed time is passed over and keeps their wait", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		a := New(doctor, 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		own := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: "2031-03-03", PatientID: a.PatientID,
			PatientUserID: a.PatientUserID, CreatedAt: base}
		other := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: "2031-03-03", PatientID: ids.New(),
			PatientUserID: ids.New(), CreatedAt: base.Add(time.Minute)}
		for _, e := range []appointment.WaitlistEntry{own, other} {
			require.NoError(t, f.Repo.JoinWaitlist(ctx, e, service.PatientSeen{}, today, appointment.AuditEvent{}))
		}
		var offered []string
		offer := service.Offer{DoctorID: doctor, Start: base, Day: "2031-03-03", PatientID: a.PatientID,
			Event: func(e appointment.WaitlistEntry) (events.Event, error) {
				offered = append(offered, e.ID)
				return events.New("appointment.slot_freed", 1, doctor, map[string]string{"offeredToPatientUserId": e.PatientUserID}, base)
			}}
		c := a
		c.Status, c.Version = appointment.Cancelled, 2
		require.NoError(t, f.Repo.UpdateAndOffer(ctx, c, 1, Audit(c), offer))
		assert.Equal(t, []string{other.ID}, offered, "the next patient waiting, not the one who gave the time up")
		mine, err := f.Repo.Waitlist(ctx, own.PatientUserID, today)
		require.NoError(t, err)
		assert.Equal(t, []appointment.WaitlistEntry{own}, mine, "the wait of the patient who held the time stays")
	})

	t.Run("waitlist: passed days neither count nor are listed, and are purged", func(t *testing.T) {
		f := newFixture(t)
		doctor, patient, user := ids.New(), ids.New(), ids.New()
		join := func(day, since civil.Date) error {
			return f.Repo.JoinWaitlist(ctx, appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: day.String(),
				PatientID: patient, PatientUserID: user, CreatedAt: base}, service.PatientSeen{}, since, appointment.AuditEvent{})
		}
		for i := range appointment.MaxWaitlistEntries {
			require.NoError(t, join(today.AddDays(i), today))
		}
		assert.ErrorIs(t, join(today.AddDays(30), today), appointment.ErrWaitlistFull)

		later := today.AddDays(10) // ten of the days have passed
		for i := range 10 {
			require.NoError(t, join(today.AddDays(30+i), later))
		}
		assert.ErrorIs(t, join(today.AddDays(40), later), appointment.ErrWaitlistFull)
		mine, err := f.Repo.Waitlist(ctx, user, later)
		require.NoError(t, err)
		require.Len(t, mine, appointment.MaxWaitlistEntries)
		for _, e := range mine {
			assert.GreaterOrEqual(t, e.Day, later.String(), "a passed day is not listed")
		}

		other := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: later.String(), PatientID: ids.New(),
			PatientUserID: ids.New(), CreatedAt: base}
		require.NoError(t, f.Repo.JoinWaitlist(ctx, other, service.PatientSeen{}, today, appointment.AuditEvent{}))
		n, err := f.Repo.PurgeWaitlist(ctx, later)
		require.NoError(t, err)
		assert.EqualValues(t, 10, n)
		assert.Equal(t, appointment.MaxWaitlistEntries+1, f.Count(t, "waitlist"), "the days from later on stay")
		n, err = f.Repo.PurgeWaitlist(ctx, later)
		require.NoError(t, err)
		assert.Zero(t, n)
	})

	t.Run("waitlist cap holds under concurrent requests", func(t *testing.T) {
		f := newFixture(t)
		doctor, patient, user := ids.New(), ids.New(), ids.New()
		n := 2 * appointment.MaxWaitlistEntries
		errs := concurrently(n, func(i int) error {
			return f.Repo.JoinWaitlist(ctx, appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor,
				Day: base.AddDate(0, 0, i).Format(time.DateOnly), PatientID: patient, PatientUserID: user, CreatedAt: base}, service.PatientSeen{}, today,
				appointment.AuditEvent{})
		})
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			assert.ErrorIs(t, err, appointment.ErrWaitlistFull)
		}
		assert.Equal(t, appointment.MaxWaitlistEntries, won)
		assert.Equal(t, appointment.MaxWaitlistEntries, f.Count(t, "waitlist"))
	})

	t.Run("cap on a patient's active appointments", func(t *testing.T) {
		f := newFixture(t)
		now := at(0)
		o := service.BookOptions{MaxActive: 3, Now: now}
		patient := ids.New()
		mine := func(a appointment.Appointment) appointment.Appointment { a.PatientID = patient; return a }
		// Ended, cancelled and fulfilled appointments do not count.
		require.NoError(t, f.Repo.Book(ctx, mine(New(ids.New(), -60, -30)), o))
		c := mine(New(ids.New(), 60, 90))
		require.NoError(t, f.Repo.Book(ctx, c, o))
		c.Status, c.Version = appointment.Cancelled, 2
		require.NoError(t, f.Repo.Update(ctx, c, 1, Audit(c)))
		d := mine(New(ids.New(), 60, 90))
		require.NoError(t, f.Repo.Book(ctx, d, o))
		d.Status, d.Version = appointment.Fulfilled, 2
		require.NoError(t, f.Repo.Update(ctx, d, 1, Audit(d)))
		for i := range 3 {
			require.NoError(t, f.Repo.Book(ctx, mine(New(ids.New(), 60*i+10, 60*i+40)), o))
		}
		assert.ErrorIs(t, f.Repo.Book(ctx, mine(New(ids.New(), 300, 330)), o), appointment.ErrTooManyActive)
		require.NoError(t, f.Repo.Book(ctx, mine(New(ids.New(), 300, 330)), service.BookOptions{}), "no cap, no refusal")
		require.NoError(t, f.Repo.Book(ctx, New(ids.New(), 300, 330), o), "another patient")
	})

	t.Run("cap on a patient's active appointments holds under concurrent bookings", func(t *testing.T) {
		f := newFixture(t)
		patient := ids.New()
		o := service.BookOptions{MaxActive: 5, Now: at(0)}
		errs := concurrently(30, func(i int) error {
			// Each with another doctor: no doctor's lock orders them.
			a := New(ids.New(), 30, 60)
			a.PatientID = patient
			return f.Repo.Book(ctx, a, o)
		})
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
				continue
			}
			assert.ErrorIs(t, err, appointment.ErrTooManyActive)
		}
		assert.Equal(t, 5, won)
		assert.Equal(t, 5, f.Count(t, "appointments"))
	})

	t.Run("an idempotency key past its retention is replaced", func(t *testing.T) {
		f := newFixture(t)
		user := ids.New()
		old := New(ids.New(), 0, 30)
		key := &service.IdempotencyKey{UserID: user, Key: "k", RequestHash: "h1", CreatedAt: old.CreatedAt,
			ExpiredBefore: old.CreatedAt.Add(-time.Hour)}
		require.NoError(t, f.Repo.Book(ctx, old, service.BookOptions{Key: key}))
		again := *key
		again.RequestHash, again.CreatedAt, again.ExpiredBefore = "h2", old.CreatedAt.Add(time.Hour), old.CreatedAt
		assert.ErrorIs(t, f.Repo.Book(ctx, New(ids.New(), 0, 30), service.BookOptions{Key: &again}), service.ErrKeyUsed,
			"a key stored at the cut-off is still kept")
		again.CreatedAt, again.ExpiredBefore = old.CreatedAt.Add(25*time.Hour), old.CreatedAt.Add(time.Hour)
		fresh := New(ids.New(), 0, 30)
		require.NoError(t, f.Repo.Book(ctx, fresh, service.BookOptions{Key: &again}))
		rec, err := f.Repo.IdempotentBooking(ctx, user, "k")
		require.NoError(t, err)
		assert.Equal(t, service.IdempotencyRecord{RequestHash: "h2", AppointmentID: fresh.ID, CreatedAt: again.CreatedAt}, rec)
	})

	t.Run("lists: filters, order and keyset pages", func(t *testing.T) {
		f := newFixture(t)
		doctor, patientUser := ids.New(), ids.New()
		var mine []appointment.Appointment
		for i := range 5 {
			a := New(doctor, 60*i, 60*i+30)
			a.PatientUserID = patientUser
			require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
			mine = append(mine, a)
		}
		require.NoError(t, f.Repo.Book(ctx, New(doctor, 400, 430), service.BookOptions{}))

		q := service.Query{PatientUserID: patientUser, Limit: 3}
		got, err := f.Repo.List(ctx, q)
		require.NoError(t, err)
		require.Len(t, got, 3)
		assert.Equal(t, mine[0].ID, got[0].ID)
		q.After = &service.Cursor{Start: got[2].Start, ID: got[2].ID}
		got, err = f.Repo.List(ctx, q)
		require.NoError(t, err)
		assert.Equal(t, []string{mine[3].ID, mine[4].ID}, idsOf(got))

		q = service.Query{DoctorID: doctor, Order: service.Descending, Limit: 2}
		got, err = f.Repo.List(ctx, q)
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, mine[4].ID, got[1].ID)

		from, to := at(60), at(180)
		got, err = f.Repo.List(ctx, service.Query{DoctorID: doctor, StartFrom: &from, StartBefore: &to, Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []string{mine[1].ID, mine[2].ID}, idsOf(got))

		now := at(100)
		got, err = f.Repo.List(ctx, service.Query{PatientUserID: patientUser, EndAfter: &now, Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []string{mine[2].ID, mine[3].ID, mine[4].ID}, idsOf(got), "upcoming")
		got, err = f.Repo.List(ctx, service.Query{PatientUserID: patientUser, EndNotAfter: &now, Order: service.Descending, Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []string{mine[1].ID, mine[0].ID}, idsOf(got), "past, latest first")

		got, err = f.Repo.List(ctx, service.Query{DoctorID: doctor, Statuses: []appointment.Status{appointment.Cancelled}, Limit: 10})
		require.NoError(t, err)
		assert.Empty(t, got)
	})

	t.Run("lists: a participant's appointments as doctor and as patient, once each, in keyset pages", func(t *testing.T) {
		f := newFixture(t)
		user, doctor, other := ids.New(), ids.New(), ids.New()
		book := func(doctorID string, m int, asDoctor, asPatient bool) appointment.Appointment {
			a := New(doctorID, m, m+30)
			if asDoctor {
				a.DoctorUserID = user
			}
			if asPatient {
				a.PatientUserID = user
			}
			require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
			return a
		}
		var want []string
		for i, m := range []int{0, 60, 120, 180, 240} {
			if i%2 == 0 {
				want = append(want, book(doctor, m, true, false).ID) // their patients
			} else {
				want = append(want, book(other, m, false, true).ID) // their own care
			}
		}
		want = append(want, book(doctor, 300, true, true).ID) // with themselves: listed once
		book(other, 90, false, false)                         // neither

		all := func(q service.Query) []string {
			t.Helper()
			var out []string
			for range 10 {
				got, err := f.Repo.List(ctx, q)
				require.NoError(t, err)
				out = append(out, idsOf(got)...)
				if len(got) < q.Limit {
					return out
				}
				last := got[len(got)-1]
				q.After = &service.Cursor{Start: last.Start, ID: last.ID}
			}
			t.Fatal("the pages do not end")
			return nil
		}
		assert.Equal(t, want, all(service.Query{ParticipantUserID: user, Limit: 4}))
		reversed := make([]string, len(want))
		for i, id := range want {
			reversed[len(want)-1-i] = id
		}
		assert.Equal(t, reversed, all(service.Query{ParticipantUserID: user, Order: service.Descending, Limit: 4}))
		now := at(100)
		assert.Equal(t, want[2:], all(service.Query{ParticipantUserID: user, EndAfter: &now, Limit: 3}), "filters hold on both sides")
		assert.Equal(t, []string{want[1], want[3]}, all(service.Query{ParticipantUserID: user, DoctorID: other, Limit: 10}))
	})

	runChangedBy(t, newFixture)
	runConsumed(t, newFixture)
	runPatientStatus(t, newFixture)
	runPatientOverlap(t, newFixture)
	runAudit(t, newFixture)
}

// anyGrid is a doctor directory whose grid holds every span of an active
// doctor in the zone of New.
type anyGrid struct{}

func (anyGrid) CheckSlot(context.Context, string, time.Time, time.Time) (service.SlotCheck, error) {
	return service.SlotCheck{Doctor: service.Doctor{Active: true, TimeZone: "Europe/Paris"}, OnGrid: true}, nil
}
func (anyGrid) Me(context.Context) (service.Doctor, error) {
	return service.Doctor{}, service.ErrUnknownDoctor
}
func (anyGrid) Get(context.Context, string) (service.Doctor, error) {
	return service.Doctor{}, service.ErrUnknownDoctor
}

// activePatients is a patient directory in which every patient is active.
type activePatients struct{}

func (activePatients) Me(context.Context) (service.Patient, error) {
	return service.Patient{}, service.ErrUnknownPatient
}
func (activePatients) Get(_ context.Context, id string) (service.Patient, error) {
	return service.Patient{ID: id, Active: true}, nil
}

// runChangedBy checks that the service's changes, stored by the
// repository, name who made them in the row and in their event.
func runChangedBy(t *testing.T, newFixture func(t *testing.T) Fixture) {
	ctx := context.Background()

	t.Run("every change names who made it, in the row and in its event", func(t *testing.T) {
		f := newFixture(t)
		svc := service.New(f.Repo, anyGrid{}, activePatients{}, clocktest.New(base.AddDate(0, -1, 0)), ids.New, service.Options{})
		a := New(ids.New(), 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		patient := authn.Principal{UserID: a.PatientUserID, Roles: []string{authn.RolePatient}}
		doctor := authn.Principal{UserID: a.DoctorUserID, Roles: []string{authn.RoleDoctor}}
		admin := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleAdmin}}
		changedBy := func(who authn.Principal, typ string) {
			t.Helper()
			got, err := f.Repo.Get(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, who.UserID, got.UpdatedBy, "%s: the row", typ)
			assert.Equal(t, a.BookedBy, got.BookedBy, "%s: the booker stays", typ)
			out := f.Outbox(t)
			require.NotEmpty(t, out)
			last := out[len(out)-1]
			require.Equal(t, typ, last.Type)
			var d map[string]any
			require.NoError(t, last.Decode(&d))
			assert.Equal(t, who.UserID, d["changedBy"], "%s: the event", typ)
			schematest.Validate(t, last)
		}

		_, err := svc.Reschedule(ctx, patient, a.ID, 1, service.RescheduleInput{
			Start: at(60).Format(time.RFC3339), End: at(90).Format(time.RFC3339)})
		require.NoError(t, err)
		changedBy(patient, service.TypeRescheduled)
		_, err = svc.ChangeStatus(ctx, admin, a.ID, 2, string(appointment.Arrived))
		require.NoError(t, err)
		changedBy(admin, service.TypeStatusChanged)
		// The code a doctor gives may be the patient's; the record still
		// tells the doctor's cancellation from the patient's own.
		ap, err := svc.Cancel(ctx, doctor, a.ID, 3, service.CancelInput{Reason: string(appointment.PatientRequest)})
		require.NoError(t, err)
		assert.Equal(t, doctor.UserID, ap.UpdatedBy, "the answer")
		changedBy(doctor, service.TypeCancelled)
	})
}

// runConsumed checks Apply, the transaction of a consumed event, and the
// service's use of it for records.encounter_signed.
func runConsumed(t *testing.T, newFixture func(t *testing.T) Fixture) {
	ctx := context.Background()

	t.Run("apply: the effect of an event happens once, or not at all", func(t *testing.T) {
		f := newFixture(t)
		a := New(ids.New(), 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		ev, err := events.New(service.TypeEncounterSigned, 1, ids.New(), map[string]string{}, base)
		require.NoError(t, err)
		fulfil := func(ctx context.Context, tx service.Tx) error {
			cur, err := tx.Get(ctx, a.ID)
			if err != nil {
				return err
			}
			next := cur
			next.Status, next.Version = appointment.Fulfilled, cur.Version+1
			return tx.Update(ctx, next, cur.Version, Audit(next), event(t, next))
		}

		boom := errors.New("boom")
		fresh, err := f.Repo.Apply(ctx, ev, base, func(ctx context.Context, tx service.Tx) error {
			if err := fulfil(ctx, tx); err != nil {
				return err
			}
			return boom
		})
		assert.ErrorIs(t, err, boom)
		assert.False(t, fresh)
		assert.Equal(t, 0, f.Count(t, "processed_events"), "a failed effect leaves no claim")
		assert.Equal(t, 0, f.Count(t, "outbox"), "nor its event")
		got, err := f.Repo.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, appointment.Booked, got.Status, "nor its change")

		fresh, err = f.Repo.Apply(ctx, ev, base, fulfil)
		require.NoError(t, err)
		assert.True(t, fresh, "a redelivery after a failure applies")
		ran := false
		fresh, err = f.Repo.Apply(ctx, ev, base, func(context.Context, service.Tx) error { ran = true; return nil })
		require.NoError(t, err)
		assert.False(t, fresh)
		assert.False(t, ran, "a claimed event's effect does not run again")
		got, err = f.Repo.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, appointment.Fulfilled, got.Status)
		assert.Equal(t, 1, f.Count(t, "processed_events"))
		assert.Equal(t, 1, f.Count(t, "outbox"))

		_, err = f.Repo.Apply(ctx, otherEvent(t), base, func(ctx context.Context, tx service.Tx) error {
			_, err := tx.Get(ctx, ids.New())
			return err
		})
		assert.ErrorIs(t, err, appointment.ErrNotFound)
		_, err = f.Repo.Apply(ctx, otherEvent(t), base, func(ctx context.Context, tx service.Tx) error {
			return tx.Update(ctx, got, 1, Audit(got))
		})
		assert.ErrorIs(t, err, appointment.ErrStale)
	})

	// now is when the service applies the events: after every appointment
	// of the cases below has begun.
	now := at(120)
	newService := func(f Fixture) service.Service {
		return service.New(f.Repo, nil, nil, clocktest.New(now), ids.New, service.Options{})
	}
	// book stores an appointment from minute 0 to 30 in status st.
	book := func(t *testing.T, f Fixture, st appointment.Status) appointment.Appointment {
		a := New(ids.New(), 0, 30)
		a.Status = st
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		return a
	}

	t.Run("encounter signed: a booked, arrived or checked-in appointment is fulfilled once", func(t *testing.T) {
		f := newFixture(t)
		svc := newService(f)
		for i, st := range []appointment.Status{appointment.Booked, appointment.Arrived, appointment.CheckedIn} {
			a := book(t, f, st)
			ev := Signed(t, a, at(25))
			require.NoError(t, svc.HandleEvent(ctx, ev))
			got, err := f.Repo.Get(ctx, a.ID)
			require.NoError(t, err)
			want := a
			want.Status, want.Version, want.UpdatedAt = appointment.Fulfilled, 2, now
			want.UpdatedBy = a.DoctorUserID
			assert.Equal(t, want, got, "from %s: changed by the doctor who signed", st)

			out := f.Outbox(t)
			require.Len(t, out, i+1, "one event per fulfilment")
			last := out[i]
			assert.Equal(t, service.TypeStatusChanged, last.Type)
			assert.Equal(t, a.ID, last.Subject)
			var d service.EventData
			require.NoError(t, last.Decode(&d))
			assert.Equal(t, string(appointment.Fulfilled), d.Status)
			assert.Equal(t, string(st), d.PreviousStatus)
			assert.Equal(t, a.DoctorUserID, d.ChangedBy)
			assert.EqualValues(t, 2, d.Version)
			schematest.Validate(t, last)

			trail := Trail(t, f.Repo, a.PatientID)
			if assert.Len(t, trail, 1, "the change is on the patient's trail") {
				assert.Equal(t, []any{a.DoctorUserID, authn.RoleDoctor, appointment.ActionStatus, a.ID, appointment.OutcomeAllowed, ev.ID},
					[]any{trail[0].UserID, trail[0].Role, trail[0].Action, trail[0].ResourceID, trail[0].Outcome, trail[0].RequestID},
					"as the doctor's who signed, with the event for the request")
			}

			require.NoError(t, svc.HandleEvent(ctx, ev), "a redelivery")
			again, err := f.Repo.Get(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, got, again, "changes nothing")
			assert.Len(t, f.Outbox(t), i+1, "and writes no second event")
			assert.Len(t, Trail(t, f.Repo, a.PatientID), 1, "nor a second audit event")

			require.NoError(t, svc.HandleEvent(ctx, Signed(t, a, at(40))), "another signed encounter of the visit")
			again, err = f.Repo.Get(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, got, again, "leaves a fulfilled appointment as it is")
			assert.Len(t, f.Outbox(t), i+1)
		}
	})

	t.Run("encounter signed before the start: fulfilled once the patient is there", func(t *testing.T) {
		f := newFixture(t)
		svc := newService(f)
		for _, st := range []appointment.Status{appointment.Arrived, appointment.CheckedIn} {
			a := book(t, f, st)
			require.NoError(t, svc.HandleEvent(ctx, Signed(t, a, at(-10))))
			got, err := f.Repo.Get(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, appointment.Fulfilled, got.Status, "%s, seen early", st)
		}
	})

	t.Run("encounter signed: nothing changes what the event cannot fulfil", func(t *testing.T) {
		f := newFixture(t)
		svc := newService(f)
		cases := map[string]func() (appointment.Appointment, events.Event){}
		for _, st := range []appointment.Status{appointment.Cancelled, appointment.NoShow, appointment.EnteredInError} {
			cases[string(st)] = func() (appointment.Appointment, events.Event) {
				a := book(t, f, st)
				return a, Signed(t, a, at(25))
			}
		}
		cases["another patient"] = func() (appointment.Appointment, events.Event) {
			a := book(t, f, appointment.Booked)
			other := a
			other.PatientID = ids.New()
			return a, Signed(t, other, at(25))
		}
		cases["another doctor user"] = func() (appointment.Appointment, events.Event) {
			a := book(t, f, appointment.Booked)
			other := a
			other.DoctorUserID = ids.New()
			return a, Signed(t, other, at(25))
		}
		cases["booked, signed before the start"] = func() (appointment.Appointment, events.Event) {
			a := book(t, f, appointment.Booked)
			return a, Signed(t, a, at(-1))
		}
		cases["an unknown appointment"] = func() (appointment.Appointment, events.Event) {
			a := book(t, f, appointment.Booked)
			other := a
			other.ID = ids.New()
			return a, Signed(t, other, at(25))
		}
		cases["no appointment"] = func() (appointment.Appointment, events.Event) {
			a := book(t, f, appointment.Booked)
			return a, SignedWithout(t, a, at(25))
		}
		claims := 0
		for name, c := range cases {
			a, ev := c()
			require.NoError(t, svc.HandleEvent(ctx, ev), name)
			claims++
			got, err := f.Repo.Get(ctx, a.ID)
			require.NoError(t, err)
			assert.Equal(t, a, got, name)
			assert.Empty(t, f.Outbox(t), name)
			assert.Equal(t, claims, f.Count(t, "processed_events"), "%s: acknowledged, once", name)
		}
	})

	t.Run("encounter signed: a malformed event is refused before anything is written", func(t *testing.T) {
		f := newFixture(t)
		svc := newService(f)
		a := book(t, f, appointment.Booked)
		good := Signed(t, a, at(25))
		for name, change := range map[string]func(ev *events.Event){
			"not JSON":           func(ev *events.Event) { ev.Data = []byte(`{"encounterId":`) },
			"wrong types":        func(ev *events.Event) { ev.Data = []byte(`{"encounterId":1}`) },
			"schema version 2":   func(ev *events.Event) { ev.DataSchema = "docs/events/records.encounter_signed.v2.json" },
			"patientId":          func(ev *events.Event) { setData(t, ev, "patientId", "p-1") },
			"doctorUserId":       func(ev *events.Event) { setData(t, ev, "doctorUserId", nil) },
			"encounterId":        func(ev *events.Event) { setData(t, ev, "encounterId", "") },
			"appointmentId":      func(ev *events.Event) { setData(t, ev, "appointmentId", "not-a-uuid") },
			"appointmentId type": func(ev *events.Event) { setData(t, ev, "appointmentId", 7) },
			"no appointmentId":   func(ev *events.Event) { deleteData(t, ev, "appointmentId") },
			"no signedAt":        func(ev *events.Event) { deleteData(t, ev, "signedAt") },
		} {
			ev := good
			ev.ID = ids.New()
			change(&ev)
			assert.ErrorIs(t, svc.HandleEvent(ctx, ev), service.ErrMalformed, name)
		}
		assert.Equal(t, 0, f.Count(t, "processed_events"))
		got, err := f.Repo.Get(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, a, got)
		require.NoError(t, svc.HandleEvent(ctx, good), "the well-formed one applies")
		require.Len(t, f.Outbox(t), 1)
	})
}

// Signed is a records.encounter_signed event of a's patient and doctor
// user, for a, signed at signedAt; it follows its schema.
func Signed(t *testing.T, a appointment.Appointment, signedAt time.Time) events.Event {
	t.Helper()
	return signedEvent(t, map[string]any{"patientId": a.PatientID, "doctorUserId": a.DoctorUserID,
		"appointmentId": a.ID, "signedAt": signedAt})
}

// SignedWithout is Signed for an encounter opened without an appointment.
func SignedWithout(t *testing.T, a appointment.Appointment, signedAt time.Time) events.Event {
	t.Helper()
	return signedEvent(t, map[string]any{"patientId": a.PatientID, "doctorUserId": a.DoctorUserID,
		"appointmentId": nil, "signedAt": signedAt})
}

func signedEvent(t *testing.T, data map[string]any) events.Event {
	t.Helper()
	encounter := ids.New()
	data["encounterId"] = encounter
	ev, err := events.New(service.TypeEncounterSigned, 1, encounter, data, base)
	require.NoError(t, err)
	schematest.Validate(t, ev)
	return ev
}

func setData(t *testing.T, ev *events.Event, key string, v any) {
	t.Helper()
	editData(t, ev, func(m map[string]any) { m[key] = v })
}

func deleteData(t *testing.T, ev *events.Event, key string) {
	t.Helper()
	editData(t, ev, func(m map[string]any) { delete(m, key) })
}

func editData(t *testing.T, ev *events.Event, fn func(map[string]any)) {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(ev.Data, &m))
	fn(m)
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	ev.Data = raw
}

func otherEvent(t *testing.T) events.Event {
	t.Helper()
	ev, err := events.New(service.TypeEncounterSigned, 1, ids.New(), map[string]string{}, base)
	require.NoError(t, err)
	return ev
}

func idsOf(as []appointment.Appointment) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// concurrently runs fn n times at once and returns each call's error.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// assertOneWins: one success, every other refused with refusal.
func assertOneWins(t *testing.T, errs []error, refusal error) {
	t.Helper()
	won, lost := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, refusal):
			lost++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	assert.Equal(t, 1, won, "successes")
	assert.Equal(t, len(errs)-1, lost, "refusals")
}
