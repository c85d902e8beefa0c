package transport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
	assert.Equal(t, "clinic", e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.doc.Token,
		map[string]any{"cancellationReason": "clinic"}).JSON(t)["cancellationReason"])
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
