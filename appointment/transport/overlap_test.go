package transport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPatientInOnePlaceAtATime: a booking or a move to a time overlapping
// another active appointment of the patient, with any doctor, is a 409
// problem that says so without naming the other appointment; for the
// patient and a doctor, not for an administrator. A replayed booking still
// replays.
func TestPatientInOnePlaceAtATime(t *testing.T) {
	e := newEnv(t)
	other, err := e.dir.doctorByUser(e.other.ID)
	require.NoError(t, err)
	withOther := func(h, m int, extra map[string]any) map[string]any {
		b := e.booking(16, h, m, extra)
		b["doctorId"] = other.ID
		return b
	}
	busy := func(r response) {
		t.Helper()
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
		p := r.JSON(t)
		assert.Equal(t, "urn:medisync:problem:conflict", p["type"])
		assert.Contains(t, p["detail"], "the patient already has an appointment at that time")
		assert.NotContains(t, string(r.Body), other.ID, "the other appointment's doctor is not named")
		assert.NotContains(t, string(r.Body), other.Name)
		assert.NotContains(t, string(r.Body), e.DoctorID)
	}
	key := []string{"Idempotency-Key", "first"}
	first := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, withOther(9, 0, nil), key...).JSON(t)

	// The same time with another doctor: the patient's booking and their
	// doctor's are refused; the other doctor's time stays free for others.
	busy(e.mustDo(409, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 9, 0, nil)))
	busy(e.mustDo(409, "POST", "/api/v1/appointments", e.doc.Token, e.booking(16, 9, 0, map[string]any{"patientId": e.pat.PatientID})))
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(16, 9, 0, nil))
	// Half-open times: the next slot is free.
	next := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 9, 30, nil)).JSON(t)

	// A replay answers the first booking, not the rule.
	r := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, withOther(9, 0, nil), key...)
	assert.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, first["id"], r.JSON(t)["id"])

	// A move into the other appointment's time is refused to the patient
	// and their doctor alike, and changes nothing.
	move := func(h, m int) map[string]any {
		s, en := slot(16, h, m)
		return map[string]any{"start": s, "end": en}
	}
	path := "/api/v1/appointments/" + next["id"].(string) + "/reschedule"
	busy(e.mustDo(409, "POST", "/api/v1/appointments/"+first["id"].(string)+"/reschedule", e.pat.Token, move(9, 30)))
	busy(e.mustDo(409, "POST", "/api/v1/appointments/"+first["id"].(string)+"/reschedule", e.other.Token, move(9, 30)))
	got := e.mustDo(200, "GET", "/api/v1/appointments/"+first["id"].(string), e.pat.Token, nil).JSON(t)
	assert.Equal(t, first["start"], got["start"])
	e.mustDo(200, "POST", path, e.pat.Token, move(11, 0))

	// Cancelled, the other appointment no longer holds the patient.
	e.mustDo(200, "POST", "/api/v1/appointments/"+first["id"].(string)+"/cancel", e.pat.Token, map[string]any{})
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 9, 30, nil))

	// An administrator may book and move past the rule (a joint
	// consultation is the clinic's decision).
	joint := e.mustDo(201, "POST", "/api/v1/appointments", e.admin.Token, withOther(9, 30, map[string]any{"patientId": e.pat.PatientID})).JSON(t)
	e.mustDo(200, "POST", "/api/v1/appointments/"+joint["id"].(string)+"/reschedule", e.admin.Token, move(11, 0))
}

// TestDoctorsPatientBusyRefusalIsOnTheTrail: a doctor's 409 "the patient
// already has an appointment at that time" tells them of the patient's
// appointment with another doctor, so it is on the patient's trail, as a
// doctor's other refused bookings are: else a doctor could map a
// patient's appointments slot by slot, unseen.
func TestDoctorsPatientBusyRefusalIsOnTheTrail(t *testing.T) {
	e := newEnv(t)
	other, err := e.dir.doctorByUser(e.other.ID)
	require.NoError(t, err)
	b := e.booking(16, 9, 0, nil)
	b["doctorId"] = other.ID
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, b)

	e.mustDo(409, "POST", "/api/v1/appointments", e.doc.Token, e.booking(16, 9, 0, map[string]any{"patientId": e.pat.PatientID}))

	var seen bool
	for _, s := range e.trail(e.pat) {
		if s.user == e.doc.ID && s.action == "book" && s.outcome == "denied" {
			seen = true
		}
	}
	assert.True(t, seen, "the doctor's probe of the patient's time is on the patient's trail")
}
