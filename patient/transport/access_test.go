package transport_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// want is the expected answer to one caller, and the audit event it leaves
// on the patient's trail (none when action is "").
type want struct {
	status  int
	action  patient.Action
	outcome patient.Outcome
}

var (
	allowed = patient.OutcomeAllowed
	denied  = patient.OutcomeDenied
)

// TestWhoMayDoWhat drives every cell of the access matrix over HTTP: the
// patient themself, another patient, a doctor and an administrator, on a
// fresh record each time, checking the status and the audit event left.
func TestWhoMayDoWhat(t *testing.T) {
	cases := []struct {
		name, method, path, body, ifMatch, resource string
		// doctor treats the patient; stranger is a doctor who does not.
		self, other, doctor, stranger, admin want
	}{
		{name: "read profile", method: "GET", path: "/api/v1/patients/{p}", resource: patient.ResourcePatient,
			self: want{200, "read", allowed}, other: want{404, "read", denied}, doctor: want{200, "read", allowed}, stranger: want{200, "read", allowed}, admin: want{200, "read", allowed}},
		{name: "update profile", method: "PUT", path: "/api/v1/patients/{p}", body: profileJSON, ifMatch: `"1"`, resource: patient.ResourcePatient,
			self: want{200, "update", allowed}, other: want{404, "update", denied}, doctor: want{403, "update", denied}, stranger: want{403, "update", denied}, admin: want{200, "update", allowed}},
		{name: "deactivate", method: "DELETE", path: "/api/v1/patients/{p}", resource: patient.ResourcePatient,
			self: want{403, "delete", denied}, other: want{404, "delete", denied}, doctor: want{403, "delete", denied}, stranger: want{403, "delete", denied}, admin: want{204, "delete", allowed}},
		{name: "list history", method: "GET", path: "/api/v1/patients/{p}/history", resource: patient.ResourceHistory,
			self: want{200, "read", allowed}, other: want{404, "read", denied}, doctor: want{200, "read", allowed}, stranger: want{403, "read", denied}, admin: want{200, "read", allowed}},
		{name: "read entry", method: "GET", path: "/api/v1/patients/{p}/history/{e}", resource: patient.ResourceHistory,
			self: want{200, "read", allowed}, other: want{404, "read", denied}, doctor: want{200, "read", allowed}, stranger: want{403, "read", denied}, admin: want{200, "read", allowed}},
		{name: "read revisions", method: "GET", path: "/api/v1/patients/{p}/history/{e}/revisions", resource: patient.ResourceRevisions,
			self: want{200, "read", allowed}, other: want{404, "read", denied}, doctor: want{200, "read", allowed}, stranger: want{403, "read", denied}, admin: want{200, "read", allowed}},
		{name: "record entry", method: "POST", path: "/api/v1/patients/{p}/history", body: entryJSONBody, resource: patient.ResourceHistory,
			self: want{403, "create", denied}, other: want{404, "create", denied}, doctor: want{201, "create", allowed}, stranger: want{403, "create", denied}, admin: want{201, "create", allowed}},
		{name: "amend entry", method: "PUT", path: "/api/v1/patients/{p}/history/{e}", body: entryJSONBody, ifMatch: `"1"`, resource: patient.ResourceHistory,
			self: want{403, "update", denied}, other: want{404, "update", denied}, doctor: want{200, "update", allowed}, stranger: want{403, "update", denied}, admin: want{200, "update", allowed}},
		{name: "retract entry", method: "DELETE", path: "/api/v1/patients/{p}/history/{e}", resource: patient.ResourceHistory,
			self: want{403, "delete", denied}, other: want{404, "delete", denied}, doctor: want{204, "delete", allowed}, stranger: want{403, "delete", denied}, admin: want{204, "delete", allowed}},
		{name: "read audit trail", method: "GET", path: "/api/v1/patients/{p}/audit", resource: patient.ResourceAudit,
			self: want{200, "read", allowed}, other: want{404, "read", denied}, doctor: want{403, "read", denied}, stranger: want{403, "read", denied}, admin: want{200, "read", allowed}},
	}
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		setupDoc := h.user(roles.doctor)
		for _, c := range cases {
			for _, who := range []string{"self", "other", "doctor", "stranger", "admin"} {
				t.Run(c.name+"/"+who, func(t *testing.T) {
					h.t = t
					self := h.user(roles.patient)
					pid := h.newPatientFor(self)
					eid := h.newEntry(setupDoc, pid)
					var caller user
					var w want
					switch who {
					case "self":
						caller, w = self, c.self
					case "other":
						caller, w = h.user(roles.patient), c.other
						h.newPatientFor(caller) // another patient, with a record of their own
					case "doctor":
						caller, w = h.user(roles.doctor), c.doctor
					case "stranger":
						caller, w = h.stranger(), c.stranger
					case "admin":
						caller, w = h.user(roles.admin), c.admin
					}
					before := len(h.audit(pid))
					path := strings.NewReplacer("{p}", pid, "{e}", eid).Replace(c.path)
					var headers []string
					if c.ifMatch != "" {
						headers = []string{"If-Match", c.ifMatch}
					}
					r := h.do(c.method, path, caller.token, c.body, headers...)
					require.Equal(t, w.status, r.Status, string(r.Body))
					if w.status >= 400 {
						assert.NotContains(t, string(r.Body), "Lovelace", "a refusal carries no patient data")
					}

					events := h.audit(pid)
					require.Len(t, events, before+1, "exactly one audit event")
					ev := events[0] // newest first
					assert.Equal(t, caller.id, ev.UserID)
					assert.Equal(t, w.action, ev.Action)
					assert.Equal(t, w.outcome, ev.Outcome)
					assert.Equal(t, c.resource, ev.Resource)
					assert.Equal(t, pid, ev.PatientID)
					assert.Equal(t, r.Header.Get("X-Request-ID"), ev.RequestID)
					assert.Equal(t, strings.ToUpper(map[string]string{"self": "patient", "other": "patient", "doctor": "doctor", "stranger": "doctor", "admin": "admin"}[who]), ev.Role)
				})
			}
		}
	})
}

