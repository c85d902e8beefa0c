package transport_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
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
	offers := outboxtest.Events(t, e.db, service.TypeSlotFreed)
	require.Len(t, offers, 1, "an offer")
	ev := offers[0]
	var data map[string]any
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
	offers := outboxtest.Events(t, e.db, service.TypeSlotFreed)
	require.Len(t, offers, 1, "an offer")
	var data service.SlotFreedData
	require.NoError(t, offers[0].Decode(&data))
	return data
}

// offers counts the appointment.slot_freed events in the outbox.
func (e *env) offers(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.QueryRow("SELECT COUNT(*) FROM outbox WHERE type = 'appointment.slot_freed'").Scan(&n))
	return n
}

// Patients wait for a day of the doctor's zone as it is when they join, so
// a freed slot is matched to that day, not to its day in the zone the
// appointment was booked in, and the offer is written in that zone.
func TestAFreedSlotIsOfferedForTheDayAsTheWaitJoined(t *testing.T) {
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
	assert.Equal(t, "America/Los_Angeles", data.TimeZone, "the offer is written in the zone the wait joined in")
}

// A wait joined for 16 January in Los Angeles is not offered a slot of 15
// January there, though the appointment was booked in Tokyo, where the
// slot falls on the 16th.
func TestAWaitIsNotOfferedASlotOfAnotherDayInItsZone(t *testing.T) {
	e := newEnv(t)
	e.setZone("Asia/Tokyo")
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 16, 0, nil)).JSON(t)["id"].(string)
	e.setZone("America/Los_Angeles")
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-16"})

	e.dir.mu.Lock()
	e.dir.profileHangs = true
	e.dir.mu.Unlock()
	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{})

	assert.Zero(t, e.offers(t), "the slot is on 15 January in Los Angeles; the only wait is for the 16th")
}

// A wait joined for 15 January while the doctor worked in Tokyo waits for
// Tokyo's 15th after the doctor moves to Los Angeles: 01:00 on 16 January
// in Tokyo, 08:00 on the 15th in Los Angeles, is not offered to it.
func TestAWaitJoinedBeforeAZoneChangeKeepsItsDay(t *testing.T) {
	e := newEnv(t)
	e.setZone("Asia/Tokyo")
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 16, 0, nil)).JSON(t)["id"].(string)
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})

	e.setZone("America/Los_Angeles")
	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{})
	assert.Zero(t, e.offers(t), "the patient waited for 15 January in Tokyo; the slot is on the 16th there")

	// Joined for Tokyo's 16th, the wait gets the next such slot.
	e.setZone("Asia/Tokyo")
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-16"})
	id = e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 16, 0, nil)).JSON(t)["id"].(string)
	e.setZone("America/Los_Angeles")
	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{})
	data := e.slotFreed(t)
	assert.Equal(t, e.pat2.PatientID, data.OfferedToPatientID)
	assert.Equal(t, "Asia/Tokyo", data.TimeZone)
}

// A change that frees a slot asks the doctor service nothing: a hung one
// slows no cancellation, whether or not anybody waits.
func TestAHungDoctorServiceDoesNotSlowCancellations(t *testing.T) {
	e := newEnv(t)
	var booked []string
	for h := 9; h < 13; h++ {
		booked = append(booked, e.mustDo(201, "POST", "/api/v1/appointments", e.admin.Token,
			e.booking(20, h, 0, map[string]any{"patientId": e.pat.PatientID})).JSON(t)["id"].(string))
	}
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-20"})
	e.dir.mu.Lock()
	e.dir.profileHangs = true
	e.dir.mu.Unlock()
	began := time.Now()
	for _, id := range booked {
		e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.admin.Token, map[string]any{"cancellationReason": "clinic"})
	}
	took := time.Since(began)
	assert.Less(t, took, time.Second, "four cancellations took %s", took)
	assert.Equal(t, e.pat2.PatientID, e.slotFreed(t).OfferedToPatientID, "the wait is offered the first")
}

// No booking starts more than 365 days ahead, so no slot of a later day is
// ever freed: a wait for a day beginning past that, in the doctor's zone,
// is refused rather than held against the patient's 20.
func TestAWaitPastTheBookingWindowIsRefused(t *testing.T) {
	e := newEnv(t) // clock 2030-01-14T08:00Z: the window ends 2031-01-14T08:00Z
	e.setZone("Asia/Tokyo")
	for _, day := range []string{"2031-01-15", "2032-06-01", "8999-12-31"} {
		assert.Equal(t, []string{"date"}, e.mustDo(400, "POST", "/api/v1/appointments/waitlist", e.pat2.Token,
			map[string]any{"doctorId": e.DoctorID, "date": day}).Fields(t), day)
	}
	// 2031-01-14 begins at 15:00Z on the 13th in Tokyo.
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2031-01-14"})
}

