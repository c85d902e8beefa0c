package schedule

import (
	"slices"
	"time"

	"github.com/medisync/medisync/shared/civil"
)

// Range is a span of time between two instants, End excluded.
type Range struct {
	Start time.Time
	End   time.Time
}

// Slots returns the bookable slots between the local dates from and to
// (both included) as UTC instants in order. Slots that start before now and
// slots overlapping a taken range are left out.
//
// Slots lie on a wall-clock grid: in each working interval they start at
// its start, then every SlotMinutes+BufferMinutes of local time, and each
// lasts SlotMinutes of real time. Daylight-saving changes are handled so:
//
//   - A wall-clock time that does not exist (the hour skipped when clocks
//     spring forward) starts no slot; an interval boundary inside the
//     skipped hour is clipped to the instant the clocks jump, so an interval
//     lying wholly inside it offers nothing.
//   - A wall-clock time that happens twice (the hour repeated when clocks
//     fall back) is taken at its first occurrence, so the repeated hour is
//     offered once: no slot appears twice and none overlap.
//   - A slot whose real end passes the end of its interval, or which would
//     overlap the slot before it (possible only right after a skipped hour),
//     is dropped.
func (a Availability) Slots(loc *time.Location, from, to civil.Date, now time.Time, taken []Range) []Range {
	if a.SlotMinutes <= 0 || from.After(to) {
		return nil
	}
	if !slices.IsSortedFunc(taken, byStart) {
		taken = slices.Clone(taken)
		slices.SortFunc(taken, byStart)
	}
	slot := time.Duration(a.SlotMinutes) * time.Minute
	step := a.SlotMinutes + a.BufferMinutes
	buffer := time.Duration(a.BufferMinutes) * time.Minute

	out := make([]Range, 0, a.estimate(from, to, step))
	exIdx := 0
	ti := 0
	for d := from; !d.After(to); d = d.AddDays(1) {
		// Exceptions are sorted, and dates only grow: walk them once.
		for exIdx < len(a.Exceptions) && a.Exceptions[exIdx].Date.Before(d) {
			exIdx++
		}
		ivs := a.Weekly[d.Weekday()]
		if exIdx < len(a.Exceptions) && a.Exceptions[exIdx].Date == d {
			ivs = a.Exceptions[exIdx].Intervals
		}
		if len(ivs) == 0 {
			continue
		}
		clock := newDayClock(d, loc)
		for _, iv := range ivs {
			end, _ := clock.at(iv.End)
			if !end.After(now) {
				continue
			}
			var prevEnd time.Time
			for m := iv.Start; m+a.SlotMinutes <= iv.End; m += step {
				start, ok := clock.at(m)
				if !ok {
					continue
				}
				stop := start.Add(slot)
				if stop.After(end) {
					continue
				}
				if !prevEnd.IsZero() && start.Before(prevEnd.Add(buffer)) {
					continue
				}
				prevEnd = stop
				if start.Before(now) {
					continue
				}
				for ti < len(taken) && !taken[ti].End.After(start) {
					ti++
				}
				if overlapsAny(taken[ti:], start, stop) {
					continue
				}
				out = append(out, Range{Start: start.UTC(), End: stop.UTC()})
			}
		}
	}
	return out
}

// estimate counts the weekly slots of the range, so the result is
// allocated once.
func (a Availability) estimate(from, to civil.Date, step int) int {
	var perDay [7]int
	for d, ivs := range a.Weekly {
		for _, iv := range ivs {
			if n := iv.End - iv.Start - a.SlotMinutes; n >= 0 {
				perDay[d] += n/step + 1
			}
		}
	}
	days := from.DaysUntil(to) + 1
	total := 0
	for k, wd := 0, from.Weekday(); k < days && k < 7; k, wd = k+1, (wd+1)%7 {
		total += perDay[wd] * ((days - k + 6) / 7)
	}
	return total + 8
}

func byStart(a, b Range) int { return a.Start.Compare(b.Start) }

// overlapsAny reports whether [start, stop) overlaps one of rs, which are
// sorted by start and all end after start.
func overlapsAny(rs []Range, start, stop time.Time) bool {
	for _, r := range rs {
		if !r.Start.Before(stop) {
			return false
		}
		if r.End.After(start) {
			return true
		}
	}
	return false
}

// dayClock turns wall-clock minutes of one local date into instants.
type dayClock struct {
	date civil.Date
	loc  *time.Location
	// fast is set when one UTC offset holds for the whole day and well around
	// it: then minute m is simply base+m. Only days near a transition take
	// the slow path.
	fast bool
	base time.Time
}

// transitionMargin keeps the fast path away from days whose wall-clock
// times could also occur in a neighbouring zone period.
const transitionMargin = 48 * time.Hour

func newDayClock(d civil.Date, loc *time.Location) dayClock {
	c := dayClock{date: d, loc: loc}
	noon := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, loc)
	_, off := noon.Zone()
	start, end := noon.ZoneBounds()
	lo := d.In(time.UTC).Add(-time.Duration(off) * time.Second)
	hi := lo.Add(24 * time.Hour)
	if (start.IsZero() || !start.After(lo.Add(-transitionMargin))) &&
		(end.IsZero() || end.After(hi.Add(transitionMargin))) {
		c.fast, c.base = true, lo
	}
	return c
}

// at returns the instant of minute m (0..1440) of the day. When the wall
// time exists it is its first occurrence and ok is true; when it falls in a
// skipped hour ok is false and the instant is the moment the clocks jump
// past it.
func (c dayClock) at(m int) (t time.Time, ok bool) {
	if c.fast {
		return c.base.Add(time.Duration(m) * time.Minute), true
	}
	return resolveWall(time.Date(c.date.Year(), c.date.Month(), c.date.Day(), 0, m, 0, 0, time.UTC), c.loc)
}

// probes are the moments around a wall time whose UTC offsets are tried.
var probes = [...]time.Duration{-48 * time.Hour, -24 * time.Hour, 0, 24 * time.Hour, 48 * time.Hour}

// resolveWall finds the instant at which the clocks of loc read wall (given
// as a UTC time with those fields). See dayClock.at.
func resolveWall(wall time.Time, loc *time.Location) (time.Time, bool) {
	var (
		best  time.Time
		found bool
		cands [len(probes)]time.Time
	)
	for i, p := range probes {
		_, off := wall.Add(p).In(loc).Zone()
		cand := wall.Add(-time.Duration(off) * time.Second)
		cands[i] = cand
		if wallOf(cand, loc).Equal(wall) && (!found || cand.Before(best)) {
			best, found = cand, true
		}
	}
	if found {
		return best, true
	}
	// A skipped wall time: the jump happens at the end of the zone period of
	// an instant that reads earlier than wall.
	for _, cand := range cands {
		if !wallOf(cand, loc).Before(wall) {
			continue
		}
		_, end := cand.In(loc).ZoneBounds()
		if !end.IsZero() && wallOf(end, loc).After(wall) && (!found || end.Before(best)) {
			best, found = end, true
		}
	}
	if found {
		return best, false
	}
	// Not reachable with real zone data; fall back on the standard library.
	return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc), false
}

// wallOf returns the wall clock reading of t in loc as a UTC time.
func wallOf(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return t.Add(time.Duration(off) * time.Second).UTC()
}
