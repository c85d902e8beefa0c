package transport_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/transport"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// with returns profileJSON with one field replaced or added.
func with(field, value string) string { return set(profileJSON, field, value) }

func entryWith(field, value string) string { return set(entryJSONBody, field, value) }

func set(doc, field, value string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		panic(err)
	}
	m[field] = json.RawMessage(value)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestBadInput sends every kind of bad input and expects a 4xx problem,
// naming the field where there is one, and never a 500.
func TestBadInput(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := h.user(roles.admin)
	doc := h.user(roles.doctor)
	pid := h.newPatientFor(h.user(roles.patient))
	eid := h.newEntry(doc, pid)
	patients := "/api/v1/patients"
	one := patients + "/" + pid
	history := one + "/history"
	entry := history + "/" + eid
	long := `"` + strings.Repeat("x", 101) + `"`

	cases := []struct {
		name, method, path, body string
		token                    string
		headers                  []string
		status                   int
		fields                   []string
	}{
		{"malformed JSON", "POST", patients, `{"firstName": "Ada",`, admin.token, nil, 400, nil},
		{"not an object", "POST", patients, `["Ada"]`, admin.token, nil, 400, []string{"body"}},
		{"trailing data", "POST", patients, profileJSON + `{}`, admin.token, nil, 400, nil},
		{"unknown field", "POST", patients, with("nickname", `"Ada"`), admin.token, nil, 400, []string{"nickname"}},
		{"server-owned id", "POST", patients, with("id", `"`+pid+`"`), admin.token, nil, 400, []string{"id"}},
		{"server-owned createdAt", "POST", patients, with("createdAt", `"2020-01-01T00:00:00Z"`), admin.token, nil, 400, []string{"createdAt"}},
		{"version in body", "POST", patients, with("version", `7`), admin.token, nil, 400, []string{"version"}},
		{"wrong type", "POST", patients, with("firstName", `42`), admin.token, nil, 400, []string{"firstName"}},
		{"wrong nested type", "POST", patients, with("address", `"Berlin"`), admin.token, nil, 400, []string{"address"}},
		{"empty body", "POST", patients, "", admin.token, nil, 400, nil},
		{"oversize body", "POST", patients, with("notes", `"`+strings.Repeat("x", 70<<10)+`"`), admin.token, nil, 413, nil},
		{"wrong media type", "POST", patients, profileJSON, admin.token, []string{"Content-Type", "text/plain"}, 415, nil},
		{"impossible date", "POST", patients, with("dateOfBirth", `"2027-02-30"`), admin.token, nil, 400, []string{"dateOfBirth"}},
		{"day 31 in a 30-day month", "POST", patients, with("dateOfBirth", `"2001-04-31"`), admin.token, nil, 400, []string{"dateOfBirth"}},
		{"date with time", "POST", patients, with("dateOfBirth", `"2001-04-01T00:00:00Z"`), admin.token, nil, 400, []string{"dateOfBirth"}},
		{"date in the future", "POST", patients, with("dateOfBirth", `"2026-06-17"`), admin.token, nil, 400, []string{"dateOfBirth"}},
		{"date too old", "POST", patients, with("dateOfBirth", `"1850-01-01"`), admin.token, nil, 400, []string{"dateOfBirth"}},
		{"missing names", "POST", patients, with("firstName", `" "`), admin.token, nil, 400, []string{"firstName"}},
		{"long name", "POST", patients, with("lastName", long), admin.token, nil, 400, []string{"lastName"}},
		{"control characters", "POST", patients, with("lastName", `"Love\u0000lace"`), admin.token, nil, 400, []string{"lastName"}},
		{"bad email", "POST", patients, with("email", `"ada@"`), admin.token, nil, 400, []string{"email"}},
		{"email with name", "POST", patients, with("email", `"Ada <ada@example.org>"`), admin.token, nil, 400, []string{"email"}},
		{"phone not E.164", "POST", patients, with("phone", `"0301234567"`), admin.token, nil, 400, []string{"phone"}},
		{"unknown sex", "POST", patients, with("sex", `"F"`), admin.token, nil, 400, []string{"sex"}},
		{"unknown blood type", "POST", patients, with("bloodType", `"C+"`), admin.token, nil, 400, []string{"bloodType"}},
		{"bad language", "POST", patients, with("preferredLanguage", `"English"`), admin.token, nil, 400, []string{"preferredLanguage"}},
		{"bad address", "POST", patients, with("address", `{"line1":"","city":"Berlin","country":"Germany"}`), admin.token, nil, 400,
			[]string{"address.line1", "address.country"}},
		{"bad emergency contact", "POST", patients, with("emergencyContact", `{"name":"Max","phone":"123"}`), admin.token, nil, 400,
			[]string{"emergencyContact.phone"}},
		{"several fields at once", "POST", patients, `{"firstName":"","lastName":"X","dateOfBirth":"1990-01-01","sex":"x","email":"no"}`,
			admin.token, nil, 400, []string{"firstName", "sex", "email"}},
		{"bad UUID", "GET", patients + "/12345", "", admin.token, nil, 400, []string{"id"}},
		{"bad UUID in history", "GET", patients + "/not-a-uuid/history", "", admin.token, nil, 400, []string{"id"}},
		{"bad entry UUID", "GET", history + "/zzz", "", admin.token, nil, 400, []string{"entryId"}},
		{"bad UUID on update", "PUT", patients + "/" + strings.Repeat("a", 36), profileJSON, admin.token, []string{"If-Match", `"1"`}, 400, []string{"id"}},
		{"missing If-Match", "PUT", one, profileJSON, admin.token, nil, 428, nil},
		{"wildcard If-Match", "PUT", one, profileJSON, admin.token, []string{"If-Match", "*"}, 428, nil},
		{"garbage If-Match", "PUT", one, profileJSON, admin.token, []string{"If-Match", `"v1"`}, 400, []string{"If-Match"}},
		{"weak If-Match", "PUT", one, profileJSON, admin.token, []string{"If-Match", `W/"1"`}, 412, nil},
		{"stale If-Match", "PUT", one, profileJSON, admin.token, []string{"If-Match", `"7"`}, 412, nil},
		{"limit zero", "GET", patients + "?limit=0", "", admin.token, nil, 400, []string{"limit"}},
		{"limit too big", "GET", patients + "?limit=101", "", admin.token, nil, 400, []string{"limit"}},
		{"limit not a number", "GET", patients + "?limit=ten", "", admin.token, nil, 400, []string{"limit"}},
		{"bad cursor", "GET", patients + "?cursor=abc", "", admin.token, nil, 400, []string{"cursor"}},
		{"bad cursor on history", "GET", history + "?cursor=W10", "", admin.token, nil, 400, []string{"cursor"}},
		{"bad cursor on audit", "GET", one + "/audit?cursor=!!", "", admin.token, nil, 400, []string{"cursor"}},
		{"impossible date in search", "GET", patients + "?dateOfBirth=2027-02-30", "", admin.token, nil, 400, []string{"dateOfBirth"}},
		{"long search", "GET", patients + "?q=" + strings.Repeat("a", 101), "", admin.token, nil, 400, []string{"q"}},
		{"search sent twice", "GET", patients + "?q=ada&q=" + strings.Repeat("a", 101), "", admin.token, nil, 400, []string{"q"}},
		{"date of birth sent twice", "GET", patients + "?dateOfBirth=1990-01-01&dateOfBirth=2027-02-30", "", admin.token, nil, 400, []string{"dateOfBirth"}},
		{"date of birth sent empty", "GET", patients + "?q=&email=&dateOfBirth=", "", admin.token, nil, 400, []string{"dateOfBirth"}},
		{"limit sent empty", "GET", history + "?limit=", "", admin.token, nil, 400, []string{"limit"}},
		{"cursor sent twice", "GET", one + "/audit?cursor=abc&cursor=abc", "", admin.token, nil, 400, []string{"cursor"}},
		{"unknown history type", "GET", history + "?type=DIAGNOSIS", "", admin.token, nil, 400, []string{"type"}},
		{"unknown history status", "GET", history + "?status=done", "", admin.token, nil, 400, []string{"status"}},
		{"many bad history types are named once", "GET", history + "?type=" + strings.Repeat("x,", 2000) + "x&status=" + strings.Repeat("y,", 2000) + "y", "", admin.token, nil, 400, []string{"type", "status"}},
		{"too many history types", "GET", history + "?type=" + strings.Repeat("NOTE,", 7) + "NOTE", "", admin.token, nil, 400, []string{"type"}},
		{"too many history statuses", "GET", history + "?status=" + strings.Repeat("active,", 4) + "active", "", admin.token, nil, 400, []string{"status"}},
		{"entry: unknown type", "POST", history, entryWith("type", `"DIAGNOSIS"`), doc.token, nil, 400, []string{"type"}},
		{"entry: no description", "POST", history, entryWith("description", `""`), doc.token, nil, 400, []string{"description"}},
		{"entry: status set directly to entered-in-error", "POST", history, entryWith("status", `"entered-in-error"`), doc.token, nil, 400, []string{"status"}},
		{"entry: severity on a medication", "POST", history, entryWith("type", `"MEDICATION"`), doc.token, nil, 400, []string{"severity"}},
		{"entry: unknown severity", "POST", history, entryWith("severity", `"fatal"`), doc.token, nil, 400, []string{"severity"}},
		{"entry: end before onset", "POST", history, entryWith("endDate", `"2000-01-01"`), doc.token, nil, 400, []string{"endDate"}},
		{"entry: onset in the future", "POST", history, entryWith("onsetDate", `"2030-01-01"`), doc.token, nil, 400, []string{"onsetDate"}},
		{"entry: impossible date", "POST", history, entryWith("onsetDate", `"2023-02-29"`), doc.token, nil, 400, []string{"onsetDate"}},
		{"entry: code without system", "POST", history, `{"type":"NOTE","description":"x","code":"123"}`, doc.token, nil, 400, []string{"codeSystem"}},
		{"entry: recordedBy", "POST", history, entryWith("recordedBy", `"someone-else"`), doc.token, nil, 400, []string{"recordedBy"}},
		{"entry: server-owned recordedAt", "POST", history, entryWith("recordedAt", `"2020-01-01T00:00:00Z"`), doc.token, nil, 400, []string{"recordedAt"}},
		{"entry: server-owned patientId", "POST", history, entryWith("patientId", `"`+pid+`"`), doc.token, nil, 400, []string{"patientId"}},
		{"entry: missing If-Match", "PUT", entry, entryJSONBody, doc.token, nil, 428, nil},
		{"entry: stale If-Match", "PUT", entry, entryJSONBody, doc.token, []string{"If-Match", `"2"`}, 412, nil},
		{"entry: weak If-Match", "PUT", entry, entryJSONBody, doc.token, []string{"If-Match", `W/"1"`}, 412, nil},
		{"entry: stale If-Match on delete", "DELETE", entry, "", doc.token, []string{"If-Match", `"2"`}, 412, nil},
		{"entry of another patient", "GET", patients + "/" + eid + "/history/" + eid, "", doc.token, nil, 404, nil},
		{"unknown path", "GET", "/api/v1/patients/" + pid + "/nothing", "", doc.token, nil, 404, nil},
		{"wrong method", "PATCH", one, profileJSON, doc.token, nil, 405, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			r := h.do(c.method, c.path, c.token, c.body, c.headers...)
			require.Equal(t, c.status, r.Status, string(r.Body))
			p := r.JSON(t)
			assert.EqualValues(t, c.status, p["status"])
			assert.NotEmpty(t, p["title"])
			if c.fields != nil {
				assert.ElementsMatch(t, c.fields, r.Fields(t), string(r.Body))
			}
		})
	}
}

