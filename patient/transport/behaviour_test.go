package transport_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestUpdateProfile(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pat := h.user(roles.patient)
	pid := h.newPatientFor(pat)
	one := "/api/v1/patients/" + pid

	r := h.do("PUT", one, pat.token, with("lastName", `"King"`), "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, "King", r.JSON(t)["lastName"])
	assert.EqualValues(t, 2, r.JSON(t)["version"])
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))

	r = h.do("PUT", one, pat.token, with("lastName", `"Byron"`), "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, r.Status, "a stale version loses")
	r = h.do("GET", one, pat.token, "")
	assert.Equal(t, "King", r.JSON(t)["lastName"])
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))

	t.Run("a patient may not change administrator fields", func(t *testing.T) {
		h.t = t
		for _, body := range []string{with("userId", `"`+h.user(roles.patient).id+`"`), with("active", "false")} {
			r := h.do("PUT", one, pat.token, body, "If-Match", `"2"`)
			assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		}
		for i, ev := range h.audit(pid)[:2] {
			assert.Equal(t, pat.id, ev.UserID, "attempt %d", i)
			assert.Equal(t, patient.ActionUpdate, ev.Action, "attempt %d", i)
			assert.Equal(t, patient.OutcomeDenied, ev.Outcome, "each attempt is on the trail")
		}
		r := h.do("GET", one, pat.token, "")
		assert.Equal(t, pat.id, r.JSON(t)["userId"])
		assert.Equal(t, true, r.JSON(t)["active"])
		assert.EqualValues(t, 2, r.JSON(t)["version"])
	})

	t.Run("an administrator deactivates and reactivates", func(t *testing.T) {
		h.t = t
		admin := h.user(roles.admin)
		assert.Equal(t, http.StatusPreconditionFailed, h.do("DELETE", one, admin.token, "", "If-Match", `"1"`).Status)
		r := h.do("DELETE", one, admin.token, "", "If-Match", `"2"`)
		require.Equal(t, http.StatusNoContent, r.Status)
		assert.Empty(t, string(r.Body))
		r = h.do("GET", one, admin.token, "")
		assert.Equal(t, false, r.JSON(t)["active"])
		assert.EqualValues(t, 3, r.JSON(t)["version"])
		assert.Equal(t, http.StatusNoContent, h.do("DELETE", one, admin.token, "").Status, "deactivating twice is harmless")
		assert.Equal(t, http.StatusOK, h.do("GET", one, pat.token, "").Status, "the patient still sees their record")
		assert.Equal(t, http.StatusOK, h.do("GET", one+"/history", pat.token, "").Status, "history is kept")
		r = h.do("PUT", one, admin.token, with("active", "true"), "If-Match", `"3"`)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, true, r.JSON(t)["active"])
	})
}

// Marking an entry entered-in-error again changes nothing and answers as
// the first time did; the request is on the patient's trail all the same,
// as every change asked of their history is.
func TestRetractingAnEntryAgainIsOnTheTrail(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pat := h.user(roles.patient)
	pid := h.newPatientFor(pat)
	doc := h.user(roles.doctor)
	eid := h.newEntry(doc, pid)
	entry := "/api/v1/patients/" + pid + "/history/" + eid

	require.Equal(t, http.StatusNoContent, h.do("DELETE", entry, doc.token, "", "If-Match", `"1"`).Status)
	require.Equal(t, http.StatusNoContent, h.do("DELETE", entry, doc.token, "").Status, "retracting twice is harmless")

	retracts := 0
	for _, ev := range h.audit(pid) {
		if ev.Action == patient.ActionDelete && ev.ResourceID == eid && ev.UserID == doc.id && ev.Outcome == patient.OutcomeAllowed {
			retracts++
		}
	}
	assert.Equal(t, 2, retracts, "each retraction is on the trail, the one that changed nothing too")
	r := h.do("GET", entry, pat.token, "")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.EqualValues(t, 2, r.JSON(t)["version"], "the second retraction wrote nothing")
}

