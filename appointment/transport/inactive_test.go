package transport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// deactivate marks the patient's record inactive, as the patient service's
// DELETE does, before its patient.deactivated event has arrived.
func (e *env) deactivate(patientID string) {
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	p := e.dir.patients[patientID]
	p.Active = false
	e.dir.patients[patientID] = p
}

// A deactivated patient's booked appointments stay as they are, but none
// takes a new slot by rescheduling, which Book refuses them, whoever asks;
// the appointment may still be cancelled.
func TestDeactivatedPatientCannotRescheduleIntoANewSlot(t *testing.T) {
	e := newEnv(t)
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(17, 10, 0, nil)).JSON(t)["id"].(string)
	e.deactivate(e.pat.PatientID)
	e.mustDo(400, "POST", "/api/v1/appointments", e.pat.Token, e.booking(18, 10, 0, nil))

	s, en := slot(18, 10, 0)
	r := e.do("POST", "/api/v1/appointments/"+id+"/reschedule", e.pat.Token, map[string]any{"start": s, "end": en})
	assert.NotEqual(t, 200, r.Status, "an inactive patient takes a new slot by rescheduling: %s", r.Body)
	assert.Equal(t, 400, r.Status, "%s", r.Body)
	assert.Equal(t, []string{"patientId"}, r.Fields(t))
	for _, staff := range []user{e.admin, e.doc} {
		r := e.mustDo(400, "POST", "/api/v1/appointments/"+id+"/reschedule", staff.Token, map[string]any{"start": s, "end": en})
		assert.Equal(t, []string{"patientId"}, r.Fields(t))
	}

	got := e.mustDo(200, "GET", "/api/v1/appointments/"+id, e.pat.Token, nil).JSON(t)
	was, _ := slot(17, 10, 0)
	assert.Equal(t, was, got["start"], "the appointment keeps its time")
	assert.EqualValues(t, 1, got["version"])
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(18, 10, 0, nil))
	assert.Equal(t, "cancelled", e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{}).JSON(t)["status"])
}
