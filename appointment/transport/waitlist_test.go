package transport_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/events"
)

func TestWaitlistIsOfferedAFreedSlot(t *testing.T) {
	e := newEnv(t)
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)

	w := e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"}).JSON(t)
	assert.Equal(t, e.pat2.PatientID, w["patientId"])
	e.mustDo(409, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
	assert.Equal(t, []string{"date"}, e.mustDo(400, "POST", "/api/v1/appointments/waitlist", e.pat2.Token,
		map[string]any{"doctorId": e.DoctorID, "date": "2030-01-01"}).Fields(t))
	e.mustDo(403, "POST", "/api/v1/appointments/waitlist", e.doc.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
	assert.Len(t, e.mustDo(200, "GET", "/api/v1/appointments/waitlist", e.pat2.Token, nil).JSON(t)["items"], 1)

	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{})
	var data map[string]any
	var env string
	require.NoError(t, e.db.QueryRow("SELECT envelope FROM outbox WHERE type = 'appointment.slot_freed'").Scan(&env))
	var ev events.Event
	require.NoError(t, json.Unmarshal([]byte(env), &ev))
	require.NoError(t, ev.Decode(&data))
	assert.Equal(t, map[string]any{"doctorId": e.DoctorID, "doctorName": "Ada Lovelace", "timeZone": "UTC",
		"start": "2030-01-15T10:00:00Z", "end": "2030-01-15T10:30:00Z",
		"offeredToPatientId": e.pat2.PatientID, "offeredToPatientUserId": e.pat2.ID}, data, "the offer names the doctor and their zone for its message")
	assert.Equal(t, e.DoctorID, ev.Subject)
	assert.Empty(t, e.mustDo(200, "GET", "/api/v1/appointments/waitlist", e.pat2.Token, nil).JSON(t)["items"], "the offer took the entry")

	w = e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-16"}).JSON(t)
	e.mustDo(404, "DELETE", "/api/v1/appointments/waitlist/"+w["id"].(string), e.pat.Token, nil)
	e.mustDo(204, "DELETE", "/api/v1/appointments/waitlist/"+w["id"].(string), e.pat2.Token, nil)
}

// slotFreed is the data of the one appointment.slot_freed in the outbox.
func (e *env) slotFreed(t *testing.T) service.SlotFreedData {
	t.Helper()
	var env string
	require.NoError(t, e.db.QueryRow("SELECT envelope FROM outbox WHERE type = 'appointment.slot_freed'").Scan(&env), "an offer")
	var ev events.Event
	require.NoError(t, json.Unmarshal([]byte(env), &ev))
	var data service.SlotFreedData
	require.NoError(t, ev.Decode(&data))
	return data
}

// Patients wait for a day of the doctor's zone as it is now, so a freed
// slot is matched to its day in that zone, not in the zone the appointment
// was booked in, and the offer is written in it.
func TestAFreedSlotIsOfferedForTheDoctorsCurrentDay(t *testing.T) {
	e := newEnv(t) // clock 2030-01-14T08:00Z
	e.setZone("Asia/Tokyo")
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 16, 0, nil)).JSON(t)["id"].(string)

	e.setZone("America/Los_Angeles")
	// 16:00Z on the 15th is 08:00 on the 15th in Los Angeles, 01:00 on the
	// 16th in Tokyo.
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{})

	data := e.slotFreed(t)
	assert.Equal(t, e.pat2.PatientID, data.OfferedToPatientID)
	assert.Equal(t, "America/Los_Angeles", data.TimeZone, "the offer is written in the doctor's zone")
}

// A doctor service that does not answer neither fails nor holds up the
// change that frees a slot: the slot is offered for its day in the zone
// stored with the appointment.
func TestAFreedSlotIsOfferedInTheStoredZoneWhileTheDoctorServiceHangs(t *testing.T) {
	e := newEnv(t)
	e.setZone("Asia/Tokyo")
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 16, 0, nil)).JSON(t)["id"].(string)
	e.setZone("America/Los_Angeles")
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-16"})

	e.dir.mu.Lock()
	e.dir.profileHangs = true
	e.dir.mu.Unlock()
	began := time.Now()
	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{})
	assert.Less(t, time.Since(began), 2*time.Second, "the doctor service is waited for briefly")

	data := e.slotFreed(t)
	assert.Equal(t, e.pat2.PatientID, data.OfferedToPatientID, "waiting for the slot's day in Tokyo")
	assert.Equal(t, "Asia/Tokyo", data.TimeZone)
}
