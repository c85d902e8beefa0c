package transport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSlotCheckReadsTheGridOnly(t *testing.T) {
	e := newEnv(t)
	d := e.createByAdmin(map[string]any{"timeZone": "Europe/Berlin"})
	id := d["id"].(string)
	avail := "/api/v1/doctors/" + id + "/availability"
	e.mustDo(200, "PUT", avail, e.admin.Token,
		map[string]any{"slotMinutes": 30, "weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}},
		"If-Match", e.etag(avail))
	check := func(start, end string) map[string]any {
		return e.mustDo(200, "GET", "/api/v1/doctors/"+id+"/slot-check?start="+start+"&end="+end, e.pat.Token, nil).JSON(t)
	}
	// Monday 2026-03-02 09:30 in Berlin is 08:30 UTC.
	r := check("2026-03-02T08:30:00Z", "2026-03-02T09:00:00Z")
	assert.Equal(t, true, r["onGrid"])
	assert.Equal(t, "Europe/Berlin", r["timeZone"])
	assert.Equal(t, true, r["active"])
	assert.Equal(t, id, r["doctorId"])

	for name, span := range map[string][2]string{
		"off the grid":         {"2026-03-02T08:40:00Z", "2026-03-02T09:10:00Z"},
		"two slots":            {"2026-03-02T08:30:00Z", "2026-03-02T09:30:00Z"},
		"outside working time": {"2026-03-02T12:00:00Z", "2026-03-02T12:30:00Z"},
		"another weekday":      {"2026-03-03T08:30:00Z", "2026-03-03T09:00:00Z"},
	} {
		assert.Equal(t, false, check(span[0], span[1])["onGrid"], name)
	}

	fields := e.mustDo(400, "GET", "/api/v1/doctors/"+id+"/slot-check?start=soon&end=2026-03-02T08:00:00Z", e.pat.Token, nil).Fields(t)
	assert.Equal(t, []string{"start"}, fields)
	// RFC 3339's grammar, not all Go's parser takes: an offset minute of 60,
	// an offset hour of 24, a comma before the fraction.
	fields = e.mustDo(400, "GET", "/api/v1/doctors/"+id+"/slot-check?start=2026-03-03T08:30:00%2B23:60&end=2026-03-03T09:00:00%2B24:00", e.pat.Token, nil).Fields(t)
	assert.Equal(t, []string{"start", "end"}, fields)
	fields = e.mustDo(400, "GET", "/api/v1/doctors/"+id+"/slot-check?start=2026-03-02T08:30:00,0Z&end=2026-03-02T09:00:00Z", e.pat.Token, nil).Fields(t)
	assert.Equal(t, []string{"start"}, fields)
	e.mustDo(404, "GET", "/api/v1/doctors/0190a8b0-0000-7000-8000-000000000000/slot-check?start=2026-03-02T08:30:00Z&end=2026-03-02T09:00:00Z", e.pat.Token, nil)
	e.mustDo(401, "GET", "/api/v1/doctors/"+id+"/slot-check?start=2026-03-02T08:30:00Z&end=2026-03-02T09:00:00Z", "", nil)
}