func TestHistoryRevisions(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pat := h.user(roles.patient)
	pid := h.newPatientFor(pat)
	doc := h.user(roles.doctor)
	doc2 := h.user(roles.doctor)
	history := "/api/v1/patients/" + pid + "/history"

	r := h.do("POST", history, doc.token, entryJSONBody)
	require.Equal(t, http.StatusCreated, r.Status)
	created := r.JSON(t)
	eid := created["id"].(string)
	assert.Equal(t, doc.id, created["recordedBy"], "the recorder comes from the token")
	assert.Equal(t, "2026-06-15T12:00:00Z", created["recordedAt"])
	assert.Equal(t, history+"/"+eid, r.Header.Get("Location"))
	entry := history + "/" + eid

	r = h.do("PUT", entry, doc2.token, entryWith("status", `"resolved"`), "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	amended := r.JSON(t)
	assert.Equal(t, "resolved", amended["status"])
	assert.Equal(t, doc.id, amended["recordedBy"], "the original recorder stays")
	assert.Equal(t, doc2.id, amended["amendedBy"])
	assert.EqualValues(t, 2, amended["version"])

	r = h.do("DELETE", entry, doc.token, "", "If-Match", `"2"`)
	require.Equal(t, http.StatusNoContent, r.Status)
	r = h.do("GET", entry, pat.token, "")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "entered-in-error", r.JSON(t)["status"], "a delete marks, never erases")
	assert.Equal(t, "Penicillin allergy", r.JSON(t)["description"])

	r = h.do("PUT", entry, doc.token, entryJSONBody, "If-Match", `"3"`)
	assert.Equal(t, http.StatusConflict, r.Status, "an entry in error is closed")

	r = h.do("GET", entry+"/revisions", pat.token, "")
	require.Equal(t, http.StatusOK, r.Status)
	var revs struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &revs))
	require.Len(t, revs.Items, 3)
	for i, status := range []string{"active", "resolved", "entered-in-error"} {
		assert.Equal(t, status, revs.Items[i]["status"])
		assert.EqualValues(t, i+1, revs.Items[i]["version"])
	}
	_, firstAmended := revs.Items[0]["amendedBy"]
	assert.False(t, firstAmended)

	t.Run("lists filter by type and status and hide entries in error", func(t *testing.T) {
		h.t = t
		cond := h.do("POST", history, doc.token, entryWith("type", `"CONDITION"`)).JSON(t)["id"]
		med := h.do("POST", history, doc.token, `{"type":"MEDICATION","description":"Metformin 500 mg","status":"inactive"}`).JSON(t)["id"]
		ids := func(query string) []any {
			r := h.do("GET", history+query, pat.token, "")
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var out []any
			for _, it := range r.JSON(t)["items"].([]any) {
				out = append(out, it.(map[string]any)["id"])
			}
			return out
		}
		assert.Equal(t, []any{cond, med}, ids(""))
		assert.Equal(t, []any{cond}, ids("?type=CONDITION"))
		assert.Equal(t, []any{cond, med}, ids("?type=condition,MEDICATION"))
		assert.Equal(t, []any{med}, ids("?status=inactive"))
		assert.Equal(t, []any{eid}, ids("?status=entered-in-error"))
		assert.Equal(t, []any{eid, cond}, ids("?type=ALLERGY&type=CONDITION&status=active&status=entered-in-error"))

		r := h.do("GET", history+"?limit=1", pat.token, "")
		next := r.JSON(t)["nextCursor"].(string)
		r = h.do("GET", history+"?limit=1&cursor="+next, pat.token, "")
		assert.Equal(t, med, r.JSON(t)["items"].([]any)[0].(map[string]any)["id"])
		assert.Nil(t, r.JSON(t)["nextCursor"])
	})
}

