package civil

import (
	"errors"
	"time"
)

// ErrNotInstant is ParseInstant's refusal; its text is fit for a client,
// and is also what a body's refused instant is told (httpjson).
var ErrNotInstant = errors.New("must be an RFC 3339 instant, such as 2026-01-02T15:04:05Z")

// ParseInstant reads an instant written as RFC 3339's date-time
// (2026-01-02T15:04:05Z, 2026-01-02T16:04:05.25+01:00), strictly. The
// grammar is checked before time.Parse, which alone takes an offset of
// +24:00 or +23:60, a comma before the fraction and a one-digit hour, none
// of which RFC 3339 (nor an OpenAPI date-time) allows; time.Parse then
// holds the fields to their ranges (hour 00-23, a real day of the month).
// The letters T and Z are upper case only, where the RFC (section 5.6)
// allows t and z too: time.Time's UnmarshalJSON, which reads every instant
// of a body, refuses them, and a parameter or a string field is read as a
// body's instant is.
func ParseInstant(s string) (time.Time, error) {
	if !isDateTime(s) {
		return time.Time{}, ErrNotInstant
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, ErrNotInstant
	}
	return t, nil
}

// isDateTime reports whether s is full-date "T" partial-time time-offset
// by RFC 3339's grammar, with the offset's hour 00-23 and minute 00-59.
// The letters T and Z are upper case only, as time.Parse reads them.
func isDateTime(s string) bool {
	const head = "dddd-dd-ddTdd:dd:dd"
	if len(s) <= len(head) {
		return false
	}
	for i := range len(head) {
		switch want := head[i]; {
		case want == 'd' && !isDigit(s[i]), want != 'd' && s[i] != want:
			return false
		}
	}
	rest := s[len(head):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
		return true
	case len(rest) != len("+07:00") || rest[0] != '+' && rest[0] != '-' || rest[3] != ':':
		return false
	}
	for _, i := range []int{1, 2, 4, 5} {
		if !isDigit(rest[i]) {
			return false
		}
	}
	return (rest[1]-'0')*10+rest[2]-'0' <= 23 && rest[4] <= '5'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
