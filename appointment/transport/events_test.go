package transport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/events/schematest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestEveryEventFollowsItsSchema drives every change that writes an event
// and checks each outbox envelope against docs/events, on every database.
func TestEveryEventFollowsItsSchema(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnvOn(t, db)
		id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)
		e.mustDo(201, "POST", "/api/v1/appointments/waitlist", e.pat2.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
		s, en := slot(15, 11, 0)
		e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/reschedule", e.pat.Token, map[string]any{"start": s, "end": en})
		e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/status", e.doc.Token, map[string]any{"status": "arrived"})
		e.clock.Set(time.Date(2030, 1, 15, 11, 10, 0, 0, time.UTC))
		e.mustDo(200, "POST", "/api/v1/appointments/"+id+"/status", e.doc.Token, map[string]any{"status": "fulfilled"})
		id2 := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(20, 10, 0, nil)).JSON(t)["id"].(string)
		e.mustDo(200, "POST", "/api/v1/appointments/"+id2+"/cancel", e.pat.Token,
			map[string]any{"cancellationReason": "other", "cancellationNote": "a private note"})

		// A patient and a doctor without accounts, the doctor with the
		// longest names the doctor service takes: booked by an administrator.
		e.dir.mu.Lock()
		noAccountDoctor, noAccountPatient := ids.New(), ids.New()
		e.dir.doctors[noAccountDoctor] = service.Doctor{ID: noAccountDoctor, Name: strings.Repeat("é", 100) + " " + strings.Repeat("ü", 100),
			TimeZone: "Europe/Berlin", Active: true}
		e.dir.patients[noAccountPatient] = service.Patient{ID: noAccountPatient, Active: true}
		e.dir.mu.Unlock()
		e.mustDo(201, "POST", "/api/v1/appointments", e.admin.Token,
			e.booking(21, 10, 0, map[string]any{"doctorId": noAccountDoctor, "patientId": noAccountPatient}))

		seen := map[string]int{}
		for _, ev := range outboxtest.Events(t, db, "") {
			seen[ev.Type]++
			schematest.Validate(t, ev)
		}
		for _, raw := range outboxtest.Envelopes(t, db, "") {
			assert.NotContains(t, raw, "Checkup")
			assert.NotContains(t, raw, "a private note")
		}
		assert.Equal(t, map[string]int{"appointment.booked": 3, "appointment.rescheduled": 1, "appointment.slot_freed": 1,
			"appointment.status_changed": 2, "appointment.cancelled": 1}, seen)
	})
}
