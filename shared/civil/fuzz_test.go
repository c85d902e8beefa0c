package civil_test

import (
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/civil"
)

// FuzzParse: a date that parses is written back exactly as it was read
// (the layout has one spelling per date), lies on a real day and survives
// a day's arithmetic; anything else is refused with a client's message.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2028-02-29", "2027-02-29", "0000-01-01", "9999-12-31", "2027-2-01", "2027-02-01T00:00", "+027-02-01", "2027-00-10", "2027-13-01", "2027-04-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := civil.Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "must be") {
				t.Fatalf("Parse(%q): %v is no message for a client", s, err)
			}
			return
		}
		if got := d.String(); got != s {
			t.Fatalf("Parse(%q) formats as %q", s, got)
		}
		if again, err := civil.Parse(d.String()); err != nil || again != d {
			t.Fatalf("Parse(%q) does not round-trip: %v, %v", s, again, err)
		}
		if d.AddDays(1).AddDays(-1) != d || d.DaysUntil(d.AddDays(1)) != 1 {
			t.Fatalf("%s: a day forth and back is not the same date", d)
		}
		if d.Weekday() != time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.UTC).Weekday() {
			t.Fatalf("%s: wrong weekday", d)
		}
	})
}

// FuzzParseInstant: an instant that parses is RFC 3339 by its grammar, so
// it formats back to itself, with the fraction's trailing zeros and the
// offset -00:00 (written +00:00 or Z) as the only differences; anything
// else is ErrNotInstant.
func FuzzParseInstant(f *testing.F) {
	for _, s := range []string{
		"2026-01-02T15:04:05Z", "2026-01-02T16:04:05.25+01:00", "2026-01-02T16:04:05.250000000-23:59",
		"2026-01-02T15:04:05+24:00", "2026-01-02T15:04:05,5Z", "2026-01-02t15:04:05z", "2026-01-02T24:00:00Z",
		"2026-02-30T00:00:00Z", "2026-01-02T15:04:60Z", "0000-01-01T00:00:00-00:00", "2026-01-02T15:04:05.Z",
		"2026-01-02T15:04:05.1234567890123Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := civil.ParseInstant(s)
		if err != nil {
			if err != civil.ErrNotInstant {
				t.Fatalf("ParseInstant(%q): %v, not ErrNotInstant", s, err)
			}
			return
		}
		if !canonicalInstant(s, ts) {
			t.Fatalf("ParseInstant(%q) = %s, which does not format back to it", s, ts.Format(time.RFC3339Nano))
		}
		// What the service writes back is read again as the same instant.
		back, err := civil.ParseInstant(ts.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(ts) {
			t.Fatalf("ParseInstant(%q): its own formatting %q reads as %v, %v", s, ts.Format(time.RFC3339Nano), back, err)
		}
	})
}

// canonicalInstant reports whether s is how RFC3339Nano writes ts, up to
// the fraction's trailing zeros (and digits past nanoseconds, which
// time.Parse drops) and the spelling of a zero offset.
func canonicalInstant(s string, ts time.Time) bool {
	const head = len("2006-01-02T15:04:05")
	want := ts.Format(time.RFC3339Nano)
	if s[:head] != want[:head] {
		return false
	}
	rest, wrest := s[head:], want[head:]
	frac, wfrac := "", ""
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
			i++
		}
		frac, rest = rest[1:i], rest[i:]
	}
	if wrest[0] == '.' {
		i := 1
		for i < len(wrest) && '0' <= wrest[i] && wrest[i] <= '9' {
			i++
		}
		wfrac, wrest = wrest[1:i], wrest[i:]
	}
	if len(frac) > 9 {
		frac = frac[:9]
	}
	if strings.TrimRight(frac, "0") != wfrac {
		return false
	}
	switch rest {
	case "Z", "+00:00", "-00:00":
		return wrest == "Z"
	}
	return rest == wrest
}

// FuzzLoadZone: a time zone name a client gives is accepted only as a zone
// of the database, by its own name, never the host's zone nor a file of
// the zoneinfo folder that is no zone; a refusal is a client's message.
func FuzzLoadZone(f *testing.F) {
	for _, s := range []string{"Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "UTC", "Local", "localtime",
		"Factory", "posixrules", "zone.tab", "right/UTC", "Europe/../Europe/Berlin", "/etc/passwd", "Europe/Nowhere", "America", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		loc, err := civil.LoadZone(name)
		if err != nil {
			if loc != nil || err.Error() == "" {
				t.Fatalf("LoadZone(%q): %v, %v", name, loc, err)
			}
			return
		}
		if loc == time.Local || loc.String() != name || name == "Local" || name == "Factory" {
			t.Fatalf("LoadZone(%q) = %v", name, loc)
		}
		for _, part := range strings.Split(name, "/") {
			if part == "" || part == "." || part == ".." || part[0] < 'A' || part[0] > 'Z' {
				t.Fatalf("LoadZone(%q) accepts a name that is no zone's", name)
			}
		}
	})
}
