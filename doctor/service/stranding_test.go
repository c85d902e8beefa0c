package service_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// windowedBookings is bookings that counts the calls and, as the
// appointment service does, refuses a window longer than 40 days.
type windowedBookings struct {
	bookings
	calls atomic.Int32
}

func (w *windowedBookings) Taken(ctx context.Context, id string, from, to time.Time) ([]schedule.Range, error) {
	w.calls.Add(1)
	if to.Sub(from) > 40*24*time.Hour {
		return nil, fmt.Errorf("a window of %s is longer than 40 days", to.Sub(from))
	}
	return w.bookings.Taken(ctx, id, from, to)
}

// strandFixture is a doctor in New York working Monday mornings in
// 30-minute slots, and a booking system.
type strandFixture struct {
	svc    service.Service
	b      *windowedBookings
	admin  authn.Principal
	doctor profile.Doctor
	in     service.DoctorInput
}

func newStrandFixture(t *testing.T) strandFixture {
	t.Helper()
	ctx := context.Background()
	b := &windowedBookings{}
	svc := service.New(sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations())), b,
		clocktest.New(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)), ids.New)
	admin := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleAdmin}}
	lic := "LIC-1"
	in := service.DoctorInput{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org",
		LicenseNumber: &lic, TimeZone: "America/New_York", AppointmentMinutes: 30}
	d, err := svc.CreateDoctor(ctx, admin, in)
	require.NoError(t, err)
	_, err = svc.ReplaceAvailability(ctx, admin, d.ID, 1, service.AvailabilityInput{Input: schedule.Input{
		Weekly: []schedule.WeeklyInput{{Day: "MONDAY", Start: "09:00", End: "12:00"}}}})
	require.NoError(t, err)
	d, err = svc.GetDoctor(ctx, admin, d.ID)
	require.NoError(t, err)
	b.calls.Store(0)
	return strandFixture{svc: svc, b: b, admin: admin, doctor: d, in: in}
}

// book books the slot at start (UTC) and checks it is on the grid.
func (f strandFixture) book(t *testing.T, start string) {
	t.Helper()
	s, err := time.Parse(time.RFC3339, start)
	require.NoError(t, err)
	end := s.Add(30 * time.Minute).Format(time.RFC3339)
	c, err := f.svc.CheckSlot(context.Background(), f.admin, f.doctor.ID, start, end)
	require.NoError(t, err)
	require.True(t, c.OnGrid, "%s is a slot", start)
	f.b.book(f.doctor.ID, schedule.Range{Start: s, End: s.Add(30 * time.Minute)})
}

