package transport_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
)

func TestBookSeeAndCancel(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)
	id := r["id"].(string)
	assert.Equal(t, "booked", r["status"])
	assert.Equal(t, e.pat.PatientID, r["patientId"])
	assert.Equal(t, "2030-01-15T10:00:00Z", r["start"])
	assert.Equal(t, float64(1), r["version"])
	assert.Equal(t, e.pat.ID, r["updatedBy"], "the booking is the first change")

	e.mustDo(200, "GET", "/api/v1/appointments/"+id, e.pat.Token, nil)
	e.mustDo(200, "GET", "/api/v1/appointments/"+id, e.doc.Token, nil)
	e.mustDo(200, "GET", "/api/v1/appointments/"+id, e.admin.Token, nil)
	e.mustDo(404, "GET", "/api/v1/appointments/"+id, e.pat2.Token, nil)
	e.mustDo(404, "GET", "/api/v1/appointments/"+id, e.other.Token, nil)

	taken := e.mustDo(200, "GET", "/api/v1/appointments/taken?doctorId="+e.DoctorID+
		"&from=2030-01-15T00:00:00Z&to=2030-01-16T00:00:00Z", e.pat2.Token, nil).JSON(t)
	assert.Equal(t, []any{map[string]any{"start": "2030-01-15T10:00:00Z", "end": "2030-01-15T10:30:00Z"}}, taken["taken"])

	e.mustDo(409, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(15, 10, 0, nil))
	c := e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token,
		map[string]any{"cancellationReason": "patient-request", "cancellationNote": "away"}, "If-Match", `"1"`).JSON(t)
	assert.Equal(t, "cancelled", c["status"])
	assert.Equal(t, "patient-request", c["cancellationReason"])
	assert.Equal(t, e.pat.ID, c["updatedBy"])
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(15, 10, 0, nil))

	// Every change left its event; none carries the reason or the note.
	for _, env := range outboxtest.Envelopes(t, e.db, "") {
		assert.NotContains(t, env, "Checkup")
		assert.NotContains(t, env, "away")
	}
	var types []string
	for _, ev := range outboxtest.Events(t, e.db, "") {
		types = append(types, ev.Type)
		var data map[string]any
		require.NoError(t, ev.Decode(&data))
		assert.Equal(t, e.doc.ID, data["doctorUserId"])
		assert.NotEmpty(t, data["patientUserId"])
		if ev.Type == "appointment.cancelled" {
			assert.Equal(t, e.pat.ID, data["changedBy"])
		} else {
			assert.NotContains(t, data, "changedBy", "appointment.booked carries no changedBy")
		}
	}
	assert.Equal(t, []string{"appointment.booked", "appointment.cancelled", "appointment.booked"}, types)
}

func TestBadBookingsAreProblemsNamingTheField(t *testing.T) {
	e := newEnv(t)
	s, en := slot(15, 10, 0)
	cases := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"off the grid", e.booking(15, 10, 10, nil), 400, "start"},
		{"outside availability", e.booking(15, 20, 0, nil), 400, "start"},
		{"in the past", e.booking(13, 10, 0, nil), 400, "start"},
		{"end before start", map[string]any{"doctorId": e.DoctorID, "start": en, "end": s}, 400, "end"},
		{"not an instant", map[string]any{"doctorId": e.DoctorID, "start": "tomorrow", "end": en}, 400, "start"},
		{"unknown doctor", e.booking(15, 10, 0, map[string]any{"doctorId": ids.New()}), 400, "doctorId"},
		{"doctor not a UUID", e.booking(15, 10, 0, map[string]any{"doctorId": "x"}), 400, "doctorId"},
		{"reason too long", e.booking(15, 10, 0, map[string]any{"reason": strings.Repeat("é", 501)}), 400, "reason"},
		{"unknown field", e.booking(15, 10, 0, map[string]any{"room": "3"}), 400, "room"},
		{"someone else's patient id", e.booking(15, 10, 0, map[string]any{"patientId": e.pat2.PatientID}), 400, "patientId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.mustDo(c.status, "POST", "/api/v1/appointments", e.pat.Token, c.body)
			assert.Contains(t, r.Fields(t), c.field)
		})
	}
	t.Run("staff must name the patient; unknown and inactive patients", func(t *testing.T) {
		assert.Equal(t, []string{"patientId"}, e.mustDo(400, "POST", "/api/v1/appointments", e.admin.Token, e.booking(15, 10, 0, nil)).Fields(t))
		assert.Equal(t, []string{"patientId"}, e.mustDo(400, "POST", "/api/v1/appointments", e.admin.Token,
			e.booking(15, 10, 0, map[string]any{"patientId": ids.New()})).Fields(t))
		e.dir.mu.Lock()
		p := e.dir.patients[e.pat2.PatientID]
		p.Active = false
		e.dir.patients[p.ID] = p
		e.dir.mu.Unlock()
		assert.Equal(t, []string{"patientId"}, e.mustDo(400, "POST", "/api/v1/appointments", e.admin.Token,
			e.booking(15, 10, 0, map[string]any{"patientId": e.pat2.PatientID})).Fields(t))
	})
	t.Run("a doctor books follow-ups with themselves only", func(t *testing.T) {
		e.mustDo(403, "POST", "/api/v1/appointments", e.other.Token, e.booking(15, 11, 0, map[string]any{"patientId": e.pat.PatientID}))
		e.mustDo(201, "POST", "/api/v1/appointments", e.doc.Token, e.booking(15, 11, 0, map[string]any{"patientId": e.pat.PatientID}))
	})
	t.Run("the doctor service down: 503, nothing written", func(t *testing.T) {
		before := e.count("appointments")
		e.dir.mu.Lock()
		e.dir.down = true
		e.dir.mu.Unlock()
		defer func() { e.dir.mu.Lock(); e.dir.down = false; e.dir.mu.Unlock() }()
		r := e.mustDo(503, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 12, 0, nil))
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
		assert.Equal(t, before, e.count("appointments"))
	})
	e.mustDo(401, "POST", "/api/v1/appointments", "", e.booking(15, 10, 0, nil))
}