// TestFieldsAtFaultAreNamedByTheirPathInTheBody: a wrong type or an unknown
// field is named by its path in the body (address.city), as the client
// wrote it, also on a PUT, whose body embeds the POST's.
func TestFieldsAtFaultAreNamedByTheirPathInTheBody(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := h.user(roles.admin)
	created := h.do(http.MethodPost, "/api/v1/patients", admin.token, profileJSON)
	require.Equal(t, http.StatusCreated, created.Status, string(created.Body))
	one := "/api/v1/patients/" + created.JSON(t)["id"].(string)
	etag := created.Header.Get("ETag")

	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"wrong type on PUT", http.MethodPut, one, strings.Replace(profileJSON, `"firstName":"Ada"`, `"firstName":7`, 1), "firstName"},
		{"wrong type in address on PUT", http.MethodPut, one, strings.Replace(profileJSON, `"city":"London"`, `"city":7`, 1), "address.city"},
		{"unknown field in address", http.MethodPost, "/api/v1/patients", strings.Replace(profileJSON, `"city":"London"`, `"city":"London","line3":"Flat 2"`, 1), "address.line3"},
		{"unknown field in address on PUT", http.MethodPut, one, strings.Replace(profileJSON, `"city":"London"`, `"city":"London","line3":"Flat 2"`, 1), "address.line3"},
	} {
		r := h.do(tc.method, tc.path, admin.token, tc.body, "If-Match", etag)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tc.name, r.Body)
		assert.Equal(t, []string{tc.field}, r.Fields(t), tc.name)
	}
}