func TestAuditTrail(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	pat := h.user(roles.patient)
	pid := h.newPatientFor(pat)
	doc := h.user(roles.doctor)
	nosy := h.user(roles.patient)
	h.newPatientFor(nosy)
	one := "/api/v1/patients/" + pid
	for range 3 {
		h.do("GET", one, doc.token, "")
	}
	h.do("GET", one, nosy.token, "")
	h.do("PUT", one, pat.token, profileJSON, "If-Match", `"1"`)

	r := h.do("GET", one+"/audit?limit=4", pat.token, "")
	require.Equal(t, http.StatusOK, r.Status)
	body := string(r.Body)
	for _, secret := range []string{"Lovelace", "ada@example.org", "1985-12-10", "+441234567890", "London"} {
		assert.NotContains(t, body, secret, "audit events hold no patient data")
	}
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor string           `json:"nextCursor"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &page))
	require.Len(t, page.Items, 4)
	got := func(i int) string {
		it := page.Items[i]
		return strings.Join([]string{it["role"].(string), it["action"].(string), it["resource"].(string), it["outcome"].(string)}, " ")
	}
	// Newest first: this very read, the update, the denied look of another patient, a doctor's read.
	assert.Equal(t, "PATIENT read audit allowed", got(0))
	assert.Equal(t, "PATIENT update patient allowed", got(1))
	assert.Equal(t, "PATIENT read patient denied", got(2))
	assert.Equal(t, nosy.id, page.Items[2]["userId"], "the patient sees who tried to look")
	assert.Equal(t, "DOCTOR read patient allowed", got(3))
	for _, it := range page.Items {
		assert.NotEmpty(t, it["requestId"])
		assert.NotEmpty(t, it["occurredAt"])
		assert.Equal(t, pid, it["patientId"])
	}
	require.NotEmpty(t, page.NextCursor)

	r = h.do("GET", one+"/audit?limit=100&cursor="+page.NextCursor, pat.token, "")
	require.Equal(t, http.StatusOK, r.Status)
	var rest struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &rest))
	// Two more doctor reads, then the creation; the second audit read came after the first page.
	require.Len(t, rest.Items, 3)
	assert.Equal(t, "create", rest.Items[2]["action"])
}

// TestConcurrentUpdates sends two updates from the same version at once:
// exactly one wins, the other gets 412, and after a re-read and retry both
// changes are there.
func TestConcurrentUpdates(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		admin := h.user(roles.admin)
		for round := range 5 {
			pat := h.user(roles.patient)
			pid := h.newPatientFor(pat)
			one := "/api/v1/patients/" + pid
			bodies := []string{with("phone", `"+441111111111"`), with("email", `"king@example.org"`)}
			callers := []user{pat, admin}
			codes := make([]int, 2)
			parallel(2, func(i int) {
				codes[i] = h.do("PUT", one, callers[i].token, bodies[i], "If-Match", `"1"`).Status
			})
			assert.ElementsMatch(t, []int{200, 412}, codes, "round %d", round)
			loser := 0
			if codes[0] == 200 {
				loser = 1
			}
			cur := h.do("GET", one, admin.token, "")
			require.Equal(t, `"2"`, cur.Header.Get("ETag"))
			// The loser re-reads and re-applies its change on top of the winner's.
			merged := set(bodies[loser], "phone", `"+441111111111"`)
			merged = set(merged, "email", `"king@example.org"`)
			r := h.do("PUT", one, callers[loser].token, merged, "If-Match", `"2"`)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			final := h.do("GET", one, admin.token, "").JSON(t)
			assert.Equal(t, "+441111111111", final["phone"])
			assert.Equal(t, "king@example.org", final["email"])
			assert.EqualValues(t, 3, final["version"])
			updates := 0
			for _, ev := range h.audit(pid) {
				if ev.Action == patient.ActionUpdate {
					updates++
				}
			}
			assert.Equal(t, 2, updates, "one event per applied update, none for the loser")
		}

		t.Run("history amendments", func(t *testing.T) {
			h.t = t
			doc := h.user(roles.doctor)
			pid := h.newPatientFor(h.user(roles.patient))
			eid := h.newEntry(doc, pid)
			entry := "/api/v1/patients/" + pid + "/history/" + eid
			codes := make([]int, 2)
			parallel(2, func(i int) {
				codes[i] = h.do("PUT", entry, doc.token, entryWith("notes", `"amendment `+string(rune('A'+i))+`"`), "If-Match", `"1"`).Status
			})
			assert.ElementsMatch(t, []int{200, 412}, codes)
			r := h.do("GET", entry+"/revisions", doc.token, "")
			assert.Len(t, r.JSON(t)["items"].([]any), 2, "the first revision and the winner's")
		})
	})
}