// TestADoctorWhoIsAPatientBooksTheirOwnCare: a caller holding the patient
// role books for themselves with any doctor, whatever other roles they
// hold, leaving patientId out or giving their own; a patient of theirs they
// still book with themselves only.
func TestADoctorWhoIsAPatientBooksTheirOwnCare(t *testing.T) {
	e := newEnv(t)
	both := user{ID: ids.New(), PatientID: ids.New()}
	both.Token = e.issuer.Token(t, authntest.Claims{UserID: both.ID, Roles: []string{authn.RoleDoctor, authn.RolePatient}})
	e.dir.mu.Lock()
	e.dir.patients[both.PatientID] = service.Patient{ID: both.PatientID, UserID: both.ID, Active: true}
	ownDoctor := ids.New()
	e.dir.doctors[ownDoctor] = service.Doctor{ID: ownDoctor, UserID: both.ID, Name: "Cy Both", TimeZone: "UTC", Active: true}
	e.dir.mu.Unlock()

	r := e.mustDo(201, "POST", "/api/v1/appointments", both.Token, e.booking(15, 10, 0, nil)).JSON(t)
	assert.Equal(t, both.PatientID, r["patientId"], "their own care, with another doctor")
	assert.Equal(t, e.doc.ID, r["doctorUserId"])
	assert.Equal(t, both.ID, r["bookedBy"])
	r = e.mustDo(201, "POST", "/api/v1/appointments", both.Token,
		e.booking(15, 11, 0, map[string]any{"patientId": both.PatientID})).JSON(t)
	assert.Equal(t, both.PatientID, r["patientId"], "their own patient id, with another doctor")

	e.mustDo(403, "POST", "/api/v1/appointments", both.Token, e.booking(15, 12, 0, map[string]any{"patientId": e.pat.PatientID}))
	e.mustDo(201, "POST", "/api/v1/appointments", both.Token,
		e.booking(15, 12, 0, map[string]any{"doctorId": ownDoctor, "patientId": e.pat.PatientID}))
	assert.Equal(t, []string{"patientId"}, e.mustDo(400, "POST", "/api/v1/appointments", e.doc.Token,
		e.booking(15, 13, 0, nil)).Fields(t), "a doctor who is not a patient names the patient")
}

