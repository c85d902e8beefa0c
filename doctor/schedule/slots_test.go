package schedule

import (
	// Zones load the same with or without a system time zone database.
	_ "time/tzdata"

	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/civil"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// longAgo is a "now" before every tested date, so no slot is in the past.
var longAgo = utc("2000-01-01T00:00:00Z")

func onDay(t *testing.T, day time.Weekday, slot int, ivs ...string) Availability {
	t.Helper()
	a := Availability{SlotMinutes: slot}
	for _, s := range ivs {
		var iv Interval
		var ok1, ok2 bool
		iv.Start, ok1 = ParseClock(s[:5])
		iv.End, ok2 = ParseClock(s[6:])
		require.True(t, ok1 && ok2, s)
		a.Weekly[day] = append(a.Weekly[day], iv)
	}
	return a
}

func starts(rs []Range) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Start.Format(time.RFC3339)
	}
	return out
}

func day(s string) civil.Date { return civil.MustParse(s) }

func TestSlotsOrdinaryDay(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	a := onDay(t, time.Monday, 30, "09:00-11:00")
	got := a.Slots(ny, day("2026-03-02"), day("2026-03-02"), longAgo, nil)
	assert.Equal(t, []string{"2026-03-02T14:00:00Z", "2026-03-02T14:30:00Z", "2026-03-02T15:00:00Z", "2026-03-02T15:30:00Z"}, starts(got))
	for _, s := range got {
		assert.Equal(t, 30*time.Minute, s.End.Sub(s.Start))
		assert.Equal(t, time.UTC, s.Start.Location())
	}
}

func TestSlotsBufferAndIntervalEnd(t *testing.T) {
	a := onDay(t, time.Monday, 30, "09:00-11:00")
	a.BufferMinutes = 10
	got := a.Slots(time.UTC, day("2026-03-02"), day("2026-03-02"), longAgo, nil)
	// 09:00, 09:40, 10:20 (ends 10:50); 11:00 would end past the interval.
	assert.Equal(t, []string{"2026-03-02T09:00:00Z", "2026-03-02T09:40:00Z", "2026-03-02T10:20:00Z"}, starts(got))
}

