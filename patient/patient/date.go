package patient

import (
	"fmt"
	"time"
)

// Date is a calendar date without a time of day or zone, written YYYY-MM-DD.
// The zero Date means "no date".
type Date struct {
	y int
	m time.Month
	d int
}

const dateLayout = "2006-01-02"

// ParseDate parses YYYY-MM-DD strictly: impossible days such as 2027-02-30
// are errors, not normalised into March.
func ParseDate(s string) (Date, error) {
	if len(s) != len(dateLayout) {
		return Date{}, fmt.Errorf("must be a date written YYYY-MM-DD")
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("must be a real date written YYYY-MM-DD")
	}
	return DateOf(t), nil
}

// MustDate parses s and panics on error; for tests and fixed data only.
func MustDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y: y, m: m, d: d}
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d.y == 0 && d.m == 0 && d.d == 0 }

// String returns YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.y, int(d.m), d.d)
}

// Before reports whether d is strictly before o.
func (d Date) Before(o Date) bool {
	if d.y != o.y {
		return d.y < o.y
	}
	if d.m != o.m {
		return d.m < o.m
	}
	return d.d < o.d
}

// After reports whether d is strictly after o.
func (d Date) After(o Date) bool { return o.Before(d) }
