package templates_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/templates"
)

// A time is written with its offset from UTC, so that the two passes of the
// hour the clocks repeat when they go back (01:30 in New York on 2026-11-01,
// 05:30Z in daylight time and 06:30Z in standard time, which the doctor's
// grid may offer) read apart, in every language.
func TestTimesCarryTheirOffsetFromUTC(t *testing.T) {
	set, err := templates.Load()
	require.NoError(t, err)
	for _, c := range []struct {
		lang, zone string
		start      time.Time
		want       string
	}{
		{"en", "America/New_York", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 01:30 (UTC-4)"},
		{"en", "America/New_York", time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 01:30 (UTC-5)"},
		{"de", "America/New_York", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sonntag, 1. November 2026, 01:30 Uhr (UTC-4)"},
		{"de", "America/New_York", time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), "Sonntag, 1. November 2026, 01:30 Uhr (UTC-5)"},
		{"en", "Asia/Kolkata", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 11:00 (UTC+5:30)"},
		{"en", "Europe/London", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 05:30 (UTC)"},
		{"en", "", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 05:30."},
		// No usable IANA zone (one stored before the rule): UTC, never the
		// zone of the host that renders.
		{"en", "Local", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 05:30."},
		{"en", "localtime", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 05:30."},
		{"en", "Factory", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 05:30."},
		{"en", "Mars/Olympus", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), "Sunday, 1 November 2026, 05:30."},
	} {
		m, err := set.Render(notice.AppointmentReminder, c.lang, templates.Data{DoctorName: "Ada Lovelace",
			TimeZone: c.zone, Start: c.start})
		require.NoError(t, err)
		assert.Contains(t, m.Text, c.want, "%s %s %s", c.lang, c.zone, c.start)
		if c.zone == "" || c.zone == "Local" || c.zone == "localtime" || c.zone == "Factory" || c.zone == "Mars/Olympus" {
			assert.Contains(t, m.Text, "time zone (UTC)", c.zone)
		}
	}
}
