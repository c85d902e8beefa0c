// Package takentest is the contract of the service.TakenSlots port: the
// default adapter runs it, and so can any client of a booking system.
package takentest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/ids"
)

// Fixture is one adapter under test. Book books a range for a doctor in
// the system the port reads; it is nil for an adapter that can hold no
// bookings, which is then checked only for what it must never report.
type Fixture struct {
	Port service.TakenSlots
	Book func(t *testing.T, doctorID string, r schedule.Range)
}

// Run checks the promises of service.TakenSlots. newFixture is called once
// per case and must start with no bookings.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	ctx := context.Background()
	base := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return base.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	rng := func(h1, m1, h2, m2 int) schedule.Range { return schedule.Range{Start: at(h1, m1), End: at(h2, m2)} }

	// taken asks for [from, to) and checks what every answer must hold:
	// proper ranges, each overlapping the window.
	taken := func(t *testing.T, f Fixture, doctorID string, from, to time.Time) []schedule.Range {
		t.Helper()
		got, err := f.Port.Taken(ctx, doctorID, from, to)
		require.NoError(t, err)
		for _, r := range got {
			assert.True(t, r.Start.Before(r.End), "a range ends after it starts: %v", r)
			assert.True(t, r.Start.Before(to) && r.End.After(from), "%v overlaps [%s, %s)", r, from, to)
		}
		return got
	}

	t.Run("a doctor without bookings has nothing taken", func(t *testing.T) {
		f := newFixture(t)
		assert.Empty(t, taken(t, f, ids.New(), at(0, 0), at(24, 0)))
	})
	t.Run("an empty window holds nothing", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		if f.Book != nil {
			f.Book(t, doctor, rng(1, 0, 2, 0))
		}
		assert.Empty(t, taken(t, f, doctor, at(1, 30), at(1, 30)))
	})
	t.Run("bookings overlapping the window, and only those", func(t *testing.T) {
		f := newFixture(t)
		if f.Book == nil {
			t.Skip("the adapter holds no bookings")
		}
		doctor, other := ids.New(), ids.New()
		inside := rng(2, 0, 2, 30)
		acrossStart := rng(0, 30, 1, 30)
		acrossEnd := rng(3, 30, 4, 30)
		endsAtFrom := rng(0, 0, 1, 0)
		startsAtTo := rng(4, 0, 5, 0)
		for _, r := range []schedule.Range{inside, acrossStart, acrossEnd, endsAtFrom, startsAtTo} {
			f.Book(t, doctor, r)
		}
		f.Book(t, other, rng(2, 0, 3, 0))

		got := taken(t, f, doctor, at(1, 0), at(4, 0))
		assert.ElementsMatch(t, []schedule.Range{inside, acrossStart, acrossEnd}, normalize(got),
			"ranges touching the window's ends do not overlap it; other doctors' bookings are not reported")
	})
}

// normalize writes instants in UTC so that ranges compare whatever the
// location an adapter answers in.
func normalize(rs []schedule.Range) []schedule.Range {
	out := make([]schedule.Range, len(rs))
	for i, r := range rs {
		out[i] = schedule.Range{Start: r.Start.UTC(), End: r.End.UTC()}
	}
	return out
}
