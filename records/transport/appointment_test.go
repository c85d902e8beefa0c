package transport_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/events/schematest"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
)

const (
	apptPatient = "0190a0a0-0000-7000-8000-00000000a001" // "doctor" with the patient
	apptOther   = "0190a0a0-0000-7000-8000-00000000a002" // "doctor" with the other patient
)

func openBody(appointmentID string) map[string]any {
	b := map[string]any{"note": map[string]string{"subjective": "chest pain since Tuesday"}}
	if appointmentID != "" {
		b["appointmentId"] = appointmentID
	}
	return b
}

// A doctor who neither treats the patient nor holds an appointment with
// them cannot open an encounter, which would make them a treating doctor.
func TestOpeningAnEncounterNeedsACareRelation(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor2", "POST", "/encounters", js(openBody("")), "Content-Type", "application/json")
	require.Equal(t, 404, r.code, "%s", r.body)
	id := h.openSigned("doctor", h.patient)
	assert.Equal(t, 404, h.do("doctor2", "GET", "/encounters/"+id, nil).code, "doctor2 gained no access")

	denied := 0
	var trail struct {
		Items []struct{ UserID, Action, Outcome string }
	}
	require.NoError(t, json.Unmarshal(h.do("patient", "GET", "/audit?limit=100", nil).body, &trail))
	for _, e := range trail.Items {
		if e.UserID == h.uids["doctor2"] && e.Outcome == "denied" {
			denied++
		}
	}
	assert.Equal(t, 2, denied, "both refusals are in the patient's audit trail: %+v", trail.Items)

	// The clinic's policy lets every doctor read, and so open.
	h = newHarness(t, 1<<20, func(d *service.Deps) { d.DoctorsReadAll = true })
	assert.Equal(t, 201, h.do("doctor2", "POST", "/encounters", js(openBody("")), "Content-Type", "application/json").code)
}

func TestAnEncounterForAnAppointment(t *testing.T) {
	h := newHarness(t, 1<<20)
	// An appointment of theirs with the patient makes the doctor a treating
	// one, and an encounter may name it.
	r := h.do("doctor", "POST", "/encounters", js(openBody(apptPatient)), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)
	assert.Equal(t, apptPatient, r.json(t)["appointmentId"])
	id := r.json(t)["id"].(string)

	refused := func(who, appointmentID string) {
		t.Helper()
		r := h.do(who, "POST", "/encounters", js(openBody(appointmentID)), "Content-Type", "application/json")
		require.Equal(t, 422, r.code, "%s", r.body)
		assert.Contains(t, string(r.body), "appointmentId")
	}
	refused("doctor", apptOther)                              // with another patient
	refused("doctor", "0190a0a0-0000-7000-8000-00000000a0ff") // none
	refused("doctor2", apptPatient)                           // another doctor's
	refused("docadmin", apptPatient)                          // another doctor's, though an administrator sees it
	assert.Equal(t, 403, h.do("docadmin", "GET", "/encounters", nil).code,
		"a doctor who is also an administrator reads another doctor's patient only by breaking glass")
	a := h.appts[apptPatient]
	a.status = "cancelled"
	h.appts[apptPatient] = a
	refused("doctor", apptPatient) // one that will not take place

	// A visit a doctor booked themself makes no relation: any doctor may
	// book one with any patient. A doctor who already treats the patient
	// opens an encounter for their own follow-up.
	h.appts["0190a0a0-0000-7000-8000-00000000a003"] = struct{ doctor, patient, status, bookedBy string }{
		h.uids["doctor2"], h.patient, "booked", h.uids["doctor2"]}
	h.appts["0190a0a0-0000-7000-8000-00000000a004"] = struct{ doctor, patient, status, bookedBy string }{
		h.uids["doctor"], h.patient, "booked", h.uids["doctor"]}
	refused("doctor2", "0190a0a0-0000-7000-8000-00000000a003")
	assert.Equal(t, 404, h.do("doctor2", "GET", "/encounters", nil).code, "a self-booked visit gives no access")
	var trail struct {
		Items []struct{ UserID, Action, Outcome string }
	}
	require.NoError(t, json.Unmarshal(h.do("patient", "GET", "/audit?limit=100", nil).body, &trail))
	denied := 0
	for _, e := range trail.Items {
		if e.UserID == h.uids["doctor2"] && e.Action == "create" && e.Outcome == "denied" {
			denied++
		}
	}
	assert.Equal(t, 2, denied, "doctor2's refused opens are audited: %+v", trail.Items)
	r = h.do("doctor", "POST", "/encounters", js(openBody("0190a0a0-0000-7000-8000-00000000a004")), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)

	// Nor may an open note be moved to such an appointment.
	r = h.do("doctor", "PUT", "/encounters/"+id, js(openBody(apptOther)), "Content-Type", "application/json", "If-Match", `"1"`)
	require.Equal(t, 422, r.code, "%s", r.body)
	// Keeping the appointment it has asks nothing again.
	r = h.do("doctor", "PUT", "/encounters/"+id, js(openBody(apptPatient)), "Content-Type", "application/json", "If-Match", `"1"`)
	require.Equal(t, 200, r.code, "%s", r.body)
}

