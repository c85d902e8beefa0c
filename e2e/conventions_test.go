package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// The same malformed request gets the same problem from every service: one
// implementation of each HTTP convention (docs/architecture.md, "HTTP
// conventions"), seen from outside through the gateway.
func TestConventionsAreTheSameInEveryService(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	s := startSystem(t)
	c := &client{t: t, base: s.gateway.url(""), hc: &http.Client{Timeout: 15 * time.Second}}
	admin := login(t, c, adminEmail, adminPassword)
	const someID = "0190a5c4-7b1e-7cc3-8f00-000000000001"
	// A real patient, so that patient-scoped lists answer on their input
	// rather than on the patient's absence.
	register(t, c, "carol@e2e.example", "Carol-e2e-Passw0rd!", "Carol Conventions")
	pid := createPatient(t, c, login(t, c, "carol@e2e.example", "Carol-e2e-Passw0rd!"), "Carol", "Conventions")

	lists := map[string]string{
		"auth users":      "/api/v1/auth/users",
		"doctors":         "/api/v1/doctors",
		"specializations": "/api/v1/specializations",
		"patients":        "/api/v1/patients",
		"history":         "/api/v1/patients/" + pid + "/history",
		"audit":           "/api/v1/patients/" + pid + "/audit",
	}
	items := map[string]string{
		"auth user":      "/api/v1/auth/users/",
		"doctor":         "/api/v1/doctors/",
		"specialization": "/api/v1/specializations/",
		"patient":        "/api/v1/patients/",
	}
	updates := map[string]struct{ method, path string }{
		"auth user":      {http.MethodPatch, "/api/v1/auth/users/" + someID},
		"doctor":         {http.MethodPut, "/api/v1/doctors/" + someID},
		"specialization": {http.MethodPut, "/api/v1/specializations/" + someID},
		"patient":        {http.MethodPut, "/api/v1/patients/" + someID},
	}

	same := func(what string, got map[string]response) {
		t.Helper()
		var want map[string]any
		var first string
		for name, r := range got {
			p := problemShape(t, r)
			if want == nil {
				want, first = p, name
				continue
			}
			a, _ := json.Marshal(want)
			b, _ := json.Marshal(p)
			if string(a) != string(b) {
				t.Errorf("%s: %s answers %s, %s answers %s", what, first, a, name, b)
			}
		}
		if want == nil || want["status"] == float64(500) {
			t.Errorf("%s: no problem or a 500: %v", what, want)
		}
	}

	for _, q := range []string{"?limit=abc", "?limit=0", "?limit=101", "?cursor=!!not-ours!!", "?cursor=e30"} {
		got := map[string]response{}
		for name, path := range lists {
			got[name] = c.do(http.MethodGet, path+q, admin, nil)
		}
		same("list "+q, got)
	}
	for _, id := range []string{"not-a-uuid", "0190a5c47b1e7cc38f00000000000001", "%7B" + someID + "%7D"} {
		got := map[string]response{}
		for name, path := range items {
			got[name] = c.do(http.MethodGet, path+id, admin, nil)
		}
		same("id "+id, got)
	}
	// A malformed tag is refused on reading; a weak one is answered after
	// the resource is found and the caller's rights checked (docs/adr/0003),
	// so on an id that does not exist each service answers its own 404.
	for _, tag := range []string{`"abc"`, `"0"`, `"1", "2"`} {
		got := map[string]response{}
		for name, u := range updates {
			got[name] = c.do(u.method, u.path, admin, map[string]any{}, "If-Match", tag)
		}
		same("If-Match "+tag, got)
	}
	for name, u := range updates {
		r := c.do(u.method, u.path, admin, map[string]any{}, "If-Match", `W/"1"`)
		if r.Status == http.StatusPreconditionFailed || r.Status >= 500 {
			t.Errorf("%s: a weak tag on a record that does not exist: status %d: %s", name, r.Status, r.Body)
		}
	}
	profile := c.do(http.MethodGet, "/api/v1/patients/"+pid, admin, nil)
	expect(t, profile, http.StatusOK, "the patient's profile")
	weak := c.do(http.MethodPut, "/api/v1/patients/"+pid, admin, profile.JSON(t), "If-Match", `W/"1"`)
	expect(t, weak, http.StatusPreconditionFailed, "a weak tag never matches")
}

// problemShape is a problem document without what differs per request.
func problemShape(t *testing.T, r response) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("not a problem (%d, %s): %s", r.Status, ct, r.Body)
	}
	p := r.JSON(t)
	delete(p, "instance")
	delete(p, "requestId")
	return p
}
