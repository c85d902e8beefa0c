package transport_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func slotStarts(t *testing.T, r response) []string {
	t.Helper()
	var body struct {
		Slots []struct{ Start, End string }
	}
	require.NoError(t, json.Unmarshal(r.Body, &body))
	out := []string{}
	for _, s := range body.Slots {
		out = append(out, s.Start)
	}
	return out
}

func TestSlotsOverHTTP(t *testing.T) {
	e := newEnv(t)
	setup := func(tz string, weekly ...[3]string) string {
		d := e.createByAdmin(map[string]any{"timeZone": tz})
		var ws []map[string]string
		for _, w := range weekly {
			ws = append(ws, map[string]string{"day": w[0], "start": w[1], "end": w[2]})
		}
		avail := "/api/v1/doctors/" + d["id"].(string) + "/availability"
		e.mustDo(200, "PUT", avail, e.admin.Token, map[string]any{"slotMinutes": 60, "weekly": ws}, "If-Match", e.etag(avail))
		return "/api/v1/doctors/" + d["id"].(string) + "/slots"
	}
	ny := setup("America/New_York", [3]string{"SUNDAY", "01:00", "04:00"})
	berlin := setup("Europe/Berlin", [3]string{"SUNDAY", "01:00", "04:00"})
	kolkata := setup("Asia/Kolkata", [3]string{"MONDAY", "04:00", "06:00"}, [3]string{"TUESDAY", "09:30", "10:30"})

	cases := []struct {
		name, path string
		want       []string
	}{
		{"New York spring forward", ny + "?from=2026-03-08&to=2026-03-08",
			// 01:00 EST, then 03:00 EDT: 02:00 does not exist that night.
			[]string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"}},
		{"New York fall back", ny + "?from=2026-11-01&to=2026-11-01",
			// 01:00 EDT (its first occurrence), 02:00 EST, 03:00 EST.
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}},
		{"Berlin spring forward", berlin + "?from=2026-03-29&to=2026-03-29",
			// 01:00 CET, then 03:00 CEST.
			[]string{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"}},
		{"Berlin fall back", berlin + "?from=2026-10-25&to=2026-10-25",
			// 01:00 CEST, 02:00 CEST (first occurrence), 03:00 CET.
			[]string{"2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"}},
		{"Kolkata seen in UTC", kolkata + "?from=2026-03-02&to=2026-03-03",
			[]string{"2026-03-01T22:30:00Z", "2026-03-01T23:30:00Z", "2026-03-03T04:00:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.mustDo(200, "GET", c.path, e.pat.Token, nil)
			assert.Equal(t, c.want, slotStarts(t, r))
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		})
	}

	t.Run("response shape", func(t *testing.T) {
		r := e.mustDo(200, "GET", kolkata+"?from=2026-03-02&to=2026-03-02", e.pat.Token, nil).JSON(t)
		assert.Equal(t, "Asia/Kolkata", r["timeZone"])
		assert.Equal(t, "2026-03-02", r["from"])
		slots := r["slots"].([]any)
		require.Len(t, slots, 2)
		assert.Equal(t, map[string]any{"start": "2026-03-01T22:30:00Z", "end": "2026-03-01T23:30:00Z"}, slots[0])
	})
	t.Run("the past is not offered", func(t *testing.T) {
		// 03:30 EDT in New York, the night the clocks spring forward: the
		// 03:00 slot has begun, so nothing is left that day.
		e.clock.Set(time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC))
		defer e.clock.Set(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC))
		r := e.mustDo(200, "GET", ny+"?from=2026-03-01&to=2026-03-15", e.pat.Token, nil)
		assert.Equal(t, []string{"2026-03-15T05:00:00Z", "2026-03-15T06:00:00Z", "2026-03-15T07:00:00Z"}, slotStarts(t, r))
		e.clock.Set(time.Date(2026, 3, 8, 6, 59, 0, 0, time.UTC))
		r = e.mustDo(200, "GET", ny+"?from=2026-03-08&to=2026-03-08", e.pat.Token, nil)
		assert.Equal(t, []string{"2026-03-08T07:00:00Z"}, slotStarts(t, r))
	})
	t.Run("31 days is the most", func(t *testing.T) {
		r := e.mustDo(200, "GET", ny+"?from=2026-03-01&to=2026-03-31", e.pat.Token, nil)
		assert.Len(t, slotStarts(t, r), 5*3-1)
	})
	t.Run("a deactivated doctor offers nothing", func(t *testing.T) {
		id := strings.TrimSuffix(strings.TrimPrefix(berlin, "/api/v1/doctors/"), "/slots")
		e.mustDo(204, "DELETE", "/api/v1/doctors/"+id, e.admin.Token, nil)
		e.mustDo(204, "DELETE", "/api/v1/doctors/"+id, e.admin.Token, nil) // again: still 204
		r := e.mustDo(200, "GET", berlin+"?from=2026-03-29&to=2026-03-29", e.pat.Token, nil)
		assert.Empty(t, slotStarts(t, r))
		got := e.mustDo(200, "GET", "/api/v1/doctors/"+id, e.pat.Token, nil).JSON(t)
		assert.Equal(t, false, got["active"])
		assert.Equal(t, float64(2), got["version"])
	})
	t.Run("unknown doctor", func(t *testing.T) {
		e.mustDo(404, "GET", "/api/v1/doctors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/slots?from=2026-03-01&to=2026-03-02", e.pat.Token, nil)
	})
}
