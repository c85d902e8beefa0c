package transport_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestEdgesOfInputOnEveryDatabase: extreme but well-formed values reach
// each database and are answered, never with a 5xx.
func TestEdgesOfInputOnEveryDatabase(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil))
		taken := func(from, to string) string {
			return "/api/v1/appointments/taken?doctorId=" + e.DoctorID + "&from=" + url.QueryEscape(from) + "&to=" + url.QueryEscape(to)
		}
		for _, c := range []struct {
			path   string
			status int
			field  string
		}{
			{taken("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"), 400, "from"},
			{taken("0000-01-01T00:00:00Z", "0000-01-02T00:00:00Z"), 400, "from"},
			{taken("1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z"), 200, ""},
			{taken("8999-12-30T00:00:00Z", "8999-12-31T23:59:59Z"), 200, ""},
			{taken("9999-12-30T00:00:00Z", "9999-12-31T23:59:59Z"), 400, "to"},
			{taken("2030-01-15T00:00:00+14:00", "2030-01-16T00:00:00-12:00"), 200, ""},
			{taken("2030-01-15T00:00:00Z", "2030-03-15T00:00:00Z"), 400, "to"},
			{taken("2030-01-16T00:00:00Z", "2030-01-15T00:00:00Z"), 400, "to"},
			{"/api/v1/appointments/taken?doctorId=nope&from=2030-01-15T00:00:00Z&to=2030-01-16T00:00:00Z", 400, "doctorId"},
			{"/api/v1/appointments/taken", 400, "doctorId"},
			{"/api/v1/appointments?date=0001-01-01&days=7", 400, "date"},
			{"/api/v1/appointments?date=9999-12-31&days=7", 400, "date"},
			{"/api/v1/appointments?date=1970-01-01&days=7", 200, ""},
			{"/api/v1/appointments?date=8999-12-25&days=7", 200, ""},
			{"/api/v1/appointments?when=past&limit=100", 200, ""},
			{"/api/v1/appointments?limit=99999999999999999999999", 400, "limit"},
			{"/api/v1/appointments?limit=-1", 400, "limit"},
			{"/api/v1/appointments?days=abc&date=2030-01-15", 400, "days"},
			{"/api/v1/appointments?doctorId=x", 400, "doctorId"},
			{"/api/v1/appointments?patientId=" + strings.Repeat("a", 5000), 400, "patientId"},
			{"/api/v1/appointments?status=booked,gone", 400, "status"},
			{"/api/v1/appointments/not-a-uuid", 400, "id"},
			{"/api/v1/appointments?when=past&cursor=" + page.EncodeCursor(service.Cursor{Start: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), ID: ids.New()}), 400, "cursor"},
			{"/api/v1/appointments?cursor=" + page.EncodeCursor(service.Cursor{Start: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), ID: ids.New()}), 400, "cursor"},
			{"/api/v1/appointments?when=past&cursor=" + page.EncodeCursor(service.Cursor{Start: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), ID: ids.New()}), 200, ""},
			{"/api/v1/appointments?cursor=" + page.EncodeCursor(service.Cursor{Start: time.Date(8999, 12, 31, 23, 59, 59, 0, time.UTC), ID: ids.New()}), 200, ""},
		} {
			r := e.mustDo(c.status, "GET", c.path, e.admin.Token, nil)
			if c.field != "" {
				assert.Contains(t, r.Fields(t), c.field, c.path)
			}
		}
		for _, b := range []map[string]any{
			{"doctorId": e.DoctorID, "start": "9999-12-31T23:00:00Z", "end": "9999-12-31T23:30:00Z"},
			{"doctorId": e.DoctorID, "start": "2030-01-15T10:00:00.000000001Z", "end": "2030-01-15T10:30:00Z"},
		} {
			e.mustDo(400, "POST", "/api/v1/appointments", e.pat.Token, b)
		}
	})
}

// TestCraftedCursorsAreRefusedOnEveryDatabase: a cursor is base64url JSON a
// client can write; one whose instant lies past 9999 (or before 1) in UTC
// only through its offset, or outside the years any appointment starts in,
// is a 400 naming cursor on each database, never a 5xx.
func TestCraftedCursorsAreRefusedOnEveryDatabase(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		for _, s := range []string{"9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+23:59", "0001-01-01T00:00:00+01:00",
			"1969-12-31T23:59:59Z", "9000-01-01T00:00:00Z"} {
			c := base64.RawURLEncoding.EncodeToString([]byte(`{"s":"` + s + `","i":"` + ids.New() + `"}`))
			for _, when := range []string{"upcoming", "past"} {
				r := e.mustDo(400, "GET", "/api/v1/appointments?when="+when+"&cursor="+c, e.admin.Token, nil)
				assert.Equal(t, []string{"cursor"}, r.Fields(t), "%s %s", s, when)
			}
		}
	})
}
