package transport_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
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

// A deactivated doctor offers nothing and no span is on their grid, even
// when their stored zone no longer loads: the zone is not read for them,
// so the slots and the slot check answer rather than refuse, and new hours,
// which strand no booking of theirs, are taken.
func TestADeactivatedDoctorIsOffTheGridWhateverTheirZone(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	e := newEnvOn(t, db)
	d := e.createByAdmin(map[string]any{"timeZone": "America/New_York"})
	id := d["id"].(string)
	path := "/api/v1/doctors/" + id
	avail := path + "/availability"
	e.mustDo(200, "PUT", avail, e.admin.Token,
		map[string]any{"slotMinutes": 30, "weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}},
		"If-Match", e.etag(avail))
	check := path + "/slot-check?start=2026-02-02T14:00:00Z&end=2026-02-02T14:30:00Z" // Monday 09:00 in New York
	assert.Equal(t, true, e.mustDo(200, "GET", check, e.pat.Token, nil).JSON(t)["onGrid"])

	e.mustDo(204, "DELETE", path, e.admin.Token, nil)
	_, err := db.ExecContext(context.Background(), "UPDATE doctors SET time_zone = 'localtime' WHERE id = ?", id)
	require.NoError(t, err)
	r := e.mustDo(200, "GET", check, e.pat.Token, nil).JSON(t)
	assert.Equal(t, false, r["onGrid"])
	assert.Equal(t, false, r["active"])
	assert.Empty(t, slotStarts(t, e.mustDo(200, "GET", path+"/slots?from=2026-02-02&to=2026-02-03", e.pat.Token, nil)))
	e.mustDo(200, "PUT", avail, e.admin.Token,
		map[string]any{"slotMinutes": 30, "weekly": []map[string]string{{"day": "TUESDAY", "start": "09:00", "end": "12:00"}}},
		"If-Match", e.etag(avail))
}