func TestCreateProfile(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pat := h.user(roles.patient)

	r := h.do("POST", "/api/v1/patients", pat.token, profileJSON)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	body := r.JSON(t)
	id := body["id"].(string)
	assert.Equal(t, pat.id, body["userId"], "bound to the token's subject")
	assert.Equal(t, true, body["active"])
	assert.EqualValues(t, 1, body["version"])
	assert.Equal(t, `"1"`, r.Header.Get("ETag"))
	assert.Equal(t, "/api/v1/patients/"+id, r.Header.Get("Location"))
	assert.Equal(t, map[string]any{"line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "country": "GB"}, body["address"])
	ev := h.audit(id)
	require.Len(t, ev, 1)
	assert.Equal(t, patient.ActionCreate, ev[0].Action)

	r = h.do("POST", "/api/v1/patients", pat.token, profileJSON)
	assert.Equal(t, http.StatusConflict, r.Status, "one profile per patient")

	r = h.do("GET", "/api/v1/patients/me", pat.token, "")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, id, r.JSON(t)["id"])
	assert.Len(t, h.audit(id), 2, "reading one's own profile is on the trail")

	doc := h.user(roles.doctor)
	assert.Equal(t, http.StatusNotFound, h.do("GET", "/api/v1/patients/me", doc.token, "").Status)
	r = h.do("POST", "/api/v1/patients", doc.token, profileJSON)
	assert.Equal(t, http.StatusForbidden, r.Status)
	denials := h.audit("")
	require.NotEmpty(t, denials)
	assert.Equal(t, doc.id, denials[0].UserID)
	assert.Equal(t, patient.OutcomeDenied, denials[0].Outcome)
	assert.Equal(t, patient.ActionCreate, denials[0].Action)

	t.Run("a patient may not set administrator fields", func(t *testing.T) {
		h.t = t
		for _, extra := range []string{`"userId":"` + pat.id + `"`, `"active":false`} {
			p := h.user(roles.patient)
			r := h.do("POST", "/api/v1/patients", p.token, strings.Replace(profileJSON, "{", "{"+extra+",", 1))
			require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
			assert.Len(t, r.Fields(t), 1)
		}
		assert.Equal(t, patient.OutcomeDenied, h.audit("")[0].Outcome, "the attempt is on the trail")
	})

	t.Run("an administrator creates a profile for anyone", func(t *testing.T) {
		h.t = t
		admin := h.user(roles.admin)
		someone := h.user(roles.patient)
		r := h.do("POST", "/api/v1/patients", admin.token, strings.Replace(profileJSON, "{", `{"userId":"`+someone.id+`",`, 1))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		assert.Equal(t, someone.id, r.JSON(t)["userId"])
		r = h.do("GET", "/api/v1/patients/me", someone.token, "")
		assert.Equal(t, http.StatusOK, r.Status)
		r = h.do("POST", "/api/v1/patients", admin.token, strings.Replace(profileJSON, "{", `{"userId":"`+someone.id+`",`, 1))
		assert.Equal(t, http.StatusConflict, r.Status)
		r = h.do("POST", "/api/v1/patients", admin.token, profileJSON)
		require.Equal(t, http.StatusCreated, r.Status, "a patient without an account")
		_, hasUser := r.JSON(t)["userId"]
		assert.False(t, hasUser)
		// A user id written in upper case links to the same account.
		third := h.user(roles.patient)
		r = h.do("POST", "/api/v1/patients", admin.token, strings.Replace(profileJSON, "{", `{"userId":"`+strings.ToUpper(third.id)+`",`, 1))
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		assert.Equal(t, third.id, r.JSON(t)["userId"])
		thirdID := r.JSON(t)["id"].(string)
		assert.Equal(t, http.StatusOK, h.do("GET", "/api/v1/patients/me", third.token, "").Status)
		assert.Equal(t, http.StatusOK, h.do("GET", "/api/v1/patients/"+thirdID, third.token, "").Status)
		r = h.do("POST", "/api/v1/patients", admin.token, strings.Replace(profileJSON, "{", `{"userId":"nope",`, 1))
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, []string{"userId"}, r.Fields(t))
	})
}

