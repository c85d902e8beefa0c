package schematest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/events/schematest"
)

const (
	u1 = "01a23135-86a7-7df4-81ee-a1029042900c"
	u2 = "01a23135-868e-7714-ab57-a8fee5205deb"
)

// samples holds one valid event of every documented type.
func samples() map[string]any {
	appt := func(extra map[string]any) map[string]any {
		m := map[string]any{"appointmentId": u1, "patientId": u2, "patientUserId": u1, "doctorId": u2, "doctorUserId": u1,
			"doctorName": "Dr Ada Lovelace", "timeZone": "Europe/Paris", "start": "2027-03-15T13:00:00Z", "end": "2027-03-15T13:30:00Z",
			"status": "booked", "version": 1}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	return map[string]any{
		"auth.user_registered":          map[string]any{"userId": u1, "email": "ada@example.org", "role": "PATIENT", "language": "en"},
		"auth.password_reset_requested": map[string]any{"userId": u1, "email": "ada@example.org", "language": "fr-CA", "sealedLink": strings.Repeat("Ab_-", 20), "expiresAt": "2027-03-15T13:30:00Z"},
		"appointment.booked":            appt(nil),
		"appointment.rescheduled":       appt(map[string]any{"previousStart": "2027-03-14T13:00:00Z", "previousEnd": "2027-03-14T13:30:00Z"}),
		"appointment.cancelled":         appt(map[string]any{"status": "cancelled", "cancellationReason": "patient-request"}),
		"appointment.status_changed":    appt(map[string]any{"status": "fulfilled", "previousStatus": "booked"}),
		"appointment.slot_freed":        map[string]any{"doctorId": u1, "start": "2027-03-15T13:00:00Z", "end": "2027-03-15T13:30:00Z", "offeredToPatientId": u2, "offeredToPatientUserId": u1},
		"records.encounter_signed":      map[string]any{"encounterId": u1, "patientId": u2, "doctorUserId": u1, "appointmentId": nil, "signedAt": "2027-03-15T13:40:00Z"},
		"patient.deactivated":           map[string]any{"patientId": u2, "version": 4, "changedBy": u1},
		"patient.reactivated":           map[string]any{"patientId": u2, "version": 5, "changedBy": u1},
	}
}

func TestEveryTypeHasASchemaItsEventsFollow(t *testing.T) {
	dir := schematest.Dir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.v1.json"))
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".v1.json"); name != "envelope" {
			documented[name] = true
		}
	}
	for typ, data := range samples() {
		assert.True(t, documented[typ], "docs/events/%s.v1.json", typ)
		ev, err := events.New(typ, 1, u1, data, time.Now())
		require.NoError(t, err)
		ev.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		assert.NoError(t, schematest.Check(dir, ev), typ)
	}
	assert.Len(t, documented, len(samples()), "every schema has a sample here")
}

func TestSchemasRefuseWhatTheContractForbids(t *testing.T) {
	dir := schematest.Dir(t)
	bad := map[string]map[string]any{
		"clinical text":         {"reason": "chest pain"},
		"free-text cancel":      {"cancellationReason": "felt better"},
		"missing doctor's zone": {"timeZone": nil},
	}
	for name, change := range bad {
		data := samples()["appointment.cancelled"].(map[string]any)
		for k, v := range change {
			if v == nil {
				delete(data, k)
			} else {
				data[k] = v
			}
		}
		ev, err := events.New("appointment.cancelled", 1, u1, data, time.Now())
		require.NoError(t, err)
		assert.Error(t, schematest.Check(dir, ev), name)
	}
	ev, err := events.New("auth.user_registered", 1, u1, map[string]any{"userId": u1, "email": "ada@example.org", "role": "ROOT", "language": "en"}, time.Now())
	require.NoError(t, err)
	assert.Error(t, schematest.Check(dir, ev), "unknown role")
	signed := samples()["records.encounter_signed"].(map[string]any)
	signed["assessment"] = "tension-type headache"
	ev, err = events.New("records.encounter_signed", 1, u1, signed, time.Now())
	require.NoError(t, err)
	assert.Error(t, schematest.Check(dir, ev), "a signed encounter carries no clinical content")
	deactivated := samples()["patient.deactivated"].(map[string]any)
	deactivated["lastName"] = "Lovelace"
	ev, err = events.New("patient.deactivated", 1, u2, deactivated, time.Now())
	require.NoError(t, err)
	assert.Error(t, schematest.Check(dir, ev), "a deactivation carries ids only")
	_, err = os.Stat(filepath.Join(dir, "README.md"))
	assert.NoError(t, err, "docs/events/README.md describes the contracts")
}
