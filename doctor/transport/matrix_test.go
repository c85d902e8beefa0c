package transport_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWhoMayDoWhat checks every cell of the access matrix over HTTP.
func TestWhoMayDoWhat(t *testing.T) {
	e := newEnv(t)
	spec := e.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/specializations", e.admin.Token,
		map[string]any{"name": "Cardiology"}).JSON(t)
	specPath := "/api/v1/specializations/" + spec["id"].(string)
	own := e.createOwn(e.doctor, nil)
	ownPath := "/api/v1/doctors/" + own["id"].(string)
	e.createOwn(e.other, map[string]any{"firstName": "Grace", "lastName": "Hopper"})

	const (
		none    = "none"
		bad     = "bad token"
		patient = "PATIENT"
		doctor  = "DOCTOR (own)"
		other   = "DOCTOR (another's)"
		admin   = "ADMIN"
	)
	// Tokens by caller kind; "doctor" acts on its own profile, "other" on
	// the same profile, which is not theirs.
	token := map[string]string{
		none: "", bad: e.doctor.Token + "x", patient: e.pat.Token,
		doctor: e.doctor.Token, other: e.other.Token, admin: e.admin.Token,
	}
	callers := []string{none, bad, patient, doctor, other, admin}

	slotsPath := ownPath + "/slots?from=2026-02-02&to=2026-02-08"
	availability := map[string]any{"slotMinutes": 30, "weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}}
	profileEdit := doctorBody(map[string]any{"licenseNumber": nil, "bio": "Edited."})

	type cell = map[string]int
	reads := cell{none: 401, bad: 401, patient: 200, doctor: 200, other: 200, admin: 200}
	cases := []struct {
		name   string
		method string
		path   func(caller string) string
		body   func(caller string) any
		want   cell
	}{
		{"read a profile", "GET", fixed(ownPath), nil, reads},
		{"search profiles", "GET", fixed("/api/v1/doctors?q=ada"), nil, reads},
		{"read availability", "GET", fixed(ownPath + "/availability"), nil, reads},
		{"read slots", "GET", fixed(slotsPath), nil, reads},
		{"list specializations", "GET", fixed("/api/v1/specializations"), nil, reads},
		{"read a specialization", "GET", fixed(specPath), nil, reads},
		{"read one's own profile", "GET", fixed("/api/v1/doctors/me"), nil,
			cell{none: 401, bad: 401, patient: 404, doctor: 200, other: 200, admin: 404}},
		{"edit a profile", "PUT", fixed(ownPath), always(profileEdit),
			cell{none: 401, bad: 401, patient: 403, doctor: 200, other: 403, admin: 200}},
		{"edit availability", "PUT", fixed(ownPath + "/availability"), always(availability),
			cell{none: 401, bad: 401, patient: 403, doctor: 200, other: 403, admin: 200}},
		{"create a profile", "POST", fixed("/api/v1/doctors"),
			func(caller string) any { return doctorBody(nil) },
			// The DOCTOR callers have a profile already: a second one is a conflict.
			cell{none: 401, bad: 401, patient: 403, doctor: 409, other: 409, admin: 201}},
		{"deactivate a profile", "DELETE",
			func(caller string) string {
				if caller == admin {
					return "/api/v1/doctors/" + e.createByAdmin(nil)["id"].(string)
				}
				return ownPath
			}, nil,
			cell{none: 401, bad: 401, patient: 403, doctor: 403, other: 403, admin: 204}},
		{"create a specialization", "POST", fixed("/api/v1/specializations"),
			func(caller string) any { return map[string]any{"name": "Spec " + caller} },
			cell{none: 401, bad: 401, patient: 403, doctor: 403, other: 403, admin: 201}},
		{"rename a specialization", "PUT", fixed(specPath), always(map[string]any{"name": "Cardiac Care"}),
			cell{none: 401, bad: 401, patient: 403, doctor: 403, other: 403, admin: 200}},
		{"delete a specialization", "DELETE",
			func(caller string) string {
				if caller == admin {
					s := e.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/specializations", e.admin.Token,
						map[string]any{"name": "Disposable"}).JSON(t)
					return "/api/v1/specializations/" + s["id"].(string)
				}
				return specPath
			}, nil,
			cell{none: 401, bad: 401, patient: 403, doctor: 403, other: 403, admin: 204}},
	}
	for _, c := range cases {
		for _, caller := range callers {
			t.Run(c.name+"/"+caller, func(t *testing.T) {
				var body any
				if c.body != nil {
					body = c.body(caller)
				}
				path := c.path(caller)
				var headers []string
				if c.method == "PUT" {
					// Updates carry the version just read, so that only
					// the caller's rights decide the answer.
					headers = []string{"If-Match", e.etag(path)}
				}
				r := e.do(c.method, path, token[caller], body, headers...)
				require.Equal(t, c.want[caller], r.Status, "%s", r.Body)
				if r.Status >= 400 {
					assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
				}
				if r.Status == 401 {
					assert.NotEmpty(t, r.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}

	// The DOCTOR's refused attempts changed nothing; the specialization kept
	// its place while DOCTORs tried to delete it.
	got := e.mustDo(200, "GET", specPath, e.pat.Token, nil).JSON(t)
	assert.Equal(t, "Cardiac Care", got["name"])
}

func fixed(p string) func(string) string { return func(string) string { return p } }

func always(v any) func(string) any { return func(string) any { return v } }