// TestADoctorWhoIsAPatientListsTheirOwnCare: the list of a caller holding
// both roles holds their own care with another doctor beside their
// patients' appointments with them, in start order and in keyset pages.
func TestADoctorWhoIsAPatientListsTheirOwnCare(t *testing.T) {
	e := newEnv(t)
	both := user{ID: ids.New(), PatientID: ids.New()}
	both.Token = e.issuer.Token(t, authntest.Claims{UserID: both.ID, Roles: []string{authn.RoleDoctor, authn.RolePatient}})
	e.dir.mu.Lock()
	e.dir.patients[both.PatientID] = service.Patient{ID: both.PatientID, UserID: both.ID, Active: true}
	ownDoctor := ids.New()
	e.dir.doctors[ownDoctor] = service.Doctor{ID: ownDoctor, UserID: both.ID, Name: "Cy Both", TimeZone: "UTC", Active: true}
	e.dir.mu.Unlock()

	own := e.mustDo(201, "POST", "/api/v1/appointments", both.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)
	theirs := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token,
		e.booking(15, 9, 0, map[string]any{"doctorId": ownDoctor})).JSON(t)["id"].(string)
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 11, 0, nil)) // with another doctor, for another patient

	idsIn := func(p map[string]any) []string {
		var out []string
		for _, it := range p["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	p := e.mustDo(200, "GET", "/api/v1/appointments?limit=1", both.Token, nil).JSON(t)
	assert.Equal(t, []string{theirs}, idsIn(p))
	p = e.mustDo(200, "GET", "/api/v1/appointments?limit=1&cursor="+p["nextCursor"].(string), both.Token, nil).JSON(t)
	assert.Equal(t, []string{own}, idsIn(p), "their own care, readable by id, is in their list too")
	assert.Nil(t, p["nextCursor"])
	assert.Equal(t, []string{theirs, own}, idsIn(e.mustDo(200, "GET", "/api/v1/appointments?date=2030-01-15", both.Token, nil).JSON(t)),
		"their day, in their time zone")
	assert.Len(t, idsIn(e.mustDo(200, "GET", "/api/v1/appointments?date=2030-01-15", e.doc.Token, nil).JSON(t)), 2,
		"the other doctor's day: the visit with them and the one of another patient")
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	key := []string{"Idempotency-Key", "book-1"}
	first := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil), key...).JSON(t)
	again := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil), key...)
	assert.Equal(t, first["id"], again.JSON(t)["id"])
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	e.mustDo(422, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 11, 0, nil), key...)
	// Keys are per user: another patient's same key is a new booking.
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(15, 11, 0, nil), key...)
	assert.Equal(t, []string{"Idempotency-Key"}, e.mustDo(400, "POST", "/api/v1/appointments", e.pat.Token,
		e.booking(15, 12, 0, nil), "Idempotency-Key", strings.Repeat("k", 300)).Fields(t))

	t.Run("a concurrent double click makes one appointment", func(t *testing.T) {
		before := e.count("appointments")
		var wg sync.WaitGroup
		got := make([]response, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = e.do("POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, nil), "Idempotency-Key", "click")
			}()
		}
		wg.Wait()
		var id string
		for _, r := range got {
			require.Equal(t, 201, r.Status, "%s", r.Body)
			if id == "" {
				id = r.JSON(t)["id"].(string)
			}
			assert.Equal(t, id, r.JSON(t)["id"])
		}
		assert.Equal(t, before+1, e.count("appointments"))
	})
}

// The service reads ids in any letter case and instants in any offset, so
// a retry writing the same booking another way (a client that serializes
// its request anew: upper-case ids, +00:00 for Z) is the same request and
// is answered the first appointment.
func TestARetryOfTheSameBookingWrittenAnotherWayIsReplayed(t *testing.T) {
	e := newEnv(t)
	first := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, nil), "Idempotency-Key", "retry-1").JSON(t)

	again := e.booking(16, 10, 0, map[string]any{"doctorId": strings.ToUpper(e.DoctorID),
		"start": "2030-01-16T11:00:00+01:00", "end": "2030-01-16T10:30:00+00:00"})
	r := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, again, "Idempotency-Key", "retry-1")
	assert.Equal(t, first["id"], r.JSON(t)["id"])
	assert.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
	e.mustDo(422, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, map[string]any{"reason": "Other"}),
		"Idempotency-Key", "retry-1")
}

// A key stored before requests were hashed as the service reads them holds
// the hash of the request as written: an identical retry still replays.
func TestAKeyHashedAsWrittenStillReplaysItsIdenticalRetry(t *testing.T) {
	e := newEnv(t)
	body := e.booking(16, 10, 0, map[string]any{"doctorId": strings.ToUpper(e.DoctorID),
		"start": "2030-01-16T11:00:00+01:00", "end": "2030-01-16T11:30:00+01:00"})
	first := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, body, "Idempotency-Key", "old-1").JSON(t)
	h := sha256.New()
	for _, f := range []string{body["doctorId"].(string), "", body["start"].(string), body["end"].(string), body["reason"].(string)} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	_, err := e.db.ExecContext(context.Background(), "UPDATE idempotency_keys SET request_hash = ?", hex.EncodeToString(h.Sum(nil)))
	require.NoError(t, err)

	r := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, body, "Idempotency-Key", "old-1")
	assert.Equal(t, first["id"], r.JSON(t)["id"])
	assert.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
}

