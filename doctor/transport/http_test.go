package transport_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/transport"
)

func TestCreateAndReadProfile(t *testing.T) {
	e := newEnv(t)
	spec := e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Cardiology", "description": "Hearts"})
	assert.Equal(t, "/api/v1/specializations/"+spec.JSON(t)["id"].(string), spec.Header.Get("Location"))
	specID := spec.JSON(t)["id"].(string)

	r := e.mustDo(201, "POST", "/api/v1/doctors", e.doctor.Token, doctorBody(map[string]any{
		"specializationIds": []string{strings.ToUpper(specID)}, "languages": []string{"EN", "pt_br"},
	}))
	d := r.JSON(t)
	id := d["id"].(string)
	assert.Equal(t, "/api/v1/doctors/"+id, r.Header.Get("Location"))
	assert.Equal(t, `"1"`, r.Header.Get("ETag"))
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.Equal(t, e.doctor.ID, d["userId"], "a doctor's own profile is linked to their account")
	assert.Equal(t, true, d["active"])
	assert.Equal(t, float64(1), d["version"])
	assert.Equal(t, []any{specID}, d["specializationIds"])
	assert.Equal(t, []any{map[string]any{"id": specID, "name": "Cardiology"}}, d["specializations"])
	assert.Equal(t, []any{"en", "pt-BR"}, d["languages"])
	assert.Equal(t, "2026-01-15T12:00:00Z", d["createdAt"])
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-7`, id, "UUID v7")

	me := e.mustDo(200, "GET", "/api/v1/doctors/me", e.doctor.Token, nil).JSON(t)
	assert.Equal(t, id, me["id"])
	got := e.mustDo(200, "GET", "/api/v1/doctors/"+id, e.pat.Token, nil)
	assert.Equal(t, `"1"`, got.Header.Get("ETag"))

	// A DOCTOR has one profile.
	e.mustDo(409, "POST", "/api/v1/doctors", e.doctor.Token, doctorBody(nil))
	// License numbers are unique, whatever their case.
	lic := strings.ToLower(d["licenseNumber"].(string))
	e.mustDo(409, "POST", "/api/v1/doctors", e.admin.Token, doctorBody(map[string]any{"licenseNumber": lic}))
	// ADMIN links a profile to a user; that user has one profile only.
	e.mustDo(409, "POST", "/api/v1/doctors", e.admin.Token, doctorBody(map[string]any{"userId": e.doctor.ID}))
	linked := e.createByAdmin(map[string]any{"userId": e.other.ID, "active": false})
	assert.Equal(t, e.other.ID, linked["userId"])
	assert.Equal(t, false, linked["active"])
	unlinked := e.createByAdmin(nil)
	assert.Nil(t, unlinked["userId"])

	e.mustDo(404, "GET", "/api/v1/doctors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", e.pat.Token, nil)
	e.mustDo(404, "GET", "/api/v1/doctors/me", e.pat.Token, nil)
}

func TestRestrictedFieldsAreRefused(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	path := "/api/v1/doctors/" + d["id"].(string)
	edit := func(extra map[string]any) map[string]any {
		return doctorBody(mergeMaps(map[string]any{"licenseNumber": nil}, extra))
	}

	cases := []struct {
		name  string
		field string
		body  map[string]any
	}{
		{"userId", "userId", edit(map[string]any{"userId": e.other.ID})},
		{"active", "active", edit(map[string]any{"active": false})},
		{"version", "version", edit(map[string]any{"version": 7})},
		{"licenseNumber after creation", "licenseNumber", edit(map[string]any{"licenseNumber": "NEW-1"})},
	}
	for _, c := range cases {
		t.Run("DOCTOR sets "+c.name, func(t *testing.T) {
			r := e.mustDo(400, "PUT", path, e.doctor.Token, c.body, "If-Match", `"1"`)
			assert.Contains(t, r.Fields(t), c.field)
		})
	}
	t.Run("DOCTOR creating sets userId or active", func(t *testing.T) {
		u := e.newUser("DOCTOR")
		r := e.mustDo(400, "POST", "/api/v1/doctors", u.Token, doctorBody(map[string]any{"userId": u.ID, "active": true}))
		assert.ElementsMatch(t, []string{"userId", "active"}, r.Fields(t))
		e.mustDo(404, "GET", "/api/v1/doctors/me", u.Token, nil)
	})
	t.Run("nobody changes version", func(t *testing.T) {
		r := e.mustDo(400, "PUT", path, e.admin.Token, edit(map[string]any{"version": 2}), "If-Match", `"1"`)
		assert.Equal(t, []string{"version"}, r.Fields(t))
	})
	// None of it was applied.
	got := e.mustDo(200, "GET", path, e.admin.Token, nil).JSON(t)
	assert.Equal(t, e.doctor.ID, got["userId"])
	assert.Equal(t, true, got["active"])
	assert.Equal(t, d["licenseNumber"], got["licenseNumber"])
	assert.Equal(t, float64(1), got["version"])

	t.Run("ADMIN sets them", func(t *testing.T) {
		r := e.mustDo(200, "PUT", path, e.admin.Token, doctorBody(map[string]any{"licenseNumber": "NEW-2", "active": false}), "If-Match", `"1"`)
		got := r.JSON(t)
		assert.Equal(t, "NEW-2", got["licenseNumber"])
		assert.Equal(t, false, got["active"])
		assert.Equal(t, e.doctor.ID, got["userId"], "left out, so kept")
		assert.Equal(t, `"2"`, r.Header.Get("ETag"))
	})
	t.Run("DOCTOR edits own editable fields", func(t *testing.T) {
		r := e.mustDo(200, "PUT", path, e.doctor.Token, edit(map[string]any{"bio": "New bio", "timeZone": "Asia/Kolkata"}), "If-Match", `"2"`)
		got := r.JSON(t)
		assert.Equal(t, "New bio", got["bio"])
		assert.Equal(t, "Asia/Kolkata", got["timeZone"])
		assert.Equal(t, "NEW-2", got["licenseNumber"], "kept")
		assert.Equal(t, false, got["active"], "kept")
	})
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestBadInputIsA400NamingTheField(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	path := "/api/v1/doctors/" + d["id"].(string)
	avail := path + "/availability"
	weekly := func(ws ...[3]string) map[string]any {
		var out []map[string]string
		for _, w := range ws {
			out = append(out, map[string]string{"day": w[0], "start": w[1], "end": w[2]})
		}
		return map[string]any{"slotMinutes": 30, "weekly": out}
	}
	cases := []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"overlapping intervals", "PUT", avail, weekly([3]string{"MONDAY", "09:00", "12:00"}, [3]string{"MONDAY", "11:00", "13:00"}), "weekly[1]"},
		{"end before start", "PUT", avail, weekly([3]string{"MONDAY", "12:00", "09:00"}), "weekly[0].end"},
		{"25:00", "PUT", avail, weekly([3]string{"MONDAY", "25:00", "26:00"}), "weekly[0].start"},
		{"unknown weekday", "PUT", avail, weekly([3]string{"MOONDAY", "09:00", "10:00"}), "weekly[0].day"},
		{"slot length 0", "PUT", avail, map[string]any{"slotMinutes": 0}, "slotMinutes"},
		{"slot length 10000", "PUT", avail, map[string]any{"slotMinutes": 10000}, "slotMinutes"},
		{"slot length not a number", "PUT", avail, `{"slotMinutes": "thirty"}`, "slotMinutes"},
		{"negative buffer", "PUT", avail, map[string]any{"bufferMinutes": -1}, "bufferMinutes"},
		{"exception date", "PUT", avail, map[string]any{"exceptions": []map[string]any{{"date": "2027-02-30", "available": false}}}, "exceptions[0].date"},
		{"unknown field in availability", "PUT", avail, `{"slotMinutes": 30, "weeklyHours": []}`, "weeklyHours"},
		{"unknown time zone", "POST", "/api/v1/doctors", doctorBody(map[string]any{"timeZone": "Mars/Olympus"}), "timeZone"},
		{"Local time zone", "POST", "/api/v1/doctors", doctorBody(map[string]any{"timeZone": "Local"}), "timeZone"},
		{"missing name", "POST", "/api/v1/doctors", doctorBody(map[string]any{"lastName": nil}), "lastName"},
		{"bad email", "POST", "/api/v1/doctors", doctorBody(map[string]any{"email": "nope"}), "email"},
		{"bad phone", "POST", "/api/v1/doctors", doctorBody(map[string]any{"phone": "12"}), "phone"},
		{"appointment length", "POST", "/api/v1/doctors", doctorBody(map[string]any{"appointmentMinutes": 10000}), "appointmentMinutes"},
		{"bad specialization UUID", "POST", "/api/v1/doctors", doctorBody(map[string]any{"specializationIds": []string{"x"}}), "specializationIds[0]"},
		{"unknown specialization", "POST", "/api/v1/doctors", doctorBody(map[string]any{"specializationIds": []string{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}}), "specializationIds[0]"},
		{"bad userId", "POST", "/api/v1/doctors", doctorBody(map[string]any{"userId": "me"}), "userId"},
		{"unknown field in a doctor", "POST", "/api/v1/doctors", doctorBody(map[string]any{"nickname": "Ada"}), "nickname"},
		{"wrong type", "POST", "/api/v1/doctors", doctorBody(map[string]any{"languages": "en"}), "languages"},
		{"bad UUID in the path", "GET", "/api/v1/doctors/not-a-uuid", nil, "id"},
		{"bad UUID in availability path", "PUT", "/api/v1/doctors/123/availability", map[string]any{}, "id"},
		{"bad UUID in slots path", "GET", "/api/v1/doctors/123/slots?from=2026-02-01&to=2026-02-02", nil, "id"},
		{"bad specialization UUID in a search", "GET", "/api/v1/doctors?specialization=cardio", nil, "specialization"},
		{"bad date in a search", "GET", "/api/v1/doctors?availableOn=tomorrow", nil, "availableOn"},
		{"bad language in a search", "GET", "/api/v1/doctors?language=!!", nil, "language"},
		{"bad limit", "GET", "/api/v1/doctors?limit=1000", nil, "limit"},
		{"bad cursor", "GET", "/api/v1/doctors?cursor=garbage", nil, "cursor"},
		{"bad specialization cursor", "GET", "/api/v1/specializations?cursor=garbage", nil, "cursor"},
		{"slot range of 400 days", "GET", path + "/slots?from=2026-02-01&to=2027-03-07", nil, "to"},
		{"slot range of 32 days", "GET", path + "/slots?from=2026-02-01&to=2026-03-04", nil, "to"},
		{"from after to", "GET", path + "/slots?from=2026-02-10&to=2026-02-01", nil, "from"},
		{"missing from", "GET", path + "/slots?to=2026-02-01", nil, "from"},
		{"bad to", "GET", path + "/slots?from=2026-02-01&to=2026-02-30", nil, "to"},
		{"empty specialization name", "POST", "/api/v1/specializations", map[string]any{"name": " "}, "name"},
		{"bad specialization id", "PUT", "/api/v1/specializations/zzz", map[string]any{"name": "X"}, "id"},
		{"bad If-Match", "PUT", path, doctorBody(map[string]any{"licenseNumber": nil}), "If-Match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var headers []string
			switch {
			case c.field == "If-Match":
				headers = []string{"If-Match", `"abc"`}
			case c.method == "PUT":
				headers = []string{"If-Match", `"1"`}
			}
			r := e.mustDo(400, c.method, c.path, e.admin.Token, c.body, headers...)
			assert.Contains(t, r.Fields(t), c.field, "%s", r.Body)
			p := r.JSON(t)
			assert.Equal(t, float64(400), p["status"])
			assert.NotEmpty(t, p["requestId"])
			assert.NotContains(t, string(r.Body), "sql")
		})
	}

	t.Run("malformed JSON", func(t *testing.T) {
		for _, body := range []string{`{"slotMinutes": 30`, `{"slotMinutes": 30}{}`, `[1,2]`, `not json`} {
			r := e.mustDo(400, "PUT", avail, e.admin.Token, body, "If-Match", `"1"`)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), body)
		}
		r := e.mustDo(400, "POST", "/api/v1/doctors", e.admin.Token, `{"firstName": }`)
		assert.Contains(t, string(r.Body), "malformed JSON")
	})
	t.Run("an overlong body", func(t *testing.T) {
		big := `{"bio": "` + strings.Repeat("x", transport.MaxBodyBytes) + `"}`
		e.mustDo(413, "POST", "/api/v1/doctors", e.admin.Token, big)
	})

	// Nothing was stored by the refused requests.
	got := e.mustDo(200, "GET", avail, e.admin.Token, nil).JSON(t)
	assert.Equal(t, float64(1), got["version"])
	assert.Empty(t, got["weekly"])
}

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
	r = e.mustDo(200, "GET", avail, e.pat.Token, nil)
	assert.Equal(t, `"1"`, r.Header.Get("ETag"))
	e.mustDo(412, "PUT", avail, e.doctor.Token, a, "If-Match", `"2"`)
	r = e.mustDo(200, "PUT", avail, e.doctor.Token, a, "If-Match", `"1"`)
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))
	e.mustDo(412, "PUT", avail, e.doctor.Token, a, "If-Match", `"1"`)

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
			assert.Equal(t, `"1"`, got.Header.Get("ETag"))
		})
		t.Run(rt.name+" with the ETag read", func(t *testing.T) {
			etag := e.mustDo(200, "GET", rt.path, e.pat.Token, nil).Header.Get("ETag")
			r := e.mustDo(200, "PUT", rt.path, rt.token, rt.body, "If-Match", etag)
			assert.Equal(t, `"2"`, r.Header.Get("ETag"))
		})
	}

	// Who may not edit at all hears so before being asked for a version.
	e.mustDo(403, "PUT", path, e.other.Token, routes[0].body)
	e.mustDo(403, "PUT", avail, e.pat.Token, routes[1].body)
	e.mustDo(403, "PUT", sp, e.doctor.Token, routes[2].body)
	// So does a request for a doctor that does not exist.
	e.mustDo(404, "PUT", "/api/v1/doctors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", e.admin.Token, routes[0].body)
}

func TestConcurrentAvailabilityUpdatesOverHTTP(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	avail := "/api/v1/doctors/" + d["id"].(string) + "/availability"
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			body := map[string]any{"slotMinutes": 15 + 15*i, "weekly": []map[string]string{{"day": "MONDAY", "start": "09:00", "end": "12:00"}}}
			statuses[i] = e.do("PUT", avail, e.doctor.Token, body, "If-Match", `"1"`).Status
		}()
	}
	close(start)
	wg.Wait()
	assert.ElementsMatch(t, []int{200, 412}, statuses)
	got := e.mustDo(200, "GET", avail, e.pat.Token, nil).JSON(t)
	assert.Equal(t, float64(2), got["version"])
}

func TestAvailabilityRoundTrip(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, map[string]any{"appointmentMinutes": 20, "timeZone": "Europe/Berlin"})
	avail := "/api/v1/doctors/" + d["id"].(string) + "/availability"

	initial := e.mustDo(200, "GET", avail, e.pat.Token, nil).JSON(t)
	assert.Equal(t, float64(20), initial["slotMinutes"], "new doctors' slots last an appointment")
	assert.Equal(t, "Europe/Berlin", initial["timeZone"])

	body := `{"slotMinutes": 30, "bufferMinutes": 10,
		"weekly": [{"day": "MONDAY", "start": "13:00", "end": "17:00"}, {"day": "MONDAY", "start": "09:00", "end": "12:00"},
		           {"day": "SUNDAY", "start": "22:00", "end": "24:00"}],
		"exceptions": [{"date": "2027-12-31", "available": true, "intervals": [{"start": "09:00", "end": "11:00"}]},
		               {"date": "2027-12-24", "available": false}]}`
	r := e.mustDo(200, "PUT", avail, e.doctor.Token, body, "If-Match", `"1"`)
	var got map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &got))
	want := map[string]any{
		"doctorId": d["id"], "timeZone": "Europe/Berlin", "slotMinutes": float64(30), "bufferMinutes": float64(10),
		"weekly": []any{
			map[string]any{"day": "MONDAY", "start": "09:00", "end": "12:00"},
			map[string]any{"day": "MONDAY", "start": "13:00", "end": "17:00"},
			map[string]any{"day": "SUNDAY", "start": "22:00", "end": "24:00"},
		},
		"exceptions": []any{
			map[string]any{"date": "2027-12-24", "available": false},
			map[string]any{"date": "2027-12-31", "available": true, "intervals": []any{map[string]any{"start": "09:00", "end": "11:00"}}},
		},
		"version": float64(2), "updatedAt": "2026-01-15T12:00:00Z",
	}
	assert.Equal(t, want, got)
	assert.Equal(t, want, e.mustDo(200, "GET", avail, e.other.Token, nil).JSON(t))
}

func slotStarts(t *testing.T, r response) []string {
	t.Helper()
	var body struct {
		Slots []struct{ Start, End string }
	}
	require.NoError(t, json.Unmarshal(r.Body, &body))
	out := []string{}
	for _, s := range body.Slots {
		out = append(out, s.Start)
	}
	return out
}

func TestSlotsOverHTTP(t *testing.T) {
	e := newEnv(t)
	setup := func(tz string, weekly ...[3]string) string {
		d := e.createByAdmin(map[string]any{"timeZone": tz})
		var ws []map[string]string
		for _, w := range weekly {
			ws = append(ws, map[string]string{"day": w[0], "start": w[1], "end": w[2]})
		}
		e.mustDo(200, "PUT", "/api/v1/doctors/"+d["id"].(string)+"/availability", e.admin.Token,
			map[string]any{"slotMinutes": 60, "weekly": ws}, "If-Match", `"1"`)
		return "/api/v1/doctors/" + d["id"].(string) + "/slots"
	}
	ny := setup("America/New_York", [3]string{"SUNDAY", "01:00", "04:00"})
	berlin := setup("Europe/Berlin", [3]string{"SUNDAY", "01:00", "04:00"})
	kolkata := setup("Asia/Kolkata", [3]string{"MONDAY", "04:00", "06:00"}, [3]string{"TUESDAY", "09:30", "10:30"})

	cases := []struct {
		name, path string
		want       []string
	}{
		{"New York spring forward", ny + "?from=2026-03-08&to=2026-03-08",
			// 01:00 EST, then 03:00 EDT: 02:00 does not exist that night.
			[]string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"}},
		{"New York fall back", ny + "?from=2026-11-01&to=2026-11-01",
			// 01:00 EDT (its first occurrence), 02:00 EST, 03:00 EST.
			[]string{"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}},
		{"Berlin spring forward", berlin + "?from=2026-03-29&to=2026-03-29",
			// 01:00 CET, then 03:00 CEST.
			[]string{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"}},
		{"Berlin fall back", berlin + "?from=2026-10-25&to=2026-10-25",
			// 01:00 CEST, 02:00 CEST (first occurrence), 03:00 CET.
			[]string{"2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"}},
		{"Kolkata seen in UTC", kolkata + "?from=2026-03-02&to=2026-03-03",
			[]string{"2026-03-01T22:30:00Z", "2026-03-01T23:30:00Z", "2026-03-03T04:00:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.mustDo(200, "GET", c.path, e.pat.Token, nil)
			assert.Equal(t, c.want, slotStarts(t, r))
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		})
	}

	t.Run("response shape", func(t *testing.T) {
		r := e.mustDo(200, "GET", kolkata+"?from=2026-03-02&to=2026-03-02", e.pat.Token, nil).JSON(t)
		assert.Equal(t, "Asia/Kolkata", r["timeZone"])
		assert.Equal(t, "2026-03-02", r["from"])
		slots := r["slots"].([]any)
		require.Len(t, slots, 2)
		assert.Equal(t, map[string]any{"start": "2026-03-01T22:30:00Z", "end": "2026-03-01T23:30:00Z"}, slots[0])
	})
	t.Run("the past is not offered", func(t *testing.T) {
		// 03:30 EDT in New York, the night the clocks spring forward: the
		// 03:00 slot has begun, so nothing is left that day.
		e.clock.Set(time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC))
		defer e.clock.Set(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC))
		r := e.mustDo(200, "GET", ny+"?from=2026-03-01&to=2026-03-15", e.pat.Token, nil)
		assert.Equal(t, []string{"2026-03-15T05:00:00Z", "2026-03-15T06:00:00Z", "2026-03-15T07:00:00Z"}, slotStarts(t, r))
		e.clock.Set(time.Date(2026, 3, 8, 6, 59, 0, 0, time.UTC))
		r = e.mustDo(200, "GET", ny+"?from=2026-03-08&to=2026-03-08", e.pat.Token, nil)
		assert.Equal(t, []string{"2026-03-08T07:00:00Z"}, slotStarts(t, r))
	})
	t.Run("31 days is the most", func(t *testing.T) {
		r := e.mustDo(200, "GET", ny+"?from=2026-03-01&to=2026-03-31", e.pat.Token, nil)
		assert.Len(t, slotStarts(t, r), 5*3-1)
	})
	t.Run("a deactivated doctor offers nothing", func(t *testing.T) {
		id := strings.TrimSuffix(strings.TrimPrefix(berlin, "/api/v1/doctors/"), "/slots")
		e.mustDo(204, "DELETE", "/api/v1/doctors/"+id, e.admin.Token, nil)
		e.mustDo(204, "DELETE", "/api/v1/doctors/"+id, e.admin.Token, nil) // again: still 204
		r := e.mustDo(200, "GET", berlin+"?from=2026-03-29&to=2026-03-29", e.pat.Token, nil)
		assert.Empty(t, slotStarts(t, r))
		got := e.mustDo(200, "GET", "/api/v1/doctors/"+id, e.pat.Token, nil).JSON(t)
		assert.Equal(t, false, got["active"])
		assert.Equal(t, float64(2), got["version"])
	})
	t.Run("unknown doctor", func(t *testing.T) {
		e.mustDo(404, "GET", "/api/v1/doctors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/slots?from=2026-03-01&to=2026-03-02", e.pat.Token, nil)
	})
}

func TestSearchOverHTTP(t *testing.T) {
	e := newEnv(t)
	card := e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Cardiology"}).JSON(t)["id"].(string)
	for i := range 7 {
		over := map[string]any{"firstName": fmt.Sprintf("Doc%d", i), "lastName": fmt.Sprintf("Smith%d", i)}
		if i%2 == 0 {
			over["specializationIds"] = []string{card}
			over["languages"] = []string{"fr"}
		}
		d := e.createByAdmin(over)
		if i == 3 {
			e.mustDo(200, "PUT", "/api/v1/doctors/"+d["id"].(string)+"/availability", e.admin.Token,
				map[string]any{"weekly": []map[string]string{{"day": "WEDNESDAY", "start": "09:00", "end": "10:00"}}}, "If-Match", `"1"`)
		}
	}
	e.createByAdmin(map[string]any{"firstName": "Zoe", "lastName": "Jones"})

	names := func(r response) []string {
		var p struct {
			Items []struct {
				FirstName string `json:"firstName"`
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &p))
		out := []string{}
		for _, d := range p.Items {
			out = append(out, d.FirstName)
		}
		return out
	}
	var all []string
	next := "/api/v1/doctors?q=smi&limit=3"
	for pages := 0; next != "" && pages < 5; pages++ {
		r := e.mustDo(200, "GET", next, e.pat.Token, nil).JSON(t)
		for _, it := range r["items"].([]any) {
			all = append(all, it.(map[string]any)["firstName"].(string))
		}
		next = ""
		if c, ok := r["nextCursor"].(string); ok {
			next = "/api/v1/doctors?q=smi&limit=3&cursor=" + c
		}
	}
	assert.Equal(t, []string{"Doc0", "Doc1", "Doc2", "Doc3", "Doc4", "Doc5", "Doc6"}, all)

	last := e.mustDo(200, "GET", "/api/v1/doctors?q=jo", e.pat.Token, nil).JSON(t)
	assert.Nil(t, last["nextCursor"])
	assert.Equal(t, []string{"Doc0", "Doc2", "Doc4", "Doc6"}, names(e.mustDo(200, "GET", "/api/v1/doctors?specialization="+card, e.pat.Token, nil)))
	assert.Equal(t, []string{"Doc0", "Doc2", "Doc4", "Doc6"}, names(e.mustDo(200, "GET", "/api/v1/doctors?language=FR", e.pat.Token, nil)))
	assert.Equal(t, []string{"Doc3"}, names(e.mustDo(200, "GET", "/api/v1/doctors?availableOn=2026-02-04", e.pat.Token, nil)))
	assert.Equal(t, []string{"Zoe"}, names(e.mustDo(200, "GET", "/api/v1/doctors?q=zoe%20jon", e.pat.Token, nil)))
	assert.Empty(t, names(e.mustDo(200, "GET", "/api/v1/doctors?q=%25", e.pat.Token, nil)))
}

func TestSpecializationCatalog(t *testing.T) {
	e := newEnv(t)
	mk := func(name string) string {
		return e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": name}).JSON(t)["id"].(string)
	}
	card := mk("Cardiology")
	r := e.mustDo(409, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "  cardiology "})
	assert.Contains(t, string(r.Body), "already exists")
	neuro := mk("Neurology")
	mk("Allergy")
	e.mustDo(409, "PUT", "/api/v1/specializations/"+neuro, e.admin.Token, map[string]any{"name": "CARDIOLOGY"}, "If-Match", `"1"`)

	page := e.mustDo(200, "GET", "/api/v1/specializations?limit=2", e.doctor.Token, nil).JSON(t)
	items := page["items"].([]any)
	require.Len(t, items, 2)
	assert.Equal(t, "Allergy", items[0].(map[string]any)["name"])
	page = e.mustDo(200, "GET", "/api/v1/specializations?limit=2&cursor="+page["nextCursor"].(string), e.doctor.Token, nil).JSON(t)
	assert.Equal(t, "Neurology", page["items"].([]any)[0].(map[string]any)["name"])
	assert.Nil(t, page["nextCursor"])

	// A specialization assigned to a doctor cannot go.
	d := e.createByAdmin(map[string]any{"specializationIds": []string{card}})
	r = e.mustDo(409, "DELETE", "/api/v1/specializations/"+card, e.admin.Token, nil)
	assert.Contains(t, string(r.Body), "assigned")
	// A renamed specialization shows under its new name on doctors.
	e.mustDo(200, "PUT", "/api/v1/specializations/"+card, e.admin.Token, map[string]any{"name": "Cardiac Care", "description": "Hearts"}, "If-Match", `"1"`)
	got := e.mustDo(200, "GET", "/api/v1/doctors/"+d["id"].(string), e.pat.Token, nil).JSON(t)
	assert.Equal(t, "Cardiac Care", got["specializations"].([]any)[0].(map[string]any)["name"])
	// Once removed from the doctor, it can go.
	e.mustDo(200, "PUT", "/api/v1/doctors/"+d["id"].(string), e.admin.Token, doctorBody(map[string]any{"licenseNumber": nil, "specializationIds": []string{}}), "If-Match", `"1"`)
	e.mustDo(204, "DELETE", "/api/v1/specializations/"+card, e.admin.Token, nil)
	e.mustDo(404, "GET", "/api/v1/specializations/"+card, e.admin.Token, nil)
	e.mustDo(404, "DELETE", "/api/v1/specializations/"+card, e.admin.Token, nil)
}

func TestUnknownPathsAndMethods(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo(404, "GET", "/api/v1/nothing", e.admin.Token, nil)
	assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	e.mustDo(405, "PATCH", "/api/v1/doctors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", e.admin.Token, nil)
}
