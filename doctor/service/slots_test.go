package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/doctor/service/takentest"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// bookings is an in-memory TakenSlots: what a booking system would report,
// or err when it cannot answer.
type bookings struct {
	mu     sync.Mutex
	booked map[string][]schedule.Range
	err    error
}

func (b *bookings) book(doctorID string, r schedule.Range) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.booked == nil {
		b.booked = map[string][]schedule.Range{}
	}
	b.booked[doctorID] = append(b.booked[doctorID], r)
}

func (b *bookings) Taken(_ context.Context, doctorID string, from, to time.Time) ([]schedule.Range, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	var out []schedule.Range
	for _, r := range b.booked[doctorID] {
		if from.Before(to) && r.Start.Before(to) && r.End.After(from) {
			out = append(out, r)
		}
	}
	return out, nil
}

// TestInMemoryBookingsKeepTheContract proves the test double below honest.
func TestInMemoryBookingsKeepTheContract(t *testing.T) {
	takentest.Run(t, func(*testing.T) takentest.Fixture {
		b := &bookings{}
		return takentest.Fixture{Port: b, Book: func(_ *testing.T, id string, r schedule.Range) { b.book(id, r) }}
	})
}

func TestSlotsLeaveOutTakenTimes(t *testing.T) {
	ctx := context.Background()
	b := &bookings{}
	svc := service.New(sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations())), b,
		clocktest.New(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)), ids.New)
	admin := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleAdmin}}
	lic := "LIC-1"
	d, err := svc.CreateDoctor(ctx, admin, service.DoctorInput{FirstName: "Ada", LastName: "Lovelace",
		Email: "ada@example.org", LicenseNumber: &lic, TimeZone: "UTC", AppointmentMinutes: 60})
	require.NoError(t, err)
	hour := 60
	_, err = svc.ReplaceAvailability(ctx, admin, d.ID, 1, service.AvailabilityInput{Input: schedule.Input{
		SlotMinutes: &hour, Weekly: []schedule.WeeklyInput{{Day: "MONDAY", Start: "09:00", End: "12:00"}},
	}})
	require.NoError(t, err)

	at := func(h int) time.Time { return time.Date(2026, 2, 2, h, 0, 0, 0, time.UTC) } // a Monday
	starts := func() []time.Time {
		t.Helper()
		l, err := svc.Slots(ctx, admin, d.ID, "2026-02-02", "2026-02-02")
		require.NoError(t, err)
		var out []time.Time
		for _, s := range l.Slots {
			out = append(out, s.Start)
		}
		return out
	}
	assert.Equal(t, []time.Time{at(9), at(10), at(11)}, starts())

	// Half an hour booked inside the 10:00 slot takes all of it; another
	// doctor's booking takes nothing.
	b.book(d.ID, schedule.Range{Start: at(10).Add(15 * time.Minute), End: at(10).Add(45 * time.Minute)})
	b.book(ids.New(), schedule.Range{Start: at(9), End: at(10)})
	assert.Equal(t, []time.Time{at(9), at(11)}, starts())

	t.Run("dates the booking side cannot read are a 400, not its 503", func(t *testing.T) {
		for _, r := range [][2]string{{"0001-01-01", "0001-01-02"}, {"9999-12-30", "9999-12-31"}} {
			_, err := svc.Slots(ctx, admin, d.ID, r[0], r[1])
			var fe domainerr.FieldErrors
			require.ErrorAs(t, err, &fe, "%v", r)
			assert.Equal(t, "from", fe[0].Field)
		}
	})
	t.Run("bookings that cannot be read fail the call as unavailable", func(t *testing.T) {
		b.err = errors.New("booking system down")
		defer func() { b.err = nil }()
		_, err := svc.Slots(ctx, admin, d.ID, "2026-02-02", "2026-02-02")
		require.Error(t, err)
		assert.ErrorIs(t, err, domainerr.Unavailable)
		assert.ErrorIs(t, err, service.ErrBookingsUnavailable)
		assert.ErrorContains(t, err, "booking system down", "the cause stays for the fault log")
		assert.False(t, domainerr.Expected(err), "a fault, logged and counted as one")
	})
}