func TestSearchAccess(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pat := h.user(roles.patient)
	pid := h.newPatientFor(pat)

	r := h.do("GET", "/api/v1/patients?q=lov", pat.token, "")
	assert.Equal(t, http.StatusForbidden, r.Status)
	ev := h.audit("")
	require.Len(t, ev, 1)
	assert.Equal(t, patient.ActionSearch, ev[0].Action)
	assert.Equal(t, patient.OutcomeDenied, ev[0].Outcome)

	for _, role := range []string{roles.doctor, roles.admin} {
		u := h.user(role)
		r := h.do("GET", "/api/v1/patients?q=LOV&dateOfBirth=1985-12-10&email=ADA@example.org", u.token, "")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		items := r.JSON(t)["items"].([]any)
		require.Len(t, items, 1)
		assert.Equal(t, pid, items[0].(map[string]any)["id"])
		assert.Nil(t, r.JSON(t)["nextCursor"])
		ev := h.audit("")
		assert.Equal(t, u.id, ev[0].UserID)
		assert.Equal(t, patient.ActionSearch, ev[0].Action)
		assert.Equal(t, patient.OutcomeAllowed, ev[0].Outcome)
		// The patient shown is told who saw their record in a search.
		ev = h.audit(pid)
		assert.Equal(t, u.id, ev[0].UserID)
		assert.Equal(t, patient.ActionSearch, ev[0].Action)
		assert.Equal(t, patient.OutcomeAllowed, ev[0].Outcome)
		assert.Equal(t, r.Header.Get("X-Request-ID"), ev[0].RequestID)
	}
	r = h.do("GET", "/api/v1/patients?q=nobody", h.user(roles.doctor).token, "")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Len(t, h.audit(pid), 3, "a search that does not show the patient is not on their trail")
}

