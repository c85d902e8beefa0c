package transport_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/ids"
)

// step is what one audit event says, without its ids and time.
type step struct {
	user, role, action, resource, resourceID, outcome string
}

// trail reads u's own trail, newest first (a patient's own read leaves no
// event), as steps; every event is about u's patient.
func (e *env) trail(u user) []step {
	e.t.Helper()
	r := e.mustDo(200, "GET", "/api/v1/appointments/audit?patientId="+u.PatientID+"&limit=100", u.Token, nil)
	for _, secret := range []string{"Checkup", "away for work", "T10:00:00Z"} {
		assert.NotContains(e.t, string(r.Body), secret, "an event holds no appointment data")
	}
	var out []step
	for _, it := range r.JSON(e.t)["items"].([]any) {
		m := it.(map[string]any)
		assert.Equal(e.t, u.PatientID, m["patientId"])
		assert.NotEmpty(e.t, m["id"])
		assert.NotEmpty(e.t, m["occurredAt"])
		rid, _ := m["resourceId"].(string)
		out = append(out, step{m["userId"].(string), m["role"].(string), m["action"].(string), m["resource"].(string), rid,
			m["outcome"].(string)})
	}
	return out
}

// TestTheTrailHoldsWhoElseReadWhatAnyoneChangedAndEveryRefusal: a
// patient's trail shows every read of their appointments by someone else
// (one by one or on a page of a list), every change by anyone and every
// refusal; their own reads leave nothing.
func TestTheTrailHoldsWhoElseReadWhatAnyoneChangedAndEveryRefusal(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/appointments"
	id := e.mustDo(201, "POST", base, e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)
	e.mustDo(200, "GET", base+"/"+id, e.pat.Token, nil)
	e.mustDo(200, "GET", base, e.pat.Token, nil)
	assert.Equal(t, []step{{e.pat.ID, "PATIENT", "book", "appointment", id, "allowed"}}, e.trail(e.pat),
		"the booking; the patient's own reads leave nothing")

	e.mustDo(200, "GET", base+"/"+id, e.doc.Token, nil)
	e.mustDo(200, "GET", base+"/"+id, e.admin.Token, nil)
	e.mustDo(404, "GET", base+"/"+id, e.pat2.Token, nil)
	e.mustDo(404, "GET", base+"/"+id, e.other.Token, nil)
	e.mustDo(200, "GET", base+"?date=2030-01-15", e.doc.Token, nil)
	e.mustDo(200, "GET", base, e.admin.Token, nil)
	e.mustDo(404, "POST", base+"/"+id+"/cancel", e.pat2.Token, map[string]any{"cancellationReason": "patient-request"})
	e.mustDo(409, "POST", base+"/"+id+"/status", e.pat.Token, map[string]any{"status": "noshow"})
	s, en := slot(16, 10, 0)
	e.mustDo(200, "POST", base+"/"+id+"/reschedule", e.doc.Token, map[string]any{"start": s, "end": en})
	e.mustDo(200, "POST", base+"/"+id+"/reschedule", e.admin.Token, map[string]any{"start": s, "end": en})
	e.mustDo(200, "POST", base+"/"+id+"/status", e.doc.Token, map[string]any{"status": "arrived"})
	e.mustDo(412, "POST", base+"/"+id+"/cancel", e.pat.Token, map[string]any{}, "If-Match", `"1"`)
	e.mustDo(200, "POST", base+"/"+id+"/cancel", e.admin.Token, map[string]any{"cancellationReason": "clinic",
		"cancellationNote": "away for work"})

	want := []step{
		{e.admin.ID, "ADMIN", "cancel", "appointment", id, "allowed"},
		{e.doc.ID, "DOCTOR", "change-status", "appointment", id, "allowed"},
		{e.admin.ID, "ADMIN", "reschedule", "appointment", id, "allowed"}, // to where it is: nothing written, the request on record
		{e.doc.ID, "DOCTOR", "reschedule", "appointment", id, "allowed"},
		{e.pat.ID, "PATIENT", "change-status", "appointment", id, "denied"},
		{e.pat2.ID, "PATIENT", "cancel", "appointment", id, "denied"},
		{e.admin.ID, "ADMIN", "list", "appointment", id, "allowed"},
		{e.doc.ID, "DOCTOR", "list", "appointment", id, "allowed"},
		{e.other.ID, "DOCTOR", "read", "appointment", id, "denied"},
		{e.pat2.ID, "PATIENT", "read", "appointment", id, "denied"},
		{e.admin.ID, "ADMIN", "read", "appointment", id, "allowed"},
		{e.doc.ID, "DOCTOR", "read", "appointment", id, "allowed"},
		{e.pat.ID, "PATIENT", "book", "appointment", id, "allowed"},
	}
	assert.Equal(t, want, e.trail(e.pat), "newest first; the stale cancel is no change")
	assert.Empty(t, e.trail(e.pat2), "what others were refused is on the trail of the patient concerned")
}