func TestSlotsNewYorkSpringForward(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	d := day("2026-03-08") // a Sunday; 02:00 EST jumps to 03:00 EDT (07:00Z)
	t.Run("skipped hour offers nothing", func(t *testing.T) {
		a := onDay(t, time.Sunday, 30, "01:00-04:00")
		got := a.Slots(ny, d, d, longAgo, nil)
		// 01:00 and 01:30 EST, then 03:00 and 03:30 EDT: two hours of real time.
		assert.Equal(t, []string{"2026-03-08T06:00:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"}, starts(got))
	})
	t.Run("interval wholly inside the skipped hour", func(t *testing.T) {
		a := onDay(t, time.Sunday, 15, "02:00-03:00")
		assert.Empty(t, a.Slots(ny, d, d, longAgo, nil))
	})
	t.Run("interval starting inside the skipped hour is clipped", func(t *testing.T) {
		a := onDay(t, time.Sunday, 30, "02:30-04:00")
		assert.Equal(t, []string{"2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"}, starts(a.Slots(ny, d, d, longAgo, nil)))
	})
	t.Run("a skipped wall time starts no slot, and the grid is not moved", func(t *testing.T) {
		a := onDay(t, time.Sunday, 60, "02:15-04:00")
		// 02:15 does not exist; 03:15 EDT + 60 min passes 04:00. Clipping the
		// interval to 03:00 would offer 03:00, off the doctor's grid.
		assert.Empty(t, a.Slots(ny, d, d, longAgo, nil))
	})
	t.Run("interval ending inside the skipped hour is clipped", func(t *testing.T) {
		a := onDay(t, time.Sunday, 60, "00:00-02:30")
		// 00:00-01:00 and 01:00-02:00 EST fit; 02:00 does not exist.
		assert.Equal(t, []string{"2026-03-08T05:00:00Z", "2026-03-08T06:00:00Z"}, starts(a.Slots(ny, d, d, longAgo, nil)))
	})
	t.Run("slot crossing the jump must end in its interval", func(t *testing.T) {
		a := onDay(t, time.Sunday, 60, "00:30-03:00")
		// 01:30 EST + 60 min is 03:30 EDT, past 03:00: dropped.
		assert.Equal(t, []string{"2026-03-08T05:30:00Z"}, starts(a.Slots(ny, d, d, longAgo, nil)))
	})
	t.Run("no overlap after the jump", func(t *testing.T) {
		a := onDay(t, time.Sunday, 45, "01:00-04:00")
		got := a.Slots(ny, d, d, longAgo, nil)
		// 01:00 and 01:45 EST (ends 03:30 EDT); 02:30 does not exist; 03:15 EDT
		// would overlap the 01:45 slot.
		assert.Equal(t, []string{"2026-03-08T06:00:00Z", "2026-03-08T06:45:00Z"}, starts(got))
		assertWellFormed(t, got, 45*time.Minute)
	})
	t.Run("the buffer after the jump is rest in real time", func(t *testing.T) {
		a := onDay(t, time.Sunday, 30, "01:40-05:30")
		a.BufferMinutes = 60
		// 01:40 EST ends 07:10Z; 03:10 EDT starts then, without the hour's
		// rest after it: dropped. 04:40 EDT is on the grid again.
		assert.Equal(t, []string{"2026-03-08T06:40:00Z", "2026-03-08T08:40:00Z"}, starts(a.Slots(ny, d, d, longAgo, nil)))
	})
	t.Run("the day after is ordinary again", func(t *testing.T) {
		a := onDay(t, time.Monday, 60, "09:00-10:00")
		got := a.Slots(ny, day("2026-03-09"), day("2026-03-09"), longAgo, nil)
		assert.Equal(t, []string{"2026-03-09T13:00:00Z"}, starts(got))
	})
}

func TestSlotsNewYorkFallBack(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	d := day("2026-11-01") // a Sunday; 02:00 EDT falls back to 01:00 EST (06:00Z)
	a := onDay(t, time.Sunday, 30, "00:00-03:00")
	got := a.Slots(ny, d, d, longAgo, nil)
	// 01:00-02:00 happens twice; it is offered once, at its first (EDT)
	// occurrence. The second pass (06:00Z-07:00Z) is not offered.
	assert.Equal(t, []string{
		"2026-11-01T04:00:00Z", "2026-11-01T04:30:00Z",
		"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z",
		"2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z",
	}, starts(got))
	assertWellFormed(t, got, 30*time.Minute)
	for _, s := range got {
		assert.Equal(t, 30*time.Minute, s.End.Sub(s.Start))
	}

	t.Run("interval within the repeated hour", func(t *testing.T) {
		a := onDay(t, time.Sunday, 15, "01:15-01:45")
		got := a.Slots(ny, d, d, longAgo, nil)
		assert.Equal(t, []string{"2026-11-01T05:15:00Z", "2026-11-01T05:30:00Z"}, starts(got))
	})
	t.Run("ordinary day before", func(t *testing.T) {
		a := onDay(t, time.Saturday, 60, "09:00-10:00")
		assert.Equal(t, []string{"2026-10-31T13:00:00Z"}, starts(a.Slots(ny, day("2026-10-31"), day("2026-10-31"), longAgo, nil)))
	})
	t.Run("ordinary day after", func(t *testing.T) {
		a := onDay(t, time.Monday, 60, "09:00-10:00")
		assert.Equal(t, []string{"2026-11-02T14:00:00Z"}, starts(a.Slots(ny, day("2026-11-02"), day("2026-11-02"), longAgo, nil)))
	})
}