// Signing writes records.encounter_signed to the outbox in the signing's
// transaction, with the appointment (null without one) and no clinical
// content.
func TestSigningWritesItsEvent(t *testing.T) {
	h := newHarness(t, 1<<20)
	withAppt := h.do("doctor", "POST", "/encounters", js(openBody(apptPatient)), "Content-Type", "application/json").json(t)["id"].(string)
	require.Equal(t, 200, h.do("doctor", "POST", "/encounters/"+withAppt+"/sign", nil, "If-Match", `"1"`).code)
	without := h.openSigned("doctor", h.patient)
	// An open note and a failed signing write nothing.
	h.do("doctor", "POST", "/encounters", js(openBody("")), "Content-Type", "application/json")
	require.Equal(t, 409, h.do("doctor", "POST", "/encounters/"+without+"/sign", nil, "If-Match", `"2"`).code)

	for _, raw := range outboxtest.Envelopes(t, h.db, "") {
		assert.NotContains(t, raw, "chest pain")
	}
	var got []map[string]any
	for _, ev := range outboxtest.Events(t, h.db, "") {
		schematest.Validate(t, ev)
		assert.Equal(t, service.EncounterSigned, ev.Type)
		var data map[string]any
		require.NoError(t, json.Unmarshal(ev.Data, &data))
		assert.Equal(t, ev.Subject, data["encounterId"])
		assert.Equal(t, h.patient, data["patientId"])
		assert.Equal(t, h.uids["doctor"], data["doctorUserId"])
		got = append(got, data)
	}
	require.Len(t, got, 2)
	assert.Equal(t, withAppt, got[0]["encounterId"])
	assert.Equal(t, apptPatient, got[0]["appointmentId"])
	assert.Equal(t, without, got[1]["encounterId"])
	assert.Nil(t, got[1]["appointmentId"])
}

// Editing a note with a body that leaves appointmentId out, as the API's
// example does, keeps the encounter's appointment, so that signing it
// still fulfils the visit; one given in upper case is stored canonical.
func TestEditingANoteKeepsItsAppointment(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", js(openBody(apptPatient)), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)
	id := r.json(t)["id"].(string)
	r = h.do("doctor", "PUT", "/encounters/"+id, js(map[string]any{"note": map[string]string{"plan": "rest; review in a week"}}),
		"Content-Type", "application/json", "If-Match", `"1"`)
	require.Equal(t, 200, r.code, "%s", r.body)
	assert.Equal(t, apptPatient, r.json(t)["appointmentId"])
	require.Equal(t, 200, h.do("doctor", "POST", "/encounters/"+id+"/sign", nil, "If-Match", `"2"`).code)

	var signed []events.Event
	for _, ev := range outboxtest.Events(t, h.db, service.EncounterSigned) {
		if ev.Subject == id {
			signed = append(signed, ev)
		}
	}
	require.Len(t, signed, 1, "the encounter's signed event")
	var data map[string]any
	require.NoError(t, json.Unmarshal(signed[0].Data, &data))
	assert.Equal(t, apptPatient, data["appointmentId"], "the signed event of an encounter opened for an appointment")

	// A new appointment is checked as on open and stored in canonical form.
	r = h.do("doctor", "POST", "/encounters", js(openBody("")), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)
	id = r.json(t)["id"].(string)
	r = h.do("doctor", "PUT", "/encounters/"+id, js(openBody(strings.ToUpper(apptPatient))), "Content-Type", "application/json", "If-Match", `"1"`)
	require.Equal(t, 200, r.code, "%s", r.body)
	assert.Equal(t, apptPatient, r.json(t)["appointmentId"])
	r = h.do("doctor", "POST", "/encounters", js(openBody(strings.ToUpper(apptPatient))), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)
	assert.Equal(t, apptPatient, r.json(t)["appointmentId"])
}
