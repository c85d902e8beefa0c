package transport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/doctor/transport"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
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

// A zone stored before the rule of civil.LoadZone, which no longer
// loads, is a 409 naming the problem wherever the hours are read in it,
// not a server error; setting another zone on the profile repairs it,
// holding every booking to the new hours, since the old grid is unknown.
func TestStoredZoneThatNoLongerLoads(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	b := &fixedBookings{}
	e := newEnvWith(t, db, b)
	d := e.createByAdmin(map[string]any{"timeZone": "America/New_York"})
	id := d["id"].(string)
	path := "/api/v1/doctors/" + id
	avail := path + "/availability"
	monday := map[string]any{"slotMinutes": 30, "weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}}
	e.mustDo(200, "PUT", avail, e.admin.Token, monday, "If-Match", e.etag(avail))
	_, err := db.ExecContext(context.Background(), "UPDATE doctors SET time_zone = 'localtime' WHERE id = ?", id)
	require.NoError(t, err)

	for _, r := range []response{
		e.do("GET", path+"/slots?from=2026-02-02&to=2026-02-03", e.pat.Token, nil),
		e.do("GET", path+"/slot-check?start=2026-02-02T14:00:00Z&end=2026-02-02T14:30:00Z", e.pat.Token, nil),
		e.do("PUT", avail, e.admin.Token, monday, "If-Match", e.etag(avail)),
	} {
		assert.Equal(t, 409, r.Status, "%s", r.Body)
		assert.Contains(t, r.JSON(t)["detail"], "time zone")
	}

	// Monday 2026-02-02 09:00 in New York is 15:00 in Berlin: off the new hours.
	b.set(false, schedule.Range{Start: time.Date(2026, 2, 2, 14, 0, 0, 0, time.UTC), End: time.Date(2026, 2, 2, 14, 30, 0, 0, time.UTC)})
	berlin := doctorBody(map[string]any{"timeZone": "Europe/Berlin", "licenseNumber": d["licenseNumber"]})
	r := e.mustDo(409, "PUT", path, e.admin.Token, berlin, "If-Match", e.etag(path))
	assert.Contains(t, r.JSON(t)["detail"], "1 booked appointment")
	b.set(false)
	e.mustDo(200, "PUT", path, e.admin.Token, berlin, "If-Match", e.etag(path))
	assert.NotEmpty(t, slotStarts(t, e.mustDo(200, "GET", path+"/slots?from=2026-02-02&to=2026-02-03", e.pat.Token, nil)))
}

// The slots range is required and bounded, as the document says: a client
// generated from it sends both dates, and a range over 31 days is a 400
// naming `to`.
func TestSlotsQueryAsDocumented(t *testing.T) {
	doc := openapitest.Load(t, transport.OpenAPI())
	op := doc.T.Paths.Value("/api/v1/doctors/{id}/slots").Get
	for _, name := range []string{"from", "to"} {
		p := op.Parameters.GetByInAndName("query", name)
		require.NotNil(t, p, "the document names %s", name)
		assert.True(t, p.Required, "%s is required", name)
	}
	assert.Contains(t, op.Parameters.GetByInAndName("query", "to").Description, fmt.Sprintf("at most %d days", service.MaxSlotDays))

	e := newEnv(t)
	d := e.createByAdmin(map[string]any{"timeZone": "UTC"})
	base := "/api/v1/doctors/" + d["id"].(string) + "/slots"
	fields := func(r response) []string {
		var p struct{ Errors []struct{ Field string } }
		require.NoError(t, json.Unmarshal(r.Body, &p))
		var out []string
		for _, fe := range p.Errors {
			out = append(out, fe.Field)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"from", "to"}, fields(e.mustDo(http.StatusBadRequest, http.MethodGet, base, e.pat.Token, nil)))
	e.mustDo(http.StatusOK, http.MethodGet, base+"?from=2026-02-01&to=2026-03-03", e.pat.Token, nil)
	assert.Equal(t, []string{"to"}, fields(e.mustDo(http.StatusBadRequest, http.MethodGet, base+"?from=2026-02-01&to=2026-03-04", e.pat.Token, nil)))
}
