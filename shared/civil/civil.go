// Package civil holds Date, a calendar date without a time of day or a time
// zone (a date of birth, a day of a doctor's schedule). The standard library
// has no such type, and the one well-known package that does
// (cloud.google.com/go/civil) would pull a large module into every service;
// see docs/adr/0007-shared-kernel.md. ParseInstant reads the instants
// clients write, by RFC 3339's grammar with T and Z in upper case only.
package civil

import (
	"fmt"
	"time"
)

// Date is a calendar date written YYYY-MM-DD. The zero Date means "no date".
// Dates compare with == and Compare.
type Date struct {
	y int
	m time.Month
	d int
}

const layout = "2006-01-02"

// Parse reads YYYY-MM-DD strictly: impossible days such as 2027-02-30 are
// errors, not normalised into March. The error's text is fit for a client.
func Parse(s string) (Date, error) {
	if len(s) != len(layout) || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("must be a date written YYYY-MM-DD")
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return Date{}, fmt.Errorf("must be a real date written YYYY-MM-DD")
	}
	return Of(t), nil
}

// MustParse parses s and panics on error; for tests and fixed data only.
func MustParse(s string) Date {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Of returns the calendar date of t in t's location.
func Of(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y: y, m: m, d: d}
}

// New returns the date y-m-d, normalised as time.Date normalises.
func New(y int, m time.Month, d int) Date { return Of(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) }

// Year, Month and Day return the date's fields.
func (d Date) Year() int { return d.y }

// Month returns the month of d.
func (d Date) Month() time.Month { return d.m }

// Day returns the day of the month of d.
func (d Date) Day() int { return d.d }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// String returns YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.y, int(d.m), d.d)
}

// In returns the first instant of d in loc: midnight, or, where the clocks
// skip midnight, the instant they jump past it.
func (d Date) In(loc *time.Location) time.Time {
	t := time.Date(d.y, d.m, d.d, 0, 0, 0, 0, loc)
	// time.Date resolves a skipped midnight with either offset; with the
	// new one (zones west of UTC, such as America/Havana) the instant reads
	// 23:00 of the day before. The day then begins where that zone period
	// ends, at the jump.
	if Of(t).Before(d) {
		if _, end := t.ZoneBounds(); !end.IsZero() {
			t = end
		}
	}
	return t
}

// utc returns midnight of d as a UTC instant, for calendar arithmetic only.
func (d Date) utc() time.Time { return d.In(time.UTC) }

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date { return Of(d.utc().AddDate(0, 0, n)) }

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.utc().Weekday() }

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int {
	switch {
	case d.y != o.y:
		return cmp(d.y, o.y)
	case d.m != o.m:
		return cmp(int(d.m), int(o.m))
	default:
		return cmp(d.d, o.d)
	}
}

// Before reports whether d is strictly before o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is strictly after o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// DaysUntil returns the number of days from d to o (negative when o is earlier).
func (d Date) DaysUntil(o Date) int { return int(o.utc().Sub(d.utc()).Hours() / 24) }

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
