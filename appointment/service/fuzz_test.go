package service

import (
	"testing"
	"time"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
)

// FuzzParseSlot: the start and end of a booking, as a client writes them,
// are accepted only as a span of whole seconds of at most a day, starting
// in the future and within the booking window, and read as the instants
// written; anything else is refused naming start or end.
func FuzzParseSlot(f *testing.F) {
	for _, s := range [][2]string{
		{"2027-03-15T13:00:00Z", "2027-03-15T13:30:00Z"},
		{"2027-03-15T14:00:00+01:00", "2027-03-15T13:30:00Z"},
		{"2027-03-15T13:00:00.5Z", "2027-03-15T13:30:00Z"},
		{"2027-03-15T13:00:00Z", "2027-03-16T13:00:01Z"},
		{"2027-03-15T13:00:00Z", "2027-03-15T13:00:00Z"},
		{"2026-12-03T12:00:00Z", "2026-12-03T12:30:00Z"},
		{"2027-12-03T12:00:01Z", "2027-12-03T12:30:00Z"},
		{"8999-12-31T23:00:00-23:59", "9000-01-01T00:00:00Z"},
		{"2027-03-15T13:00:00.000000000Z", "2027-03-15T13:30:00.000000000000001Z"},
		{"", "2027-03-15T13:30:00z"},
	} {
		f.Add(s[0], s[1])
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	s := &service{clock: clock.Func(func() time.Time { return now })}
	f.Fuzz(func(t *testing.T, startS, endS string) {
		var fe domainerr.FieldErrors
		start, end, ok := s.parseSlot(&fe, startS, endS)
		if !ok {
			if len(fe) == 0 {
				t.Fatalf("%q-%q refused naming nothing", startS, endS)
			}
			for _, e := range fe {
				if e.Field != "start" && e.Field != "end" || e.Message == "" {
					t.Fatalf("%q-%q refused with %q: %q", startS, endS, e.Field, e.Message)
				}
			}
			return
		}
		if len(fe) != 0 {
			t.Fatalf("%q-%q accepted with errors %v", startS, endS, fe)
		}
		ws, errS := time.Parse(time.RFC3339Nano, startS)
		we, errE := time.Parse(time.RFC3339Nano, endS)
		switch {
		case errS != nil || errE != nil || !ws.Equal(start) || !we.Equal(end):
			t.Fatalf("%q-%q read as %v-%v", startS, endS, start, end)
		case start.Location() != time.UTC || end.Location() != time.UTC:
			t.Fatalf("%q-%q not read in UTC", startS, endS)
		case start.Nanosecond() != 0 || end.Nanosecond() != 0:
			t.Fatalf("%q-%q accepted with a fraction of a second", startS, endS)
		case !end.After(start) || end.Sub(start) > appointment.MaxSpan:
			t.Fatalf("%q-%q accepted as a span of %v", startS, endS, end.Sub(start))
		case !start.After(now) || start.After(now.Add(appointment.BookingWindow)):
			t.Fatalf("%q-%q accepted, starting outside the booking window", startS, endS)
		}
	})
}
