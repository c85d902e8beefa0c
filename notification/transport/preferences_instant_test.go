package transport_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A malformed updatedAt in the preferences sent back is a 400 naming it,
// like any other wrong value (architecture.md, "Bodies").
func TestBadInstantInPreferencesNamesTheField(t *testing.T) {
	srv, iss, _ := newNotif(t, sqltest.SQLite(t, sqlstore.Migrations()))
	uid := ids.New()
	tok := iss.Token(t, authntest.Claims{UserID: uid, Roles: []string{authn.RolePatient}})
	for _, at := range []string{`"yesterday"`, `"2026-13-01T00:00:00Z"`, `0`} {
		body := `{"userId":"` + uid + `","email":true,"inApp":true,"reminders":false,"version":1,"updatedAt":` + at + `}`
		req, err := http.NewRequest("PUT", srv.URL+"/api/v1/notifications/me/preferences", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("If-Match", `"1"`)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var p problem.Problem
		_ = json.Unmarshal(b, &p)
		if res.StatusCode != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "updatedAt" {
			t.Errorf("updatedAt %s answered %d %s", at, res.StatusCode, b)
		}
	}
}