// TestHalfASurrogatePairIsRefused: a \u escape of half a surrogate pair
// names no character; it is a 400 naming the field, never stored as U+FFFD.
func TestHalfASurrogatePairIsRefused(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := h.user(roles.admin)
	for _, tc := range []struct{ name, from, to, field string }{
		{"high surrogate alone", `"firstName":"Ada"`, `"firstName":"Ad\ud800a"`, "firstName"},
		{"low surrogate alone", `"lastName":"Lovelace"`, `"lastName":"Love\udc00lace"`, "lastName"},
		{"pair reversed", `"city":"London"`, `"city":"Lon\udc00\ud800don"`, "address.city"},
	} {
		r := h.do(http.MethodPost, "/api/v1/patients", admin.token, strings.Replace(profileJSON, tc.from, tc.to, 1))
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tc.name, r.Body)
		assert.Equal(t, []string{tc.field}, r.Fields(t), tc.name)
	}
	r := h.do(http.MethodPost, "/api/v1/patients", admin.token, strings.Replace(profileJSON, `"firstName":"Ada"`, `"firstName":"Ada \ud83d\ude00"`, 1))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	assert.Equal(t, "Ada \U0001F600", r.JSON(t)["firstName"], "a whole pair is its character")
}

// TestAcceptsEdgesOfValidInput checks that valid input at the limits passes.
func TestAcceptsEdgesOfValidInput(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := h.user(roles.admin)
	for name, body := range map[string]string{
		"born today":          with("dateOfBirth", `"2026-06-15"`),
		"leap day":            with("dateOfBirth", `"2024-02-29"`),
		"names of 100 chars":  with("lastName", `"`+strings.Repeat("ß", 100)+`"`),
		"minimal":             `{"firstName":"A","lastName":"B","dateOfBirth":"1970-01-01"}`,
		"null optional parts": with("address", `null`),
		"blank trimmed":       with("firstName", `"  Ada  "`),
	} {
		r := h.do("POST", "/api/v1/patients", admin.token, body)
		assert.Equal(t, http.StatusCreated, r.Status, "%s: %s", name, string(r.Body))
	}
	r := h.do("POST", "/api/v1/patients", admin.token, `{"firstName":"A","lastName":"B","dateOfBirth":"1970-01-01"}`)
	require.Equal(t, http.StatusCreated, r.Status)
	assert.Equal(t, "unknown", r.JSON(t)["sex"], "sex defaults to unknown")
}

