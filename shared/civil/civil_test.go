package civil_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/civil"
)

func TestParse(t *testing.T) {
	d, err := civil.Parse("2028-02-29")
	require.NoError(t, err)
	assert.Equal(t, "2028-02-29", d.String())
	assert.Equal(t, time.Tuesday, d.Weekday())
	for _, bad := range []string{"2027-02-29", "2027-2-01", "27-02-01", "2027/02/01", "", "2027-02-01T00:00"} {
		_, err := civil.Parse(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "", civil.Date{}.String())
	assert.True(t, civil.Date{}.IsZero())
}

func TestArithmetic(t *testing.T) {
	a := civil.MustParse("2027-12-30")
	b := a.AddDays(3)
	assert.Equal(t, "2028-01-02", b.String())
	assert.Equal(t, 3, a.DaysUntil(b))
	assert.True(t, a.Before(b))
	assert.True(t, b.After(a))
	assert.Equal(t, 0, a.Compare(civil.New(2027, time.December, 30)))
	ny, _ := time.LoadLocation("America/New_York")
	assert.Equal(t, a, civil.Of(time.Date(2027, 12, 31, 3, 0, 0, 0, time.UTC).In(ny)))
}

// TestInIsTheFirstInstantOfTheDay: where the clocks jump from 00:00 to 01:00
// the day begins at 01:00, east or west of UTC, and an ordinary day at
// midnight.
func TestInIsTheFirstInstantOfTheDay(t *testing.T) {
	for _, c := range []struct {
		zone, day string
		want      time.Time // in UTC
	}{
		{"America/Havana", "2030-03-10", time.Date(2030, 3, 10, 5, 0, 0, 0, time.UTC)},   // 01:00 CDT
		{"America/Santiago", "2030-09-08", time.Date(2030, 9, 8, 4, 0, 0, 0, time.UTC)},  // 01:00 -03
		{"Asia/Beirut", "2030-03-31", time.Date(2030, 3, 30, 22, 0, 0, 0, time.UTC)},     // 01:00 EEST
		{"Africa/Cairo", "2030-04-26", time.Date(2030, 4, 25, 22, 0, 0, 0, time.UTC)},    // 01:00 EEST
		{"America/New_York", "2030-03-10", time.Date(2030, 3, 10, 5, 0, 0, 0, time.UTC)}, // midnight EST; the jump is at 02:00
		{"Europe/Paris", "2030-06-15", time.Date(2030, 6, 14, 22, 0, 0, 0, time.UTC)},
		{"UTC", "2030-03-10", time.Date(2030, 3, 10, 0, 0, 0, 0, time.UTC)},
	} {
		loc, err := time.LoadLocation(c.zone)
		require.NoError(t, err)
		d := civil.MustParse(c.day)
		got := d.In(loc)
		assert.Equal(t, c.want, got.UTC(), "%s %s", c.zone, c.day)
		assert.Equal(t, d, civil.Of(got), "%s %s: the instant lies in the day", c.zone, c.day)
		assert.Equal(t, d.AddDays(-1), civil.Of(got.Add(-time.Second)), "%s %s: the second before lies in the day before", c.zone, c.day)
		assert.True(t, d.AddDays(-1).In(loc).Before(got), "%s %s: the day before begins earlier", c.zone, c.day)
	}
}

// An instant is read by RFC 3339's grammar: what time.Parse takes beyond
// it (an offset of +24:00 or +23:60, a comma before the fraction, a
// one-digit hour) is refused.
func TestParseInstant(t *testing.T) {
	for s, want := range map[string]time.Time{
		"2026-01-02T15:04:05Z":              time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
		"2026-01-02T16:04:05.25+01:00":      time.Date(2026, 1, 2, 15, 4, 5, 250_000_000, time.UTC),
		"2026-01-02T01:34:05-13:30":         time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
		"2026-01-02T15:04:05.123456789Z":    time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC),
		"2026-01-02T15:04:05-00:00":         time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
		"2026-01-03T14:03:05+23:59":         time.Date(2026, 1, 2, 14, 4, 5, 0, time.UTC),
		"2028-02-29T00:00:00Z":              time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC),
		"2026-01-02T15:04:05.000000000001Z": time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC),
	} {
		got, err := civil.ParseInstant(s)
		if assert.NoError(t, err, s) {
			assert.True(t, want.Equal(got), "%s: %s", s, got)
		}
	}
	for _, bad := range []string{
		"2030-01-16T09:00:00+23:60", "2030-01-16T10:00:00+24:00", "2030-01-15T11:00:00,0Z",
		"2030-01-15T1:00:00Z", "2030-01-15T11:00:00.Z", "2030-01-15T11:00:00", "2030-01-15t11:00:00z",
		"2030-01-15 11:00:00Z", "2030-01-15T11:00:00+0100", "2030-01-15T11:00:00+01", "2030-01-15T24:00:00Z",
		"2030-01-15T11:00:60Z", "2027-02-29T00:00:00Z", "2030-1-15T11:00:00Z", "+2030-01-15T11:00:00Z",
		"2030-01-15T11:00:00Z ", "2030-01-15", "", "yesterday", "2030-01-15T11:00:00+1:00",
	} {
		_, err := civil.ParseInstant(bad)
		assert.Error(t, err, bad)
	}
}
