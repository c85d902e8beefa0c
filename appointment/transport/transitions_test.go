package transport_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryTransitionByEveryRole walks every (from, to, role): a status
// change through /status, a cancellation through /cancel, before the
// appointment with the patient's notice still open and once it has begun.
// Each success writes its one event; each refusal changes nothing.
func TestEveryTransitionByEveryRole(t *testing.T) {
	e := newEnv(t)
	statuses := []string{"booked", "arrived", "checked-in", "fulfilled", "cancelled", "noshow", "entered-in-error"}
	// The FHIR R4 moves the service allows, written out apart from the code.
	legal := map[string][]string{
		"booked":     {"arrived", "checked-in", "fulfilled", "cancelled", "noshow", "entered-in-error"},
		"arrived":    {"checked-in", "fulfilled", "cancelled", "entered-in-error"},
		"checked-in": {"fulfilled", "entered-in-error"},
		"fulfilled":  {"entered-in-error"},
		"cancelled":  {"entered-in-error"},
		"noshow":     {"entered-in-error"},
	}
	isLegal := func(from, to string) bool {
		for _, s := range legal[from] {
			if s == to {
				return true
			}
		}
		return false
	}
	type role struct {
		name  string
		token string
		staff bool
		own   bool
	}
	roles := []role{
		{"its patient", e.pat.Token, false, true},
		{"its doctor", e.doc.Token, true, true},
		{"an administrator", e.admin.Token, true, true},
		{"another patient", e.pat2.Token, false, false},
		{"another doctor", e.other.Token, true, false},
	}
	expect := func(from, to string, r role, begun bool) int {
		switch {
		case !r.own:
			return 404
		case !isLegal(from, to):
			return 409
		case to == "cancelled":
			if !r.staff && begun {
				return 409 // within the notice
			}
			return 200
		case !r.staff:
			return 409 // a patient changes no status
		case (to == "noshow" || to == "fulfilled") && !begun:
			return 409
		}
		return 200
	}

	// One appointment per starting status, on the 16th, 2 days ahead.
	ids := map[string]string{}
	for i, from := range statuses {
		ids[from] = e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(16, 9+i, 0, nil)).JSON(t)["id"].(string)
	}
	statusOf := func(id string) (st string) {
		require.NoError(t, e.db.QueryRow("SELECT status FROM appointments WHERE id = ?", id).Scan(&st))
		return st
	}
	for _, begun := range []bool{false, true} {
		if begun {
			e.clock.Set(time.Date(2030, 1, 16, 16, 10, 0, 0, time.UTC))
		}
		for _, from := range statuses {
			for _, to := range statuses {
				for _, r := range roles {
					name := fmt.Sprintf("begun=%v %s->%s by %s", begun, from, to, r.name)
					id := ids[from]
					_, err := e.db.Exec("UPDATE appointments SET status = ?, version = 1 WHERE id = ?", from, id)
					require.NoError(t, err)
					events := e.count("outbox")
					var res response
					if to == "cancelled" {
						res = e.do("POST", "/api/v1/appointments/"+id+"/cancel", r.token, map[string]any{"cancellationReason": "other"}, "If-Match", `"1"`)
					} else {
						res = e.do("POST", "/api/v1/appointments/"+id+"/status", r.token, map[string]any{"status": to}, "If-Match", `"1"`)
					}
					want := expect(from, to, r, begun)
					if !assert.Equal(t, want, res.Status, "%s: %s", name, res.Body) {
						continue
					}
					if want == 200 {
						assert.Equal(t, to, statusOf(id), name)
						assert.Equal(t, events+1, e.count("outbox"), "%s: one event", name)
					} else {
						assert.Equal(t, from, statusOf(id), name)
						assert.Equal(t, events, e.count("outbox"), "%s: no event", name)
					}
				}
			}
		}
	}
}
