package transport_test

import (
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// NUL, other control characters and invalid UTF-8 in a search term, a
// cursor or a text field are 400s naming the field on every database, never
// a database error.
func TestControlCharactersAreRefusedByName(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		id := e.createByAdmin(nil)["id"].(string)
		cursor := func(raw string) string { return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(raw))) }
		for path, field := range map[string]string{
			"/api/v1/doctors?q=ada%00": "q",
			"/api/v1/doctors?q=ada%1b": "q",
			"/api/v1/doctors?q=ad%ffa": "q",
			"/api/v1/doctors?cursor=" + cursor(`{"l":"a\u0000","f":"b","i":"`+id+`"}`): "cursor",
			"/api/v1/doctors?cursor=" + cursor(`{"l":"a","f":"b\u0007","i":"`+id+`"}`): "cursor",
			"/api/v1/specializations?cursor=" + cursor(`"a\u0000"`):                    "cursor",
		} {
			r := e.do("GET", path, e.pat.Token, nil)
			if assert.Equal(t, 400, r.Status, "GET %s: %s", path, r.Body) {
				assert.Equal(t, []string{field}, r.Fields(t), path)
			}
		}

		for _, bio := range []string{"a\u0000b", "a\u001bb", "a\u0085b"} {
			r := e.do("POST", "/api/v1/doctors", e.other.Token, doctorBody(map[string]any{"bio": bio}))
			if assert.Equal(t, 400, r.Status, "bio %q: %s", bio, r.Body) {
				assert.Equal(t, []string{"bio"}, r.Fields(t))
			}
		}
		for _, desc := range []string{"a\u0000b", "a\u007fb"} {
			r := e.do("POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Nul", "description": desc})
			if assert.Equal(t, 400, r.Status, "description %q: %s", desc, r.Body) {
				assert.Equal(t, []string{"description"}, r.Fields(t))
			}
		}

		// Line breaks and tabs are what prose needs.
		d := e.mustDo(201, "POST", "/api/v1/doctors", e.other.Token, doctorBody(map[string]any{"bio": "Line one.\r\n\tLine two."})).JSON(t)
		assert.Equal(t, "Line one.\r\n\tLine two.", d["bio"])
		sp := e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Tabs", "description": "a\n\tb"}).JSON(t)
		assert.Equal(t, "a\n\tb", sp["description"])
	})
}