// TestNotFoundLooksTheSame checks that another patient's record and a
// record that does not exist are indistinguishable to a patient.
func TestNotFoundLooksTheSame(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	owner := h.user(roles.patient)
	pid := h.newPatientFor(owner)
	eid := h.newEntry(h.user(roles.doctor), pid)
	nosy := h.user(roles.patient)
	h.newPatientFor(nosy)
	missing := "0190a0c0-0000-7000-8000-000000000000"

	strip := func(r response) map[string]any {
		m := r.JSON(t)
		delete(m, "instance")
		delete(m, "requestId")
		return m
	}
	for _, p := range []string{"", "/history", "/history/" + eid, "/history/" + eid + "/revisions", "/audit"} {
		a := h.do("GET", "/api/v1/patients/"+pid+p, nosy.token, "")
		b := h.do("GET", "/api/v1/patients/"+missing+strings.ReplaceAll(p, eid, missing), nosy.token, "")
		assert.Equal(t, http.StatusNotFound, a.Status, p)
		assert.Equal(t, b.Status, a.Status, p)
		assert.Equal(t, strip(b), strip(a), p)
	}
}

// TestWeakIfMatchAfterRights checks that a weak If-Match, which never
// matches, is answered only after the caller's rights: a caller who may not
// write the record gets the 404 or 403 any other request of theirs gets,
// and the denial is on the trail; one who may gets the 412.
func TestWeakIfMatchAfterRights(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	self := h.user(roles.patient)
	pid := h.newPatientFor(self)
	doc := h.user(roles.doctor)
	eid := h.newEntry(doc, pid)
	other := h.user(roles.patient)
	weak := []string{"If-Match", `W/"1"`}
	profile, entry := "/api/v1/patients/"+pid, "/api/v1/patients/"+pid+"/history/"+eid

	before := len(h.audit(pid))
	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"another patient updates the profile", http.MethodPut, profile, other.token, profileJSON, http.StatusNotFound},
		{"a doctor updates the profile", http.MethodPut, profile, doc.token, profileJSON, http.StatusForbidden},
		{"the patient deactivates", http.MethodDelete, profile, self.token, "", http.StatusForbidden},
		{"another patient deactivates", http.MethodDelete, profile, other.token, "", http.StatusNotFound},
		{"the patient amends an entry", http.MethodPut, entry, self.token, entryJSONBody, http.StatusForbidden},
		{"a doctor who does not treat amends", http.MethodPut, entry, h.stranger().token, entryJSONBody, http.StatusForbidden},
		{"another patient retracts", http.MethodDelete, entry, other.token, "", http.StatusNotFound},
	} {
		r := h.do(c.method, c.path, c.token, c.body, weak...)
		assert.Equal(t, c.status, r.Status, "%s: %s", c.name, r.Body)
	}
	evs := h.audit(pid)
	require.Len(t, evs, before+7, "each refusal is on the trail")
	for _, ev := range evs[:7] {
		assert.Equal(t, denied, ev.Outcome, "%+v", ev)
	}

	// Callers who may write get the 412, and nothing changes.
	for _, c := range []struct{ method, path, token, body string }{
		{http.MethodPut, profile, self.token, profileJSON},
		{http.MethodPut, entry, doc.token, entryJSONBody},
		{http.MethodDelete, entry, doc.token, ""},
		{http.MethodDelete, profile, h.user(roles.admin).token, ""},
	} {
		r := h.do(c.method, c.path, c.token, c.body, weak...)
		assert.Equal(t, http.StatusPreconditionFailed, r.Status, "%s %s: %s", c.method, c.path, r.Body)
		assert.Contains(t, r.JSON(t)["detail"], "weak", "%s %s", c.method, c.path)
	}
	assert.Equal(t, `"1"`, h.do(http.MethodGet, profile, self.token, "").Header.Get("ETag"))
	assert.Equal(t, `"1"`, h.do(http.MethodGet, entry, doc.token, "").Header.Get("ETag"))
}

