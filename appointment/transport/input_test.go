package transport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestFreeTextIsTextOnEveryDatabase: control characters (NUL, which
// PostgreSQL refuses in text, among them) are a 400 naming the field, never
// a database error; line breaks and tabs are text.
func TestFreeTextIsTextOnEveryDatabase(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		for _, bad := range []string{"Head\x00ache", "Head\x1bache", "Head\u0085ache", "\x7f"} {
			assert.Equal(t, []string{"reason"}, e.mustDo(400, "POST", "/api/v1/appointments", e.pat.Token,
				e.booking(15, 10, 0, map[string]any{"reason": bad})).Fields(t), "%q", bad)
		}
		assert.Equal(t, []string{"reason"}, e.mustDo(400, "POST", "/api/v1/appointments", e.pat.Token,
			e.booking(15, 10, 0, map[string]any{"reason": strings.Repeat("x", 501)})).Fields(t))
		id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token,
			e.booking(15, 10, 0, map[string]any{"reason": "Headache\nsince\tMonday"})).JSON(t)["id"].(string)
		for _, bad := range []string{"away\x00", "away\x1b[31m"} {
			assert.Equal(t, []string{"cancellationNote"}, e.mustDo(400, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token,
				map[string]any{"cancellationNote": bad}).Fields(t), "%q", bad)
		}
		e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{"cancellationNote": "away\nall week"})
		assert.Equal(t, 1, e.count("appointments"))
	})
}

func TestAPatientCannotCancelInTheClinicsName(t *testing.T) {
	e := newEnv(t)
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, nil)).JSON(t)["id"].(string)
	for _, code := range []string{"doctor-request", "clinic"} {
		assert.Equal(t, []string{"cancellationReason"}, e.mustDo(400, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token,
			map[string]any{"cancellationReason": code}).Fields(t), code)
	}
	assert.Equal(t, "other", e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token,
		map[string]any{"cancellationReason": "other"}).JSON(t)["cancellationReason"])
	id = e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 11, 0, nil)).JSON(t)["id"].(string)
	c := e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.doc.Token,
		map[string]any{"cancellationReason": "clinic"}).JSON(t)
	assert.Equal(t, "clinic", c["cancellationReason"])
	assert.Equal(t, e.doc.ID, c["updatedBy"], "who cancelled is recorded beside the code")
	assert.Equal(t, e.pat.ID, c["bookedBy"])
}

func TestTakenTimesShowPatientsNoPast(t *testing.T) {
	e := newEnv(t)
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil))
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(20, 10, 0, nil))
	e.clock.Set(time.Date(2030, 1, 18, 8, 0, 0, 0, time.UTC))
	path := "/api/v1/appointments/taken?doctorId=" + e.DoctorID + "&from=2030-01-14T00:00:00Z&to=2030-01-21T00:00:00Z"
	starts := func(token string) []string {
		var out []string
		for _, r := range e.mustDo(200, "GET", path, token, nil).JSON(t)["taken"].([]any) {
			out = append(out, r.(map[string]any)["start"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"2030-01-20T10:00:00Z"}, starts(e.pat2.Token), "a patient sees no past")
	assert.Equal(t, []string{"2030-01-15T10:00:00Z", "2030-01-20T10:00:00Z"}, starts(e.admin.Token))
	assert.Equal(t, []string{"2030-01-15T10:00:00Z", "2030-01-20T10:00:00Z"}, starts(e.doc.Token))
	assert.Empty(t, e.mustDo(200, "GET", "/api/v1/appointments/taken?doctorId="+e.DoctorID+
		"&from=2030-01-14T00:00:00Z&to=2030-01-15T00:00:00Z", e.pat2.Token, nil).JSON(t)["taken"])
}

// TestStartsAtMostAYearAhead: a start later than 365 days from now is a 400
// naming start, on booking and on rescheduling, and nothing is written; the
// doctor service's check of the bookings a change of hours would strand
// reaches further, so that it sees every booking made since.
func TestStartsAtMostAYearAhead(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2030, 1, 14, 10, 0, 0, 0, time.UTC))
	book := func(start, end string) response {
		return e.do("POST", "/api/v1/appointments", e.pat.Token,
			map[string]any{"doctorId": e.DoctorID, "start": start, "end": end, "reason": "Checkup"})
	}
	r := book("2031-01-14T10:30:00Z", "2031-01-14T11:00:00Z")
	require.Equal(t, 400, r.Status, r.Body)
	assert.Equal(t, []string{"start"}, r.Fields(t))
	assert.Equal(t, 0, e.count("appointments"))

	id := book("2031-01-14T10:00:00Z", "2031-01-14T10:30:00Z")
	require.Equal(t, 201, id.Status, "the last instant of the window: %s", id.Body)
	assert.Equal(t, []string{"start"}, e.mustDo(400, "POST", "/api/v1/appointments/"+id.JSON(t)["id"].(string)+"/reschedule",
		e.pat.Token, map[string]any{"start": "2031-01-20T10:00:00Z", "end": "2031-01-20T10:30:00Z"}).Fields(t))
}

