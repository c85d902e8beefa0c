package transport_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/service"
)

// TestActiveAppointmentsCap: a patient holds at most
// DefaultMaxActivePerPatient active appointments, whoever booked them; an
// administrator may book past the cap.
func TestActiveAppointmentsCap(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range service.DefaultMaxActivePerPatient {
		r := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 9+i/2, 30*(i%2), nil))
		ids = append(ids, r.JSON(t)["id"].(string))
	}
	r := e.mustDo(409, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 9, 0, nil))
	assert.Contains(t, r.JSON(t)["detail"], "at most 10 upcoming appointments")
	e.mustDo(409, "POST", "/api/v1/appointments", e.doc.Token, e.booking(16, 9, 0, map[string]any{"patientId": e.pat.PatientID}))
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat2.Token, e.booking(16, 9, 0, nil))
	e.mustDo(201, "POST", "/api/v1/appointments", e.admin.Token, e.booking(16, 9, 30, map[string]any{"patientId": e.pat.PatientID}))
	assert.Equal(t, service.DefaultMaxActivePerPatient+2, e.count("appointments"))

	// The administrator's booking counts: one cancellation leaves the
	// patient at the cap, two bring them under it.
	e.mustDo(200, "POST", "/api/v1/appointments/"+ids[0]+"/cancel", e.pat.Token, map[string]any{})
	e.mustDo(409, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, nil))
	e.mustDo(200, "POST", "/api/v1/appointments/"+ids[1]+"/cancel", e.pat.Token, map[string]any{})
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, nil))

	// Appointments that have ended no longer count.
	e.clock.Set(time.Date(2030, 1, 15, 17, 0, 0, 0, time.UTC))
	e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(17, 9, 0, nil))
}

// TestIdempotencyKeyExpires: a key older than its retention (24 hours) is
// forgotten at once, before the purge removes it.
func TestIdempotencyKeyExpires(t *testing.T) {
	e := newEnv(t)
	key := []string{"Idempotency-Key", "book-1"}
	first := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, nil), key...).JSON(t)

	e.clock.Set(time.Date(2030, 1, 15, 8, 0, 0, 0, time.UTC)) // 24 hours on: still kept
	e.mustDo(422, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 11, 0, nil), key...)
	r := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 10, 0, nil), key...)
	assert.Equal(t, first["id"], r.JSON(t)["id"])

	e.clock.Set(time.Date(2030, 1, 15, 8, 0, 1, 0, time.UTC)) // past it: a new booking
	r = e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 11, 0, nil), key...)
	assert.Empty(t, r.Header.Get("Idempotent-Replayed"))
	second := r.JSON(t)["id"]
	require.NotEqual(t, first["id"], second)
	r = e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 11, 0, nil), key...)
	assert.Equal(t, second, r.JSON(t)["id"], "the key now answers the new booking")
	assert.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, 1, e.count("idempotency_keys"))
}