// TestTheTrailHoldsTheWaitlistAndReplays: joining, leaving, another's
// refused attempt, the service's offer of a freed slot (which does not name
// who freed it) and a replayed booking.
func TestTheTrailHoldsTheWaitlistAndReplays(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/appointments"
	w1 := e.mustDo(201, "POST", base+"/waitlist", e.pat.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-20"}).JSON(t)["id"].(string)
	w2 := e.mustDo(201, "POST", base+"/waitlist", e.pat.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"}).JSON(t)["id"].(string)
	e.mustDo(404, "DELETE", base+"/waitlist/"+w1, e.pat2.Token, nil)
	e.mustDo(404, "DELETE", base+"/waitlist/"+ids.New(), e.pat2.Token, nil)
	e.mustDo(204, "DELETE", base+"/waitlist/"+w1, e.pat.Token, nil)
	e.mustDo(200, "GET", base+"/waitlist", e.pat.Token, nil)

	key := []string{"Idempotency-Key", "admin-1"}
	body := e.booking(15, 11, 0, map[string]any{"patientId": e.pat2.PatientID})
	id := e.mustDo(201, "POST", base, e.admin.Token, body, key...).JSON(t)["id"].(string)
	e.mustDo(201, "POST", base, e.admin.Token, body, key...)
	e.mustDo(200, "POST", base+"/"+id+"/cancel", e.pat2.Token, map[string]any{})

	assert.Equal(t, []step{
		{"", "SERVICE", "offer", "waitlist", w2, "allowed"},
		{e.pat.ID, "PATIENT", "leave", "waitlist", w1, "allowed"},
		{e.pat2.ID, "PATIENT", "leave", "waitlist", w1, "denied"},
		{e.pat.ID, "PATIENT", "join", "waitlist", w2, "allowed"},
		{e.pat.ID, "PATIENT", "join", "waitlist", w1, "allowed"},
	}, e.trail(e.pat), "pat2 freed the slot; pat's trail does not say so")
	assert.Equal(t, []step{
		{e.pat2.ID, "PATIENT", "cancel", "appointment", id, "allowed"},
		{e.admin.ID, "ADMIN", "book", "appointment", id, "allowed"},
		{e.admin.ID, "ADMIN", "book", "appointment", id, "allowed"},
	}, e.trail(e.pat2), "the replay answered the appointment again")
}

// TestWhoReadsATrail: the patient and administrators; a doctor 403,
// another patient 404, each refusal on the trail, and an administrator's
// reading too, first on the page it produces.
func TestWhoReadsATrail(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/appointments/audit"
	q := "?patientId=" + e.pat.PatientID
	e.mustDo(200, "GET", base+q, e.pat.Token, nil)
	e.mustDo(403, "GET", base+q, e.doc.Token, nil)
	e.mustDo(404, "GET", base+q, e.pat2.Token, nil)
	stranger := ids.New() // a patient without a profile
	e.mustDo(404, "GET", base+q, e.issuer.Token(t, authntest.Claims{UserID: stranger, Roles: []string{authn.RolePatient}}), nil)
	e.mustDo(401, "GET", base+q, "", nil)
	first := e.mustDo(200, "GET", base+q+"&limit=1", e.admin.Token, nil).JSON(t)
	items := first["items"].([]any)
	require.Len(t, items, 1)
	m := items[0].(map[string]any)
	assert.Equal(t, []any{e.admin.ID, "ADMIN", "read", "audit", "allowed"}, []any{m["userId"], m["role"], m["action"], m["resource"], m["outcome"]})
	next := e.mustDo(200, "GET", base+q+"&limit=2&cursor="+first["nextCursor"].(string), e.admin.Token, nil).JSON(t)
	assert.Len(t, next["items"], 2)

	assert.Equal(t, []step{
		{e.admin.ID, "ADMIN", "read", "audit", "", "allowed"},
		{e.admin.ID, "ADMIN", "read", "audit", "", "allowed"},
		{stranger, "PATIENT", "read", "audit", "", "denied"},
		{e.pat2.ID, "PATIENT", "read", "audit", "", "denied"},
		{e.doc.ID, "DOCTOR", "read", "audit", "", "denied"},
	}, e.trail(e.pat), "the patient's own reads are not on it")

	assert.Equal(t, []string{"patientId"}, e.mustDo(400, "GET", base, e.pat.Token, nil).Fields(t))
	assert.Equal(t, []string{"patientId"}, e.mustDo(400, "GET", base+"?patientId=x", e.admin.Token, nil).Fields(t))
	assert.Equal(t, []string{"limit"}, e.mustDo(400, "GET", base+q+"&limit=101", e.pat.Token, nil).Fields(t))
	assert.Equal(t, []string{"cursor"}, e.mustDo(400, "GET", base+q+"&cursor=%25%25", e.pat.Token, nil).Fields(t))
	assert.Equal(t, "no-store", e.mustDo(200, "GET", base+q, e.pat.Token, nil).Header.Get("Cache-Control"))
}

// TestAccessFailsClosedWithoutTheTrail: when no event can be stored, no
// one but the patient reads an appointment, and no change is made.
func TestAccessFailsClosedWithoutTheTrail(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/appointments"
	id := e.mustDo(201, "POST", base, e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)
	_, err := e.db.Exec("DROP TABLE audit_events")
	require.NoError(t, err)

	for _, tok := range []string{e.doc.Token, e.admin.Token} {
		r := e.mustDo(500, "GET", base+"/"+id, tok, nil)
		assert.NotContains(t, string(r.Body), "Checkup")
		r = e.mustDo(500, "GET", base, tok, nil)
		assert.NotContains(t, string(r.Body), id)
	}
	e.mustDo(500, "GET", base+"/"+id, e.pat2.Token, nil) // a refusal that cannot be recorded is no answer either
	assert.Equal(t, "Checkup", e.mustDo(200, "GET", base+"/"+id, e.pat.Token, nil).JSON(t)["reason"], "the patient's own read needs no event")

	e.mustDo(500, "POST", base+"/"+id+"/cancel", e.pat.Token, map[string]any{})
	e.mustDo(500, "POST", base, e.pat.Token, e.booking(15, 11, 0, nil))
	got := e.mustDo(200, "GET", base+"/"+id, e.pat.Token, nil).JSON(t)
	assert.Equal(t, "booked", got["status"], "the change was rolled back with its event")
	assert.Equal(t, 1, e.count("appointments"))
	assert.Equal(t, 1, e.count("outbox"))
}

// A list by staff is on record by itself (who listed, when), on no
// patient's trail, beside the event on the trail of each patient its page
// shows: a look at an agenda leaves a trace even when the page shows
// nobody. A patient's list of their own visits leaves none.
func TestAListByStaffIsOnRecordEvenWhenItShowsNobody(t *testing.T) {
	e := newEnv(t)
	e.mustDo(200, "GET", "/api/v1/appointments?date=2030-01-15", e.doc.Token, nil)
	e.mustDo(200, "GET", "/api/v1/appointments", e.admin.Token, nil)
	e.mustDo(200, "GET", "/api/v1/appointments", e.pat.Token, nil)

	got, err := sqlstore.New(e.db).ListAudit(context.Background(), appointment.AuditQuery{Limit: 100})
	require.NoError(t, err)
	var steps []step
	for _, ev := range got.Items {
		steps = append(steps, step{ev.UserID, ev.Role, string(ev.Action), ev.Resource, ev.ResourceID, string(ev.Outcome)})
	}
	assert.Equal(t, []step{
		{e.admin.ID, "ADMIN", "list", "appointment", "", "allowed"},
		{e.doc.ID, "DOCTOR", "list", "appointment", "", "allowed"},
	}, steps, "newest first")
}

// A doctor books a patient's visit with themselves only; one who tries to
// book the patient with another doctor is refused, and the refusal is on
// the patient's trail.
func TestADoctorsBookingWithAnotherDoctorIsRefusedOnTheTrail(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/v1/appointments", e.other.Token, e.booking(15, 10, 0, map[string]any{"patientId": e.pat.PatientID}))
	require.Equal(t, 403, r.Status, "%s", r.Body)
	assert.Equal(t, []step{{e.other.ID, "DOCTOR", "book", "appointment", "", "denied"}}, e.trail(e.pat))
}