// A retry with an Idempotency-Key answers the appointment as it is now, so
// only to one who may see it now: a booker demoted since (auth changed
// their roles, and their new token carries no ADMIN) gets the 404 GET
// gives them, the refusal on the patient's trail, and nothing of the
// appointment, its cancellation note least of all.
func TestAReplayAnswersOnlyOneWhoMayStillSeeTheAppointment(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/appointments"
	key := []string{"Idempotency-Key", "front-desk-1"}
	body := e.booking(15, 11, 0, map[string]any{"patientId": e.pat.PatientID})
	id := e.mustDo(201, "POST", base, e.admin.Token, body, key...).JSON(t)["id"].(string)
	e.mustDo(200, "POST", base+"/"+id+"/cancel", e.pat.Token, map[string]any{"cancellationNote": "moving abroad for treatment"})
	e.mustDo(201, "POST", base, e.admin.Token, body, key...) // still an administrator: the replay answers

	demoted := e.issuer.Token(t, authntest.Claims{UserID: e.admin.ID, Roles: []string{authn.RolePatient}})
	e.mustDo(404, "GET", base+"/"+id, demoted, nil)
	r := e.mustDo(404, "POST", base, demoted, body, key...)
	assert.NotContains(t, string(r.Body), "moving abroad")
	assert.Empty(t, r.Header.Get("Idempotent-Replayed"))
	assert.Contains(t, e.trail(e.pat), step{e.admin.ID, "PATIENT", "book", "appointment", id, "denied"})
}

func TestRescheduleNoticeAndTransitions(t *testing.T) {
	e := newEnv(t)
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(16, 10, 0, nil))
	s, en := slot(16, 10, 0)
	e.mustDo(409, "POST", "/api/v1/appointments/"+id+"/reschedule", e.pat.Token, map[string]any{"start": s, "end": en})
	s, en = slot(16, 11, 0)
	r := e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/reschedule", e.pat.Token, map[string]any{"start": s, "end": en}, "If-Match", `"1"`).JSON(t)
	assert.Equal(t, s, r["start"])
	assert.Equal(t, float64(2), r["version"])
	e.mustDo(412, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{}, "If-Match", `"1"`)
	// The freed time can be booked again.
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(15, 10, 0, nil))

	// Within 24 hours of the start the patient may no longer cancel or move; staff may.
	e.clock.Set(time.Date(2030, 1, 16, 0, 0, 0, 0, time.UTC))
	p := e.mustDo(409, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, map[string]any{}).JSON(t)
	assert.Contains(t, p["detail"], "24 hours")
	s2, en2 := slot(16, 15, 0)
	e.mustDo(409, "POST", "/api/v1/appointments/"+id+"/reschedule", e.pat.Token, map[string]any{"start": s2, "end": en2})

	// A patient cannot mark a no-show; the doctor can, once it began.
	e.mustDo(409, "POST", "/api/v1/appointments/"+id+"/status", e.pat.Token, map[string]any{"status": "noshow"})
	e.mustDo(409, "POST", "/api/v1/appointments/"+id+"/status", e.doc.Token, map[string]any{"status": "noshow"})
	e.mustDo(404, "POST", "/api/v1/appointments/"+id+"/status", e.other.Token, map[string]any{"status": "arrived"})
	assert.Equal(t, []string{"status"}, e.mustDo(400, "POST", "/api/v1/appointments/"+id+"/status", e.doc.Token, map[string]any{"status": "gone"}).Fields(t))
	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/status", e.doc.Token, map[string]any{"status": "arrived"})
	e.clock.Set(time.Date(2030, 1, 16, 11, 10, 0, 0, time.UTC))
	e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/status", e.doc.Token, map[string]any{"status": "fulfilled"})

	// A cancelled appointment cannot be fulfilled.
	id2 := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(20, 10, 0, nil)).JSON(t)["id"].(string)
	e.mustDo(200, "POST", "/api/v1/appointments/"+id2+"/cancel", e.admin.Token, map[string]any{"cancellationReason": "clinic"})
	e.mustDo(409, "POST", "/api/v1/appointments/"+id2+"/status", e.admin.Token, map[string]any{"status": "fulfilled"})
	assert.Equal(t, []string{"cancellationReason"}, e.mustDo(400, "POST", "/api/v1/appointments/"+id2+"/cancel", e.admin.Token,
		map[string]any{"cancellationReason": "bored"}).Fields(t))
}

