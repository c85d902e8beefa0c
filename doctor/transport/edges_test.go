package transport_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestEdgesOfInputOnEveryDatabase sends input at and past the limits of the
// columns, in characters that take four bytes, to SQLite and MySQL alike:
// what fits is stored, what does not is a 400 naming the field, never a
// database error.
func TestEdgesOfInputOnEveryDatabase(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		id := e.createByAdmin(nil)["id"].(string)
		wide := func(n int) string { return strings.Repeat("😀", n) }
		cursor := func(raw string) string {
			return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(raw)))
		}
		for _, body := range []map[string]any{
			{"firstName": wide(100), "lastName": wide(100)},
			{"bio": wide(4000)},
			{"languages": []string{"en-x-abcdefgh-abcdefgh-abcdefgh-abc"}},
		} {
			e.mustDo(201, "POST", "/api/v1/doctors", e.admin.Token, doctorBody(body))
		}
		e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": wide(100), "description": wide(1000)})

		for _, c := range []struct {
			name, method, path string
			body               any
			field              string
		}{
			{"a language tag wider than its column", "POST", "/api/v1/doctors",
				doctorBody(map[string]any{"languages": []string{"en" + strings.Repeat("-abcdefgh", 10)}}), "languages[0]"},
			{"a name of 101 wide characters", "POST", "/api/v1/doctors", doctorBody(map[string]any{"lastName": wide(101)}), "lastName"},
			{"a specialization name of 101 wide characters", "POST", "/api/v1/specializations", map[string]any{"name": wide(101)}, "name"},
			{"a cursor whose id is not a UUID", "GET", "/api/v1/doctors?cursor=" + cursor(`{"l":"é😀","f":"é","i":"é"}`), nil, "cursor"},
			{"a catalog cursor that is not a name", "GET", "/api/v1/specializations?cursor=" + cursor(`5`), nil, "cursor"},
			{"an exception date that does not exist", "PUT", "/api/v1/doctors/" + id + "/availability",
				map[string]any{"exceptions": []map[string]any{{"date": "2027-02-29", "available": false}}}, "exceptions[0].date"},
		} {
			var headers []string
			if c.method == "PUT" {
				headers = []string{"If-Match", e.etag(c.path)}
			}
			r := e.mustDo(400, c.method, c.path, e.admin.Token, c.body, headers...)
			assert.Contains(t, r.Fields(t), c.field, "%s: %s", c.name, r.Body)
		}
		e.mustDo(200, "GET", "/api/v1/doctors?cursor="+cursor(`{"l":"é😀","f":"é","i":"`+id+`"}`), e.admin.Token, nil)
		e.mustDo(200, "GET", "/api/v1/specializations?cursor="+cursor(`"é😀"`), e.admin.Token, nil)
	})
}