// An empty history filter, sent alone, among others or as a part of a
// comma-separated list, is a 400 naming it on every database, never read
// as no filter: the list would widen to everything, entries marked
// entered-in-error included when status is the one left empty.
func TestEmptyHistoryFilterIsA400NamingIt(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		doc := h.user(roles.doctor)
		id := h.newPatientFor(h.user(roles.patient))
		h.newEntry(doc, id)
		history := "/api/v1/patients/" + id + "/history"
		for q, field := range map[string]string{
			"?status=": "status", "?status=active&status=": "status", "?status=active,": "status",
			"?type=": "type", "?type=,": "type", "?type=NOTE,%20,ALLERGY": "type", "?type=NOTE&status=": "status",
		} {
			r := h.do("GET", history+q, doc.token, "")
			if assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %.200s", q, r.Body) {
				assert.Equal(t, []string{field}, r.Fields(t), q)
			}
		}
		r := h.do("GET", history+"?type=ALLERGY,%20NOTE&status=active", doc.token, "")
		if assert.Equal(t, http.StatusOK, r.Status, "spaces around a value are no empty value: %s", r.Body) {
			assert.Len(t, r.JSON(t)["items"], 1)
		}
	})
}

// A search form that sends its empty boxes, and a pager the nextCursor of
// the page before, none on the first: ?q=, ?email= and ?cursor= are no
// filter and the first page, as the document's strings without minLength
// let them be.
func TestEmptySearchTextAndCursorAreAbsent(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := h.user(roles.admin)
	for _, body := range []string{with("firstName", `"Ada"`), with("firstName", `"Bo"`)} {
		require.Equal(t, http.StatusCreated, h.do("POST", "/api/v1/patients", admin.token, body).Status)
	}
	r := h.do("GET", "/api/v1/patients?q=&email=&limit=5&cursor=", admin.token, "")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Len(t, r.JSON(t)["items"], 2)
}

