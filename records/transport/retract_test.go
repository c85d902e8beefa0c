package transport_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deniedTo counts the denials of the user who on the patient's audit trail.
func (h *harness) deniedTo(who string) int {
	h.t.Helper()
	r := h.do("patient", "GET", "/audit?limit=100", nil)
	require.Equal(h.t, 200, r.code, "%s", r.body)
	var trail struct {
		Items []struct{ UserID, Outcome string }
	}
	require.NoError(h.t, json.Unmarshal(r.body, &trail))
	n := 0
	for _, e := range trail.Items {
		if e.Outcome == "denied" && e.UserID == h.uids[who] {
			n++
		}
	}
	return n
}

// A doctor's access to a patient's records ends with the relation (an
// appointment cancelled, no encounter): they may no longer mark a document
// they filed entered-in-error, which would drop it from the patient's
// current documents, nor learn its metadata from the answer. The refusal is
// the 404 of any read, and is audited.
func TestFormerDoctorCannotRetractDocuments(t *testing.T) {
	h := newHarness(t, 1<<20)
	// "doctor" treats the patient through an appointment the patient booked.
	r := h.do("doctor", "POST", "/documents?title=HIV-panel&type=lab-report", bytes.NewReader([]byte("%PDF-1.7\nresult")),
		"Content-Type", "application/pdf")
	require.Equal(t, 201, r.code, "%s", r.body)
	id := r.json(t)["id"].(string)

	// The appointment is cancelled: no relation is left.
	a := h.appts[apptPatient]
	a.status = "cancelled"
	h.appts[apptPatient] = a
	require.Equal(t, 404, h.do("doctor", "GET", "/documents/"+id, nil).code, "reads end with the relation")
	before := h.deniedTo("doctor")

	r = h.do("doctor", "POST", "/documents/"+id+"/entered-in-error", js(map[string]string{"reason": "x"}),
		"Content-Type", "application/json", "If-Match", `"1"`)
	assert.Equal(t, 404, r.code, "a doctor who no longer treats the patient changed their record: %s", r.body)
	assert.Equal(t, "current", h.do("patient", "GET", "/documents/"+id, nil).json(t)["status"])
	assert.Equal(t, before+1, h.deniedTo("doctor"), "the refusal is on the patient's audit trail")

	// The patient and an administrator still may.
	r = h.do("admin", "POST", "/documents/"+id+"/entered-in-error", js(map[string]string{"reason": "filed by mistake"}),
		"Content-Type", "application/json", "If-Match", `"1"`)
	assert.Equal(t, 200, r.code, "%s", r.body)
}

// The author of a note entered in error who no longer treats the patient
// (their appointment cancelled, no other encounter) learns nothing of it:
// changing it is the 404 of any read, not the 409 of a retracted note, and
// the refusal is audited.
func TestFormerAuthorCannotChangeARetractedEncounter(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", js(openBody("")), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)
	id := r.json(t)["id"].(string)
	r = h.do("doctor", "POST", "/encounters/"+id+"/entered-in-error", js(map[string]string{"reason": "wrong patient"}),
		"Content-Type", "application/json", "If-Match", `"1"`)
	require.Equal(t, 200, r.code, "%s", r.body)
	a := h.appts[apptPatient]
	a.status = "cancelled"
	h.appts[apptPatient] = a
	require.Equal(t, 404, h.do("doctor", "GET", "/encounters/"+id, nil).code, "reads end with the relation")

	for _, c := range []struct{ name, method, path, body string }{
		{"update", "PUT", "/encounters/" + id, `{"note":{"plan":"x"}}`},
		{"sign", "POST", "/encounters/" + id + "/sign", ""},
		{"retract", "POST", "/encounters/" + id + "/entered-in-error", `{"reason":"again"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := h.deniedTo("doctor")
			var r resp
			if c.body == "" {
				r = h.do("doctor", c.method, c.path, nil, "If-Match", `"2"`)
			} else {
				r = h.do("doctor", c.method, c.path, js(json.RawMessage(c.body)), "Content-Type", "application/json", "If-Match", `"2"`)
			}
			assert.Equal(t, 404, r.code, "%s", r.body)
			assert.Equal(t, before+1, h.deniedTo("doctor"), "the refusal is on the patient's audit trail")
		})
	}
}