// A patient who holds a slot of a day and also waits for that day (for a
// better time) gives the slot up by cancelling: it goes to the next patient
// waiting, not back to them.
func TestAFreedSlotIsNotOfferedBackToWhoFreedIt(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 16, 0, nil)).JSON(t)["id"].(string)
		e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
		e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})

		e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{})
		assert.Equal(t, e.pat2.PatientID, e.slotFreed(t).OfferedToPatientID, "the other patient waiting is offered the slot")
		assert.Len(t, e.mustDo(200, "GET", "/api/v1/appointments/waitlist", e.pat.Token, nil).JSON(t)["items"], 1,
			"the canceller still waits")
	})
}

// The same for a reschedule: the time the patient moved away from goes to
// the other patient waiting for the day.
func TestARescheduleDoesNotOfferTheOldSlotToItsOwnPatient(t *testing.T) {
	e := newEnv(t)
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 16, 0, nil)).JSON(t)["id"].(string)
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
	e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
	s, en := slot(15, 10, 0)
	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/reschedule", e.pat.Token, map[string]any{"start": s, "end": en})
	assert.Equal(t, e.pat2.PatientID, e.slotFreed(t).OfferedToPatientID, "the other patient waiting is offered the old slot")
}

// The Location of a joined wait answers GET: the entry to its patient, as
// their list shows it and leaving nothing on their trail; the 404 of an
// entry that does not exist to anyone else, the refusal on the patient's
// trail; a wait whose day has passed is no longer found, as it is no longer
// listed.
func TestAJoinedWaitIsReadAtItsLocation(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
	loc := r.Header.Get("Location")
	got := e.mustDo(200, "GET", loc, e.pat.Token, nil)
	assert.JSONEq(t, string(r.Body), string(got.Body))
	assert.Equal(t, "no-store", got.Header.Get("Cache-Control"))
	assert.Equal(t, e.mustDo(200, "GET", "/api/v1/appointments/waitlist", e.pat.Token, nil).JSON(t)["items"].([]any)[0], got.JSON(t))
	id := r.JSON(t)["id"].(string)

	for _, u := range []user{e.pat2, e.doc, e.admin} {
		e.mustDo(404, "GET", loc, u.Token, nil)
	}
	e.mustDo(404, "GET", "/api/v1/appointments/waitlist/"+ids.New(), e.pat.Token, nil)
	assert.Equal(t, []string{"id"}, e.mustDo(400, "GET", "/api/v1/appointments/waitlist/nope", e.pat.Token, nil).Fields(t))
	assert.Equal(t, []step{
		{e.admin.ID, "ADMIN", "read", "waitlist", id, "denied"},
		{e.doc.ID, "DOCTOR", "read", "waitlist", id, "denied"},
		{e.pat2.ID, "PATIENT", "read", "waitlist", id, "denied"},
		{e.pat.ID, "PATIENT", "join", "waitlist", id, "allowed"},
	}, e.trail(e.pat), "the patient's own reads leave nothing; the others' refusals are on the trail")

	e.clock.Set(time.Date(2030, 1, 17, 0, 0, 0, 0, time.UTC))
	e.mustDo(404, "GET", loc, e.pat.Token, nil)
}

// Only patients wait for a slot: the role decides, so an administrator or
// a doctor who is not also a patient is refused even when a patient
// profile is linked to their account, and nothing is on the waitlist.
func TestOnlyPatientsJoinAWaitlist(t *testing.T) {
	e := newEnv(t)
	for _, u := range []user{e.admin, e.doc} {
		id := ids.New()
		e.dir.mu.Lock()
		e.dir.patients[id] = service.Patient{ID: id, UserID: u.ID, Active: true}
		e.dir.mu.Unlock()
		r := e.do("POST", "/api/v1/appointments/waitlist", u.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
		assert.Equal(t, 403, r.Status, "%s", r.Body)
		assert.Empty(t, e.mustDo(200, "GET", "/api/v1/appointments/waitlist", u.Token, nil).JSON(t)["items"])
	}
}