func TestSlotsBerlinSpringForward(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	d := day("2026-03-29") // a Sunday; 02:00 CET jumps to 03:00 CEST (01:00Z)
	a := onDay(t, time.Sunday, 60, "01:00-04:00")
	got := a.Slots(berlin, d, d, longAgo, nil)
	assert.Equal(t, []string{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"}, starts(got))
	assert.Empty(t, onDay(t, time.Sunday, 30, "02:00-03:00").Slots(berlin, d, d, longAgo, nil))

	// A Friday-to-Tuesday range sees the offset change between days.
	week := onDay(t, time.Friday, 60, "09:00-10:00")
	for _, wd := range []time.Weekday{time.Saturday, time.Sunday, time.Monday} {
		week.Weekly[wd] = []Interval{{540, 600}}
	}
	got = week.Slots(berlin, day("2026-03-27"), day("2026-03-30"), longAgo, nil)
	assert.Equal(t, []string{"2026-03-27T08:00:00Z", "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"}, starts(got))
}

func TestSlotsBerlinFallBack(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	d := day("2026-10-25") // a Sunday; 03:00 CEST falls back to 02:00 CET (01:00Z)
	a := onDay(t, time.Sunday, 60, "01:00-04:00")
	got := a.Slots(berlin, d, d, longAgo, nil)
	// 01:00 CEST, 02:00 CEST (first pass of the repeated hour), 03:00 CET.
	assert.Equal(t, []string{"2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"}, starts(got))
	assertWellFormed(t, got, time.Hour)
}

func TestSlotsKolkataSeenInUTC(t *testing.T) {
	kolkata := mustLoad(t, "Asia/Kolkata") // UTC+05:30, no daylight saving
	a := onDay(t, time.Monday, 30, "04:00-06:00")
	a.Weekly[time.Tuesday] = []Interval{{570, 630}} // 09:30-10:30
	got := a.Slots(kolkata, day("2026-03-02"), day("2026-03-03"), longAgo, nil)
	// Monday 04:00 in Kolkata is still Sunday in UTC.
	assert.Equal(t, []string{
		"2026-03-01T22:30:00Z", "2026-03-01T23:00:00Z", "2026-03-01T23:30:00Z", "2026-03-02T00:00:00Z",
		"2026-03-03T04:00:00Z", "2026-03-03T04:30:00Z",
	}, starts(got))
}

func TestSlotsExcludeThePast(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	a := onDay(t, time.Monday, 30, "09:00-11:00")
	now := utc("2026-03-02T14:45:00Z") // 09:45 in New York
	got := a.Slots(ny, day("2026-03-02"), day("2026-03-02"), now, nil)
	assert.Equal(t, []string{"2026-03-02T15:00:00Z", "2026-03-02T15:30:00Z"}, starts(got))

	now = utc("2026-03-02T15:00:00Z")
	got = a.Slots(ny, day("2026-03-02"), day("2026-03-02"), now, nil)
	assert.Equal(t, []string{"2026-03-02T15:00:00Z", "2026-03-02T15:30:00Z"}, starts(got), "a slot starting now is still offered")

	assert.Empty(t, a.Slots(ny, day("2026-03-02"), day("2026-03-02"), utc("2026-03-03T00:00:00Z"), nil))
}

func TestSlotsExceptions(t *testing.T) {
	a := onDay(t, time.Monday, 60, "09:00-11:00")
	a.Exceptions = []Exception{
		{Date: day("2026-03-09")},                                    // Monday off
		{Date: day("2026-03-11"), Intervals: []Interval{{600, 660}}}, // a Wednesday with hours
		{Date: day("2026-03-16"), Intervals: []Interval{{480, 540}}}, // Monday, other hours
	}
	got := a.Slots(time.UTC, day("2026-03-02"), day("2026-03-16"), longAgo, nil)
	assert.Equal(t, []string{
		"2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z",
		"2026-03-11T10:00:00Z",
		"2026-03-16T08:00:00Z",
	}, starts(got))
}

func TestSlotsTaken(t *testing.T) {
	a := onDay(t, time.Monday, 30, "09:00-11:00")
	taken := []Range{
		{Start: utc("2026-03-02T10:15:00Z"), End: utc("2026-03-02T10:45:00Z")}, // straddles two slots
		{Start: utc("2026-03-02T09:00:00Z"), End: utc("2026-03-02T09:30:00Z")}, // unsorted on purpose
	}
	got := a.Slots(time.UTC, day("2026-03-02"), day("2026-03-02"), longAgo, taken)
	assert.Equal(t, []string{"2026-03-02T09:30:00Z"}, starts(got))
}

func TestSlotsEmptyCases(t *testing.T) {
	a := onDay(t, time.Monday, 30, "09:00-11:00")
	assert.Empty(t, a.Slots(time.UTC, day("2026-03-03"), day("2026-03-02"), longAgo, nil), "from after to")
	assert.Empty(t, Availability{}.Slots(time.UTC, day("2026-03-02"), day("2026-03-02"), longAgo, nil))
	assert.Empty(t, onDay(t, time.Monday, 90, "09:00-10:00").Slots(time.UTC, day("2026-03-02"), day("2026-03-02"), longAgo, nil),
		"an interval shorter than a slot")
}

// assertWellFormed checks that slots are in order, last the slot length and
// never overlap.
func assertWellFormed(t *testing.T, got []Range, length time.Duration) {
	t.Helper()
	for i, s := range got {
		require.Equal(t, length, s.End.Sub(s.Start), "slot %d", i)
		if i > 0 {
			require.False(t, s.Start.Before(got[i-1].End), "slot %d %s overlaps %s", i, s.Start, got[i-1].End)
		}
	}
}

// TestSlotsWholeYears sweeps zones with unusual transitions through whole
// years, checking that every slot starts at a wall time that is on the
// grid, inside a working interval, and at its first occurrence, and that no
// two slots overlap.
func TestSlotsWholeYears(t *testing.T) {
	zones := []string{
		"America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe",
		"America/Santiago", "America/Havana", "Asia/Tehran", "Pacific/Apia", "Europe/London", "UTC",
	}
	a := Availability{SlotMinutes: 25, BufferMinutes: 5}
	for d := range a.Weekly {
		a.Weekly[d] = []Interval{{0, 150}, {150, 1440}}
	}
	for _, z := range zones {
		loc := mustLoad(t, z)
		for _, year := range []int{2011, 2026} {
			from, to := civil.New(year, time.January, 1), civil.New(year, time.December, 31)
			got := a.Slots(loc, from, to, longAgo, nil)
			require.NotEmpty(t, got, z)
			assertWellFormed(t, got, 25*time.Minute)
			for _, s := range got {
				local := s.Start.In(loc)
				m := local.Hour()*60 + local.Minute()
				iv := Interval{0, 150}
				if m >= 150 {
					iv = Interval{150, 1440}
				}
				require.Zero(t, (m-iv.Start)%30, "%s %s off the grid", z, local)
				require.LessOrEqual(t, m+25, iv.End+60, "%s %s", z, local)
				// First occurrence: an hour earlier the clock must not have
				// read the same time.
				for _, back := range []time.Duration{30 * time.Minute, time.Hour} {
					prev := s.Start.Add(-back).In(loc)
					require.False(t, prev.Hour() == local.Hour() && prev.Minute() == local.Minute() && prev.Day() == local.Day(),
						"%s %s is a second occurrence", z, local)
				}
			}
		}
	}
}

// TestFastPathAgreesWithSlowPath checks the per-day shortcut against the
// general conversion on every day of a year.
func TestFastPathAgreesWithSlowPath(t *testing.T) {
	for _, z := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata"} {
		loc := mustLoad(t, z)
		fast := 0
		for d := civil.New(2026, time.January, 1); d.Year() == 2026; d = d.AddDays(1) {
			c := newDayClock(d, loc)
			if !c.fast {
				continue
			}
			fast++
			slow := dayClock{date: d, loc: loc}
			for m := 0; m <= MinutesPerDay; m += 15 {
				a, okA := c.at(m)
				b, okB := slow.at(m)
				require.Equal(t, okB, okA, "%s %s %d", z, d, m)
				require.True(t, a.Equal(b), "%s %s %s: fast %s slow %s", z, d, FormatClock(m), a, b)
			}
		}
		assert.Greater(t, fast, 340, "%s: most days take the fast path", z)
	}
}

func TestResolveWall(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	cases := []struct {
		wall string
		want string
		ok   bool
	}{
		{"2026-03-08T01:59:00Z", "2026-03-08T06:59:00Z", true},
		{"2026-03-08T02:00:00Z", "2026-03-08T07:00:00Z", false},
		{"2026-03-08T02:30:00Z", "2026-03-08T07:00:00Z", false},
		{"2026-03-08T03:00:00Z", "2026-03-08T07:00:00Z", true},
		{"2026-11-01T00:59:00Z", "2026-11-01T04:59:00Z", true},
		{"2026-11-01T01:00:00Z", "2026-11-01T05:00:00Z", true},
		{"2026-11-01T01:59:00Z", "2026-11-01T05:59:00Z", true},
		{"2026-11-01T02:00:00Z", "2026-11-01T07:00:00Z", true},
	}
	for _, c := range cases {
		got, ok := resolveWall(utc(c.wall), ny)
		assert.Equal(t, c.ok, ok, c.wall)
		assert.Equal(t, c.want, got.UTC().Format(time.RFC3339), c.wall)
	}
}

func benchAvailability() Availability {
	a := Availability{SlotMinutes: 15, BufferMinutes: 0}
	for d := time.Monday; d <= time.Friday; d++ {
		a.Weekly[d] = []Interval{{480, 720}, {780, 1080}}
	}
	a.Weekly[time.Saturday] = []Interval{{540, 780}}
	a.Exceptions = []Exception{{Date: civil.New(2026, time.March, 17)}, {Date: civil.New(2026, time.March, 22), Intervals: []Interval{{600, 720}}}}
	return a
}

// BenchmarkSlots31Days computes a 31-day month crossing a daylight-saving
// change, with 15-minute slots on weekdays and Saturdays (~700 slots).
func BenchmarkSlots31Days(b *testing.B) {
	loc := mustLoad(b, "America/New_York")
	a := benchAvailability()
	from, to := civil.New(2026, time.March, 1), civil.New(2026, time.March, 31)
	now := utc("2026-02-15T00:00:00Z")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(a.Slots(loc, from, to, now, nil))
	}
	b.ReportMetric(float64(n), "slots")
}

// BenchmarkSlots31DaysDense is the worst case: 5-minute slots around the
// clock for 31 days (8,900 slots).
func BenchmarkSlots31DaysDense(b *testing.B) {
	loc := mustLoad(b, "Europe/Berlin")
	a := Availability{SlotMinutes: 5}
	for d := range a.Weekly {
		a.Weekly[d] = []Interval{{0, 1440}}
	}
	from, to := civil.New(2026, time.March, 15), civil.New(2026, time.April, 14)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(a.Slots(loc, from, to, longAgo, nil))
	}
	b.ReportMetric(float64(n), "slots")
}

func ExampleAvailability_Slots() {
	ny, _ := time.LoadLocation("America/New_York")
	a := Availability{SlotMinutes: 60}
	a.Weekly[time.Sunday] = []Interval{{60, 240}} // 01:00-04:00
	for _, s := range a.Slots(ny, civil.New(2026, time.March, 8), civil.New(2026, time.March, 8), time.Time{}, nil) {
		fmt.Println(s.Start.Format(time.RFC3339), s.Start.In(ny).Format("15:04 MST"))
	}
	// Output:
	// 2026-03-08T06:00:00Z 01:00 EST
	// 2026-03-08T07:00:00Z 03:00 EDT
}