// A reschedule takes a slot of the doctor's grid in their zone of now, and
// the appointment, its row and its event, takes that zone with it.
func TestARescheduleTakesTheDoctorsCurrentZone(t *testing.T) {
	e := newEnv(t)
	e.setZone("Asia/Tokyo")
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, nil)).JSON(t)["id"].(string)
	e.setZone("America/Los_Angeles")
	s, en := slot(17, 16, 0)
	got := e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/reschedule", e.doc.Token, map[string]any{"start": s, "end": en}).JSON(t)
	assert.Equal(t, "America/Los_Angeles", got["timeZone"])
	assert.Equal(t, "America/Los_Angeles", e.mustDo(200, "GET", "/api/v1/appointments/"+id, e.pat.Token, nil).JSON(t)["timeZone"])
	rescheduled := outboxtest.Events(t, e.db, service.TypeRescheduled)
	require.Len(t, rescheduled, 1)
	var data service.EventData
	require.NoError(t, rescheduled[0].Decode(&data))
	assert.Equal(t, "America/Los_Angeles", data.TimeZone)
}

func TestListsShowEachTheirOwn(t *testing.T) {
	e := newEnv(t)
	for h := 9; h < 14; h++ {
		e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, h, 0, nil))
	}
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(15, 14, 0, nil))
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(22, 9, 0, nil))

	list := func(token, query string) map[string]any {
		return e.mustDo(200, "GET", "/api/v1/appointments"+query, token, nil).JSON(t)
	}
	p := list(e.pat.Token, "?limit=3")
	assert.Len(t, p["items"], 3)
	next := p["nextCursor"].(string)
	p = list(e.pat.Token, "?limit=3&cursor="+next)
	assert.Len(t, p["items"], 2)
	assert.Nil(t, p["nextCursor"])

	assert.Len(t, list(e.pat2.Token, "")["items"], 2)
	assert.Len(t, list(e.doc.Token, "?date=2030-01-15")["items"], 6, "the doctor's day")
	assert.Len(t, list(e.doc.Token, "?date=2030-01-15&days=7")["items"], 6, "the doctor's week, to the 21st")
	assert.Len(t, list(e.doc.Token, "?date=2030-01-15&days=7&status=cancelled")["items"], 0)
	assert.Len(t, list(e.other.Token, "")["items"], 0)
	assert.Len(t, list(e.admin.Token, "?doctorId="+e.DoctorID+"&date=2030-01-22")["items"], 1)
	assert.Len(t, list(e.admin.Token, "?patientId="+e.pat2.PatientID)["items"], 2)

	e.clock.Set(time.Date(2030, 1, 15, 12, 0, 0, 0, time.UTC))
	past := list(e.pat.Token, "?when=past")["items"].([]any)
	require.Len(t, past, 3)
	assert.Equal(t, "2030-01-15T11:00:00Z", past[0].(map[string]any)["start"], "latest first")
	assert.Len(t, list(e.pat.Token, "?when=upcoming")["items"], 2)

	assert.Equal(t, []string{"limit"}, e.mustDo(400, "GET", "/api/v1/appointments?limit=500", e.pat.Token, nil).Fields(t))
	assert.Equal(t, []string{"cursor"}, e.mustDo(400, "GET", "/api/v1/appointments?cursor=abc", e.pat.Token, nil).Fields(t))
	assert.Equal(t, []string{"when"}, e.mustDo(400, "GET", "/api/v1/appointments?when=soon", e.pat.Token, nil).Fields(t))
	assert.Equal(t, []string{"days"}, e.mustDo(400, "GET", "/api/v1/appointments?date=2030-01-15&days=9", e.doc.Token, nil).Fields(t))
}

// A weak If-Match is answered after the caller's rights (docs/adr/0003):
// another patient learns only that the appointment is not theirs to see.
func TestWeakIfMatchAfterRights(t *testing.T) {
	e := newEnv(t)
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)
	cancel := map[string]any{"cancellationReason": "patient-request"}
	e.mustDo(404, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat2.Token, cancel, "If-Match", `W/"1"`)
	r := e.mustDo(412, "POST", "/api/v1/appointments/"+id+"/cancel", e.pat.Token, cancel, "If-Match", `W/"1"`)
	assert.Contains(t, string(r.Body), "weak")
}
