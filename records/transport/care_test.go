package transport_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/records/service"
)

// A doctor asks whether they treat a patient: by an appointment someone
// else booked, by an encounter, or by the clinic's policy; nobody else may
// ask, and asking leaves the patient's audit trail alone.
func TestTreatingAnswersADoctorAboutThemself(t *testing.T) {
	h := newHarness(t, 1<<20)
	treating := func(who string) bool {
		t.Helper()
		r := h.do(who, "GET", "/care", nil)
		require.Equal(t, 200, r.code, "%s", r.body)
		assert.Equal(t, h.patient, r.json(t)["patientId"])
		return r.json(t)["treating"].(bool)
	}
	assert.True(t, treating("doctor"), "an appointment the patient booked")
	assert.False(t, treating("doctor2"), "no relation")
	assert.False(t, treating("docadmin"), "an administrator's sight of every appointment is no relation")

	// With the appointment cancelled, the encounter opened for it still
	// makes the doctor a treating one.
	h.openSigned("doctor", h.patient)
	a := h.appts[apptPatient]
	a.status = "cancelled"
	h.appts[apptPatient] = a
	assert.True(t, treating("doctor"), "an encounter")

	for _, who := range []string{"patient", "other", "admin"} {
		r := h.do(who, "GET", "/care", nil)
		assert.Equal(t, 403, r.code, "%s: %s", who, r.body)
	}
	assert.Equal(t, 400, h.doAt("doctor", "not-a-uuid", "GET", "/care", nil).code)

	var trail struct{ Items []struct{ UserID string } }
	require.NoError(t, json.Unmarshal(h.do("patient", "GET", "/audit?limit=100", nil).body, &trail))
	for _, e := range trail.Items {
		assert.NotEqual(t, h.uids["doctor2"], e.UserID, "asking is not audited")
	}

	h = newHarness(t, 1<<20, func(d *service.Deps) { d.DoctorsReadAll = true })
	assert.True(t, treating("doctor2"), "the clinic's policy")
}