// A client generated from the document sends every field the service
// needs: each field an empty body is refused for lacking is in the
// schema's `required`.
func TestRequiredBodyFieldsAreInTheDocument(t *testing.T) {
	doc := openapitest.Load(t, transport.OpenAPI())
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := h.user(roles.admin)
	pid := h.newPatientFor(h.user(roles.patient))

	for _, c := range []struct{ schema, method, path string }{
		{"PatientCreate", http.MethodPost, "/api/v1/patients"},
		{"EntryCreate", http.MethodPost, "/api/v1/patients/" + pid + "/history"},
	} {
		t.Run(c.schema, func(t *testing.T) {
			r := h.do(c.method, c.path, admin.token, `{}`)
			require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
			var p struct {
				Errors []struct{ Field, Message string }
			}
			require.NoError(t, json.Unmarshal(r.Body, &p))
			documented := doc.T.Components.Schemas[c.schema].Value.Required
			var required []string
			for _, fe := range p.Errors {
				if fe.Message == "is required" {
					required = append(required, fe.Field)
				}
			}
			require.NotEmpty(t, required)
			assert.Subset(t, documented, required, "%s %s", c.method, c.path)
		})
	}
}

// TestEmptyAddressIsNone creates patients whose address or emergency
// contact is {} or blank only: the service takes it for none, and the
// document, which the harness holds every exchange to, must accept it too.
func TestEmptyAddressIsNone(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := h.user(roles.admin)
	for _, c := range []struct{ field, value string }{
		{"address", `{}`},
		{"emergencyContact", `{}`},
		{"address", `{"line2":" "}`},
		{"emergencyContact", `{"name":"","phone":" "}`},
	} {
		t.Run(c.field+c.value, func(t *testing.T) {
			r := h.do(http.MethodPost, "/api/v1/patients", admin.token, with(c.field, c.value))
			if r.Status != http.StatusCreated {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			var got map[string]any
			require.NoError(t, json.Unmarshal(r.Body, &got))
			assert.Nil(t, got[c.field], "none")
		})
	}
}