// A change of hours, zone or state that would leave booked appointments
// outside the doctor's working hours is refused (409) with the times, unless
// the request says to apply it all the same; the booking system is asked,
// and when it cannot answer the change waits (503).
func TestChangesThatStrandBookingsAreRefusedUnlessAllowed(t *testing.T) {
	ctx := context.Background()
	changes := map[string]func(f strandFixture, allow bool) error{
		"weekly hours": func(f strandFixture, allow bool) error {
			_, err := f.svc.ReplaceAvailability(ctx, f.admin, f.doctor.ID, 2, service.AvailabilityInput{
				Input:          schedule.Input{Weekly: []schedule.WeeklyInput{{Day: "TUESDAY", Start: "09:00", End: "12:00"}}},
				StrandBookings: allow})
			return err
		},
		"time zone": func(f strandFixture, allow bool) error {
			in := f.in
			in.TimeZone, in.StrandBookings = "Europe/Berlin", allow
			_, err := f.svc.UpdateDoctor(ctx, f.admin, f.doctor.ID, f.doctor.Version, in)
			return err
		},
		"deactivation": func(f strandFixture, allow bool) error {
			return f.svc.DeactivateDoctor(ctx, f.admin, f.doctor.ID, allow)
		},
		"deactivation on the profile": func(f strandFixture, allow bool) error {
			in, off := f.in, false
			in.Active, in.StrandBookings = &off, allow
			_, err := f.svc.UpdateDoctor(ctx, f.admin, f.doctor.ID, f.doctor.Version, in)
			return err
		},
	}
	// unchanged tells whether the grid still offers Monday 09:00 in New York.
	unchanged := func(t *testing.T, f strandFixture) bool {
		c, err := f.svc.CheckSlot(ctx, f.admin, f.doctor.ID, "2026-02-02T14:00:00Z", "2026-02-02T14:30:00Z")
		require.NoError(t, err)
		return c.OnGrid
	}
	for name, change := range changes {
		t.Run(name+" stranding a booking is a 409 listing it", func(t *testing.T) {
			f := newStrandFixture(t)
			f.book(t, "2026-02-02T14:00:00Z")
			f.book(t, "2026-12-28T14:30:00Z") // past a single window of the booking system
			err := change(f, false)
			var de *domainerr.Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, domainerr.Conflict, de.Kind)
			assert.Contains(t, de.Msg, "2 booked appointments")
			assert.Contains(t, de.Msg, "2026-02-02T14:00:00Z, 2026-12-28T14:30:00Z")
			assert.Contains(t, de.Msg, "strandBookings=true")
			assert.True(t, unchanged(t, f), "nothing was changed")
		})
		t.Run(name+" stranding a booking goes through when the request says so", func(t *testing.T) {
			f := newStrandFixture(t)
			f.book(t, "2026-02-02T14:00:00Z")
			require.NoError(t, change(f, true))
			assert.False(t, unchanged(t, f))
		})
		t.Run(name+" without a booking to strand goes through after asking", func(t *testing.T) {
			f := newStrandFixture(t)
			require.NoError(t, change(f, false))
			assert.GreaterOrEqual(t, int(f.b.calls.Load()), 12, "the booking system was asked for a year ahead, a window at a time")
			assert.False(t, unchanged(t, f))
		})
		t.Run(name+" waits while bookings cannot be read", func(t *testing.T) {
			f := newStrandFixture(t)
			f.b.err = errors.New("booking system down")
			err := change(f, false)
			assert.ErrorIs(t, err, domainerr.Unavailable)
			assert.ErrorIs(t, err, service.ErrBookingsUnavailable)
			assert.True(t, unchanged(t, f), "nothing was changed")
		})
	}
}

// Bookings that stay on the grid, past ones and those already off it do
// not hold a change back.
func TestChangesKeepingBookedSlotsGoThrough(t *testing.T) {
	ctx := context.Background()
	f := newStrandFixture(t)
	f.book(t, "2026-02-02T14:00:00Z")
	f.book(t, "2026-01-12T14:00:00Z") // before now

	// More hours keep Monday morning.
	_, err := f.svc.ReplaceAvailability(ctx, f.admin, f.doctor.ID, 2, service.AvailabilityInput{Input: schedule.Input{
		Weekly: []schedule.WeeklyInput{{Day: "MONDAY", Start: "08:00", End: "12:00"}, {Day: "TUESDAY", Start: "09:00", End: "12:00"}}}})
	require.NoError(t, err)
	// Toronto keeps New York's time.
	in := f.in
	in.TimeZone = "America/Toronto"
	d, err := f.svc.UpdateDoctor(ctx, f.admin, f.doctor.ID, f.doctor.Version, in)
	require.NoError(t, err)
	assert.Positive(t, f.b.calls.Load())

	// A booking already off the grid, stranded with the doctor's consent
	// before, is not this change's doing.
	in.TimeZone, in.StrandBookings = "Europe/Berlin", true
	d, err = f.svc.UpdateDoctor(ctx, f.admin, f.doctor.ID, d.Version, in)
	require.NoError(t, err)
	_, err = f.svc.ReplaceAvailability(ctx, f.admin, f.doctor.ID, 3, service.AvailabilityInput{Input: schedule.Input{
		Weekly: []schedule.WeeklyInput{{Day: "WEDNESDAY", Start: "09:00", End: "12:00"}}}})
	require.NoError(t, err)
	assert.Equal(t, "Europe/Berlin", d.TimeZone)
}

// Only an administrator leaves bookings outside the hours: the clinic
// answers for the patients, not the doctor.
func TestOnlyAnAdministratorStrandsBookings(t *testing.T) {
	ctx := context.Background()
	f := newStrandFixture(t)
	me := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleDoctor}}
	lic := "LIC-2"
	d, err := f.svc.CreateDoctor(ctx, me, service.DoctorInput{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org",
		LicenseNumber: &lic, TimeZone: "America/New_York", AppointmentMinutes: 30})
	require.NoError(t, err)
	_, err = f.svc.ReplaceAvailability(ctx, me, d.ID, 1, service.AvailabilityInput{
		Input:          schedule.Input{Weekly: []schedule.WeeklyInput{{Day: "MONDAY", Start: "09:00", End: "12:00"}}},
		StrandBookings: true})
	assert.ErrorIs(t, err, domainerr.Forbidden)
	in := service.DoctorInput{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org", LicenseNumber: &lic,
		TimeZone: "Europe/Berlin", AppointmentMinutes: 30, StrandBookings: true}
	_, err = f.svc.UpdateDoctor(ctx, me, d.ID, d.Version, in)
	assert.ErrorIs(t, err, domainerr.Forbidden)
}

