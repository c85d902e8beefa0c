package transport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/doctor/service"
)

func TestPreconditions(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	path := "/api/v1/doctors/" + d["id"].(string)
	body := doctorBody(map[string]any{"licenseNumber": nil, "bio": "v2"})

	e.mustDo(412, "PUT", path, e.doctor.Token, body, "If-Match", `"7"`)
	r := e.mustDo(200, "PUT", path, e.doctor.Token, body, "If-Match", `"1"`)
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))
	r = e.mustDo(412, "PUT", path, e.doctor.Token, body, "If-Match", `"1"`)
	assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	// If-Match compares strongly: a weak tag never matches.
	e.mustDo(412, "PUT", path, e.doctor.Token, body, "If-Match", `W/"2"`)
	e.mustDo(200, "PUT", path, e.doctor.Token, body, "If-Match", `"2"`)
	e.mustDo(200, "PUT", path, e.doctor.Token, body, "If-Match", `3`)

	avail := path + "/availability"
	a := map[string]any{"slotMinutes": 20, "weekly": []map[string]string{{"day": "FRIDAY", "start": "08:00", "end": "10:00"}}}
	// An availability's tag carries the zone it is read in beside the version.
	zone := service.ZoneTag("America/New_York")
	r = e.mustDo(200, "GET", avail, e.pat.Token, nil)
	assert.Equal(t, `"1-`+zone+`"`, r.Header.Get("ETag"))
	e.mustDo(412, "PUT", avail, e.doctor.Token, a, "If-Match", `"2-`+zone+`"`)
	e.mustDo(412, "PUT", avail, e.doctor.Token, a, "If-Match", `W/"1-`+zone+`"`)
	e.mustDo(412, "PUT", avail, e.doctor.Token, a, "If-Match", `"1"`)
	r = e.mustDo(200, "PUT", avail, e.doctor.Token, a, "If-Match", `"1-`+zone+`"`)
	assert.Equal(t, `"2-`+zone+`"`, r.Header.Get("ETag"))
	e.mustDo(412, "PUT", avail, e.doctor.Token, a, "If-Match", `"1-`+zone+`"`)
	e.mustDo(400, "PUT", avail, e.doctor.Token, a, "If-Match", `"2-zone"`)

	spec := e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Neurology"}).JSON(t)
	sp := "/api/v1/specializations/" + spec["id"].(string)
	e.mustDo(412, "PUT", sp, e.admin.Token, map[string]any{"name": "Neuro"}, "If-Match", `"2"`)
	r = e.mustDo(200, "PUT", sp, e.admin.Token, map[string]any{"name": "Neuro"}, "If-Match", `"1"`)
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))
	e.mustDo(412, "PUT", sp, e.admin.Token, map[string]any{"name": "Neurology"}, "If-Match", `"1"`)
}

// TestUpdatesRequireIfMatch checks that every PUT without a version, or
// with "*" (which would match any), is refused with 428 and changes nothing.
func TestUpdatesRequireIfMatch(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	path := "/api/v1/doctors/" + d["id"].(string)
	avail := path + "/availability"
	sp := "/api/v1/specializations/" + e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token,
		map[string]any{"name": "Neurology"}).JSON(t)["id"].(string)

	routes := []struct {
		name, path, token string
		body              any
	}{
		{"profile", path, e.doctor.Token, doctorBody(map[string]any{"licenseNumber": nil, "bio": "v2"})},
		{"availability", avail, e.doctor.Token, map[string]any{"slotMinutes": 20, "weekly": []map[string]string{{"day": "FRIDAY", "start": "08:00", "end": "10:00"}}}},
		{"specialization", sp, e.admin.Token, map[string]any{"name": "Neuro"}},
	}
	for _, rt := range routes {
		for name, headers := range map[string][]string{"without If-Match": nil, "with If-Match *": {"If-Match", "*"}} {
			t.Run(rt.name+" "+name, func(t *testing.T) {
				r := e.mustDo(428, "PUT", rt.path, rt.token, rt.body, headers...)
				assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
				p := r.JSON(t)
				assert.Equal(t, float64(428), p["status"])
				assert.Equal(t, "Precondition Required", p["title"])
				assert.Contains(t, p["detail"], "If-Match")
				assert.NotEmpty(t, p["requestId"])
			})
		}
		t.Run(rt.name+" unchanged", func(t *testing.T) {
			got := e.mustDo(200, "GET", rt.path, e.pat.Token, nil)
			assert.Regexp(t, `^"1(-[0-9a-f]+)?"$`, got.Header.Get("ETag"))
		})
		t.Run(rt.name+" with the ETag read", func(t *testing.T) {
			etag := e.mustDo(200, "GET", rt.path, e.pat.Token, nil).Header.Get("ETag")
			r := e.mustDo(200, "PUT", rt.path, rt.token, rt.body, "If-Match", etag)
			assert.Regexp(t, `^"2(-[0-9a-f]+)?"$`, r.Header.Get("ETag"))
		})
	}

	// Who may not edit at all hears so before being asked for a version.
	e.mustDo(403, "PUT", path, e.other.Token, routes[0].body)
	e.mustDo(403, "PUT", avail, e.pat.Token, routes[1].body)
	e.mustDo(403, "PUT", sp, e.doctor.Token, routes[2].body)
	// So does a request for a doctor that does not exist.
	e.mustDo(404, "PUT", "/api/v1/doctors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", e.admin.Token, routes[0].body)
	// And one with a weak tag, which never matches: rights come first.
	weak := []string{"If-Match", `W/"1"`}
	e.mustDo(403, "PUT", path, e.pat.Token, routes[0].body, weak...)
	e.mustDo(403, "PUT", path, e.other.Token, routes[0].body, weak...)
	e.mustDo(403, "PUT", avail, e.other.Token, routes[1].body, weak...)
	e.mustDo(403, "PUT", sp, e.doctor.Token, routes[2].body, weak...)
	e.mustDo(404, "PUT", "/api/v1/doctors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", e.admin.Token, routes[0].body, weak...)
	r := e.mustDo(412, "PUT", path, e.doctor.Token, routes[0].body, weak...)
	assert.Contains(t, r.JSON(t)["detail"], "weak")
}

// Slots are read in the doctor's zone, which the profile changes without
// touching the availability's version: hours written after reading them
// in another zone are refused (412), as a stale version is.
func TestAvailabilityReadInAnotherZoneIsStale(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, map[string]any{"timeZone": "Europe/Berlin"})
	path := "/api/v1/doctors/" + d["id"].(string)
	avail := path + "/availability"
	read := e.etag(avail)

	e.mustDo(200, "PUT", path, e.doctor.Token, doctorBody(map[string]any{"licenseNumber": nil, "timeZone": "Asia/Tokyo"}), "If-Match", e.etag(path))
	a := map[string]any{"weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}}
	e.mustDo(412, "PUT", avail, e.doctor.Token, a, "If-Match", read)
	fresh := e.etag(avail)
	assert.NotEqual(t, read, fresh)
	got := e.mustDo(200, "PUT", avail, e.doctor.Token, a, "If-Match", fresh).JSON(t)
	assert.Equal(t, "Asia/Tokyo", got["timeZone"])
}
