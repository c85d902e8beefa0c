package transport_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestEdgesOfInputOnEveryDatabase sends text at the limits of the columns in
// characters that take four bytes, and tampered cursors, to every database
// alike: what fits is stored, the rest is a 400, never a database error.
func TestEdgesOfInputOnEveryDatabase(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		admin := h.user(roles.admin)
		doc := h.user(roles.doctor)
		pid := h.newPatientFor(h.user(roles.patient))
		history := "/api/v1/patients/" + pid + "/history"
		wide := func(n int) string { return `"` + strings.Repeat("😀", n) + `"` }
		for _, body := range []string{
			with("lastName", wide(100)),
			with("address", `{"line1":`+wide(200)+`,"city":`+wide(100)+`,"state":`+wide(100)+`,"postalCode":`+wide(20)+`,"country":"DE"}`),
			with("emergencyContact", `{"name":`+wide(200)+`,"relationship":`+wide(50)+`,"phone":"+4912345678"}`),
		} {
			r := h.do("POST", "/api/v1/patients", admin.token, body)
			assert.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		}
		for _, body := range []string{entryWith("notes", wide(4000)), entryWith("description", wide(500)), entryWith("code", wide(64))} {
			r := h.do("POST", history, doc.token, body)
			assert.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		}
		assert.Equal(t, http.StatusBadRequest, h.do("POST", "/api/v1/patients", admin.token, with("lastName", wide(101))).Status)
		assert.Equal(t, http.StatusBadRequest, h.do("POST", history, doc.token, entryWith("notes", wide(4001))).Status)

		cursor := func(raw string) string { return url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte(raw))) }
		for _, path := range []string{
			"/api/v1/patients?cursor=" + cursor(`["é","é","é"]`),
			"/api/v1/patients?q=e&cursor=" + cursor(`["😀","é","é😀"]`),
			history + "?cursor=" + cursor(`["é😀"]`),
			"/api/v1/patients/" + pid + "/audit?cursor=" + cursor(`["é😀"]`),
		} {
			r := h.do("GET", path, admin.token, "")
			assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", path, string(r.Body))
		}
		r := h.do("GET", "/api/v1/patients?q=e&cursor="+cursor(`["😀","é","`+pid+`"]`), admin.token, "")
		assert.Equal(t, http.StatusOK, r.Status, string(r.Body))

		// Bytes no text column takes (PostgreSQL refuses NUL and invalid
		// UTF-8 outright) are a 400 naming the field, on every database.
		for _, c := range []struct{ method, path, body, field string }{
			{"POST", history, entryWith("notes", `"line one\u0000"`), "notes"},
			{"POST", history, entryWith("notes", `"bell\u0007"`), "notes"},
			{"GET", "/api/v1/patients?q=ada%00", "", "q"},
			{"GET", "/api/v1/patients?q=%FFada", "", "q"},
			{"GET", "/api/v1/patients?email=ada%00@example.org", "", "email"},
			{"GET", "/api/v1/patients?email=%FF@example.org", "", "email"},
			{"GET", "/api/v1/patients?q=a&cursor=" + cursor(`["a\u0000","b","`+pid+`"]`), "", "cursor"},
			{"GET", "/api/v1/patients?cursor=" + cursor(`["a","b\u0000","`+pid+`"]`), "", "cursor"},
		} {
			r := h.do(c.method, c.path, admin.token, c.body)
			if c.method == "POST" {
				r = h.do(c.method, c.path, doc.token, c.body)
			}
			assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", c.path, string(r.Body))
			assert.Contains(t, string(r.Body), `"`+c.field+`"`, c.path)
		}
		r = h.do("POST", history, doc.token, entryWith("notes", `"line one\r\nline two\ttabbed"`))
		assert.Equal(t, http.StatusCreated, r.Status, "notes keep line breaks and tabs: %s", string(r.Body))
	})
}

// A search page ending on a patient with the longest names, of characters
// that take the most bytes in a cursor, gets a nextCursor the service
// takes back, on every database: the list pages past every patient.
func TestSearchPagesPastTheLongestNames(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		admin := h.user(roles.admin)
		var want []string
		for _, r := range []string{`\"`, "&", "<", "😀"} {
			name := `"` + strings.Repeat(r, patient.MaxNameLen) + `"`
			for range 2 {
				r := h.do(http.MethodPost, "/api/v1/patients", admin.token, set(with("firstName", name), "lastName", name))
				require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
				want = append(want, r.JSON(t)["id"].(string))
			}
		}
		pages := func(base string) []string {
			var got []string
			next := base
			for pages := 0; next != "" && pages < 10; pages++ {
				r := h.do(http.MethodGet, next, admin.token, "")
				require.Equal(t, http.StatusOK, r.Status, string(r.Body))
				body := r.JSON(t)
				for _, it := range body["items"].([]any) {
					got = append(got, it.(map[string]any)["id"].(string))
				}
				next = ""
				if c, ok := body["nextCursor"].(string); ok {
					assert.LessOrEqual(t, len(c), page.MaxCursorLen)
					next = base + "&cursor=" + c
				}
			}
			return got
		}
		assert.ElementsMatch(t, want, pages("/api/v1/patients?limit=1"))
	})
}