func TestUnauthenticated(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pid := h.newPatientFor(h.user(roles.patient))
	id := pid + "/history/" + pid
	foreign := authntest.NewIssuer(t).Token(t, authntest.Claims{Roles: []string{roles.admin}})
	expired := h.issuer.Token(t, authntest.Claims{Roles: []string{roles.admin},
		IssuedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(-time.Minute)})
	wrongAudience := h.issuer.Token(t, authntest.Claims{Roles: []string{roles.admin}, Audience: "elsewhere"})
	routes := [][2]string{
		{"POST", "/api/v1/patients"}, {"GET", "/api/v1/patients"}, {"GET", "/api/v1/patients/me"},
		{"GET", "/api/v1/patients/" + pid}, {"PUT", "/api/v1/patients/" + pid}, {"DELETE", "/api/v1/patients/" + pid},
		{"GET", "/api/v1/patients/" + pid + "/history"}, {"POST", "/api/v1/patients/" + pid + "/history"},
		{"GET", "/api/v1/patients/" + id}, {"PUT", "/api/v1/patients/" + id}, {"DELETE", "/api/v1/patients/" + id},
		{"GET", "/api/v1/patients/" + id + "/revisions"}, {"GET", "/api/v1/patients/" + pid + "/audit"},
	}
	before := len(h.audit(pid))
	for _, rt := range routes {
		for name, tok := range map[string]string{"none": "", "garbage": "not.a.jwt", "foreign key": foreign,
			"expired": expired, "wrong audience": wrongAudience} {
			r := h.do(rt[0], rt[1], tok, `{}`)
			assert.Equal(t, http.StatusUnauthorized, r.Status, "%s %s with %s token", rt[0], rt[1], name)
			assert.NotEmpty(t, r.Header.Get("WWW-Authenticate"))
		}
	}
	assert.Len(t, h.audit(pid), before, "unauthenticated requests never reach patient data")
}

func TestReadsFailClosedWithoutAudit(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	ok := newHarness(t, db)
	pat := ok.user(roles.patient)
	pid := ok.newPatientFor(pat)

	broken := newHarness(t, db, failingRecorder{})
	doc, err := broken.issuer.Sign(authntest.Claims{Roles: []string{roles.doctor}})
	require.NoError(t, err)
	r := broken.do("GET", "/api/v1/patients/"+pid, doc, "")
	assert.Equal(t, http.StatusInternalServerError, r.Status)
	assert.NotContains(t, string(r.Body), "Lovelace", "no data leaves without its audit event")
	assert.NotContains(t, string(r.Body), "closed pipe", "no internals in the body")
	_ = context.Background()
}

// Whether a doctor treats the patient is asked for each history request
// (a relation that ends ends at once); when it cannot be asked, the answer
// is 503 with Retry-After and no history.
func TestHistoryAsksWhetherTheDoctorTreats(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pid := h.newPatientFor(h.user(roles.patient))
	doc := h.user(roles.doctor)
	h.newEntry(doc, pid)
	path := "/api/v1/patients/" + pid + "/history"
	require.Equal(t, http.StatusOK, h.do("GET", path, doc.token, "").Status)
	h.care.mu.Lock()
	h.care.strangers[doc.id] = true
	h.care.mu.Unlock()
	assert.Equal(t, http.StatusForbidden, h.do("GET", path, doc.token, "").Status, "the relation ended")

	h.care.mu.Lock()
	h.care.fault = domainerr.New(domainerr.Unavailable, "records cannot answer")
	h.care.mu.Unlock()
	r := h.do("GET", path, doc.token, "")
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	assert.NotContains(t, string(r.Body), "Penicillin")
	r = h.do("GET", path, h.user(roles.admin).token, "")
	assert.Equal(t, http.StatusOK, r.Status, "an administrator is not asked about")
}