// TestSlotInstantsAreWholeSeconds: the doctor's grid is in whole minutes,
// and a fraction of a second would store an appointment just off it,
// holding the slots on either side; such a start or end is a 400 naming the
// field, on booking and on rescheduling, and nothing is written.
func TestSlotInstantsAreWholeSeconds(t *testing.T) {
	e := newEnv(t)
	book := func(start, end string) response {
		return e.do("POST", "/api/v1/appointments", e.pat.Token,
			map[string]any{"doctorId": e.DoctorID, "start": start, "end": end, "reason": "Checkup"})
	}
	for _, frac := range []string{".5", ".999", ".000000001"} {
		r := book("2030-01-15T10:00:00"+frac+"Z", "2030-01-15T10:30:00"+frac+"Z")
		require.Equal(t, 400, r.Status, "%s: %s", frac, r.Body)
		assert.Equal(t, []string{"start", "end"}, r.Fields(t), frac)
	}
	assert.Equal(t, 0, e.count("appointments"))

	// A fraction of zero is a whole second.
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, map[string]any{"doctorId": e.DoctorID,
		"start": "2030-01-15T10:00:00.000Z", "end": "2030-01-15T10:30:00Z"}).JSON(t)["id"].(string)
	assert.Equal(t, []string{"end"}, e.mustDo(400, "POST", "/api/v1/appointments/"+id+"/reschedule", e.pat.Token,
		map[string]any{"start": "2030-01-15T11:00:00Z", "end": "2030-01-15T11:30:00.25Z"}).Fields(t))
	// Both neighbours of the slot are free.
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(15, 9, 30, nil))
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(15, 10, 30, nil))
}

// TestInstantsFollowRFC3339: an instant is read by RFC 3339's grammar, as
// the document's date-time says; an offset of +23:60 or +24:00 or a comma
// before the fraction, which Go's parser takes, is a 400 naming the field,
// and no booking is made.
func TestInstantsFollowRFC3339(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ name, start, end string }{
		{"offset minute 60", "2030-01-16T09:00:00+23:60", "2030-01-16T09:30:00+23:60"},
		{"offset hour 24", "2030-01-16T10:00:00+24:00", "2030-01-16T10:30:00+24:00"},
		{"comma before the fraction", "2030-01-15T11:00:00,0Z", "2030-01-15T11:30:00,0Z"},
	} {
		r := e.do("POST", "/api/v1/appointments", e.pat.Token,
			map[string]any{"doctorId": e.DoctorID, "start": c.start, "end": c.end, "reason": "Checkup"})
		require.Equal(t, 400, r.Status, "%s: %s", c.name, r.Body)
		assert.Equal(t, []string{"start", "end"}, r.Fields(t), c.name)
	}
	assert.Equal(t, 0, e.count("appointments"), "no booking is made of a malformed instant")
}

// TestAParameterOfOneValueIsRefusedSentTwiceOrEmpty: a parameter that
// takes one value, sent twice or with no value, is a 400 naming it, never
// read as its first value or as absent, so that a filter the service
// refuses does not pass behind one it takes.
func TestAParameterOfOneValueIsRefusedSentTwiceOrEmpty(t *testing.T) {
	e := newEnv(t)
	taken := "/api/v1/appointments/taken?doctorId=" + e.DoctorID + "&from=2030-01-14T00:00:00Z&to=2030-01-21T00:00:00Z"
	for path, fields := range map[string][]string{
		"/api/v1/appointments?status=booked&status=gone":     {"status"},
		"/api/v1/appointments?when=":                         {"when"},
		"/api/v1/appointments?date=2030-01-15&days=1&days=9": {"days"},
		"/api/v1/appointments?doctorId=&patientId=":          {"doctorId", "patientId"},
		"/api/v1/appointments?limit=5&limit=100000":          {"limit"},
		taken + "&from=2030-01-01T00:00:00Z":                 {"from"},
		taken + "&doctorId=":                                 {"doctorId"},
		"/api/v1/appointments/audit?patientId=":              {"patientId"},
	} {
		r := e.mustDo(400, "GET", path, e.admin.Token, nil)
		assert.Equal(t, fields, r.Fields(t), path)
	}
	e.mustDo(200, "GET", "/api/v1/appointments?status=booked,arrived&when=upcoming", e.admin.Token, nil)
	e.mustDo(200, "GET", taken, e.admin.Token, nil)
}

// A client paging with "?limit=N&cursor=" + nextCursor sends an empty
// cursor on its first page, which the document's cursor (no minLength)
// accepts: it is the first page.
func TestEmptyCursorIsTheFirstPage(t *testing.T) {
	e := newEnv(t)
	e.mustDo(200, "GET", "/api/v1/appointments?limit=5&cursor=", e.admin.Token, nil)
	e.mustDo(200, "GET", "/api/v1/appointments/audit?patientId="+e.pat.ID+"&cursor=", e.admin.Token, nil)
}