// A doctor without hours has no booking a change of hours could strand:
// the booking system is not asked. A deactivation strands every booking,
// also one already outside the hours.
func TestDeactivationCountsEveryBookingAndNoHoursAskNothing(t *testing.T) {
	ctx := context.Background()
	f := newStrandFixture(t)
	lic := "LIC-3"
	d, err := f.svc.CreateDoctor(ctx, f.admin, service.DoctorInput{FirstName: "Alan", LastName: "Turing", Email: "alan@example.org",
		LicenseNumber: &lic, TimeZone: "Europe/London", AppointmentMinutes: 30})
	require.NoError(t, err)
	_, err = f.svc.ReplaceAvailability(ctx, f.admin, d.ID, 1, service.AvailabilityInput{Input: schedule.Input{
		Weekly: []schedule.WeeklyInput{{Day: "MONDAY", Start: "09:00", End: "12:00"}}}})
	require.NoError(t, err)
	assert.Zero(t, f.b.calls.Load(), "no hours before: nothing to strand")

	f.book(t, "2026-02-02T14:00:00Z")
	_, err = f.svc.ReplaceAvailability(ctx, f.admin, f.doctor.ID, 2, service.AvailabilityInput{
		Input:          schedule.Input{Weekly: []schedule.WeeklyInput{{Day: "TUESDAY", Start: "09:00", End: "12:00"}}},
		StrandBookings: true})
	require.NoError(t, err)
	err = f.svc.DeactivateDoctor(ctx, f.admin, f.doctor.ID, false)
	var de *domainerr.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, domainerr.Conflict, de.Kind, "the booking outside the hours is still a patient's")
	assert.Contains(t, de.Msg, "2026-02-02T14:00:00Z")
}

// No slot is offered past the booking window, which the appointment service
// holds every booking to, and a change of the grid looks further ahead than
// that: the last slot that can be booked holds a deactivation and new hours
// back like any other.
func TestTheLastBookableSlotIsWithinTheStrandingCheck(t *testing.T) {
	ctx := context.Background()
	f := newStrandFixture(t) // clock 2026-01-15T12:00Z: the window ends 2027-01-15T12:00Z
	require.Greater(t, service.BookingHorizon, service.BookingWindow)

	list, err := f.svc.Slots(ctx, f.admin, f.doctor.ID, "2027-01-04", "2027-02-01")
	require.NoError(t, err)
	require.Len(t, list.Slots, 12, "the Mondays of 4 and 11 January, none after the 15th")
	last := list.Slots[len(list.Slots)-1]
	assert.Equal(t, "2027-01-11T16:30:00Z", last.Start.UTC().Format(time.RFC3339))

	f.b.calls.Store(0)
	list, err = f.svc.Slots(ctx, f.admin, f.doctor.ID, "2027-02-01", "2027-02-01")
	require.NoError(t, err)
	assert.Empty(t, list.Slots, "a Monday past the window")
	assert.Zero(t, f.b.calls.Load(), "nothing past the window to ask the booking system about")

	f.book(t, last.Start.UTC().Format(time.RFC3339))
	err = f.svc.DeactivateDoctor(ctx, f.admin, f.doctor.ID, false)
	var de *domainerr.Error
	require.ErrorAs(t, err, &de)
	assert.Equal(t, domainerr.Conflict, de.Kind)
	assert.Contains(t, de.Msg, "2027-01-11T16:30:00Z")
	_, err = f.svc.ReplaceAvailability(ctx, f.admin, f.doctor.ID, 2, service.AvailabilityInput{
		Input: schedule.Input{Weekly: []schedule.WeeklyInput{{Day: "TUESDAY", Start: "09:00", End: "12:00"}}}})
	require.ErrorAs(t, err, &de)
	assert.Equal(t, domainerr.Conflict, de.Kind)
}
