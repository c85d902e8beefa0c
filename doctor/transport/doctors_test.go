package transport_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/transport"
	"github.com/medisync/medisync/shared/openapitest"
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

// TestProfileRoundTrip checks that a profile read and written back whole,
// with one field changed, is accepted, and that what the caller may not
// change is refused by name only when it is changed.
func TestProfileRoundTrip(t *testing.T) {
	e := newEnv(t)
	card := e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Cardiology"}).JSON(t)["id"].(string)
	neuro := e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Neurology"}).JSON(t)["id"].(string)
	d := e.createOwn(e.doctor, map[string]any{"specializationIds": []string{card}})
	path := "/api/v1/doctors/" + d["id"].(string)
	read := func() (map[string]any, string) {
		r := e.mustDo(200, "GET", path, e.doctor.Token, nil)
		return r.JSON(t), r.Header.Get("ETag")
	}

	body, etag := read()
	body["bio"] = "Edited."
	got := e.mustDo(200, "PUT", path, e.doctor.Token, body, "If-Match", etag).JSON(t)
	assert.Equal(t, "Edited.", got["bio"])
	assert.Equal(t, d["licenseNumber"], got["licenseNumber"])
	assert.Equal(t, float64(2), got["version"])

	t.Run("the specializations shown are not a second list to keep in step", func(t *testing.T) {
		body, etag := read()
		body["specializationIds"] = []string{neuro} // specializations still names Cardiology
		got := e.mustDo(200, "PUT", path, e.doctor.Token, body, "If-Match", etag).JSON(t)
		assert.Equal(t, []any{map[string]any{"id": neuro, "name": "Neurology"}}, got["specializations"])
	})
	for _, c := range []struct {
		field string
		value any
	}{
		{"licenseNumber", "OTHER-1"},
		{"userId", e.other.ID},
		{"active", false},
		{"id", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
		{"version", 99},
		{"createdAt", "2020-01-01T00:00:00Z"},
		{"updatedAt", "2020-01-01T00:00:00Z"},
	} {
		t.Run("DOCTOR changes "+c.field, func(t *testing.T) {
			body, etag := read()
			body[c.field] = c.value
			r := e.mustDo(400, "PUT", path, e.doctor.Token, body, "If-Match", etag)
			assert.Equal(t, []string{c.field}, r.Fields(t))
		})
	}
	t.Run("ADMIN changes licenseNumber and active", func(t *testing.T) {
		body, etag := read()
		body["licenseNumber"], body["active"] = "OTHER-2", false
		got := e.mustDo(200, "PUT", path, e.admin.Token, body, "If-Match", etag).JSON(t)
		assert.Equal(t, "OTHER-2", got["licenseNumber"])
		assert.Equal(t, false, got["active"])
	})
	t.Run("an unlinked profile, whose userId reads null", func(t *testing.T) {
		u := e.createByAdmin(nil)
		p := "/api/v1/doctors/" + u["id"].(string)
		r := e.mustDo(200, "GET", p, e.admin.Token, nil)
		body := r.JSON(t)
		body["bio"] = "Edited."
		got := e.mustDo(200, "PUT", p, e.admin.Token, body, "If-Match", r.Header.Get("ETag")).JSON(t)
		assert.Nil(t, got["userId"])
	})
}

// A client generated from the document sends every field the service
// needs: each field a POST or PUT of an empty profile is refused for
// lacking is in its schema's `required`, and only those.
func TestDoctorBodiesRequireWhatTheServiceRequires(t *testing.T) {
	doc := openapitest.Load(t, transport.OpenAPI())
	e := newEnv(t)
	d := e.createByAdmin(nil)
	path := "/api/v1/doctors/" + d["id"].(string)
	for _, c := range []struct{ schema, method, path string }{
		{"DoctorCreate", http.MethodPost, "/api/v1/doctors"},
		{"DoctorWrite", http.MethodPut, path},
	} {
		r := e.do(c.method, c.path, e.admin.Token, map[string]any{}, "If-Match", e.etag(path))
		require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		var p struct {
			Errors []struct{ Field, Message string }
		}
		require.NoError(t, json.Unmarshal(r.Body, &p))
		var required []string
		for _, fe := range p.Errors {
			if fe.Message == "is required" {
				required = append(required, fe.Field)
			}
		}
		assert.ElementsMatch(t, doc.T.Components.Schemas[c.schema].Value.Required, required, "%s %s", c.method, c.path)
	}
}

// TestAdministratorClearingTheLicenseIsRefused: a PUT may leave
// licenseNumber out (kept), but one sending it empty is refused, an
// administrator's too, and the document says so with minLength.
func TestAdministratorClearingTheLicenseIsRefused(t *testing.T) {
	e := newEnv(t)
	d := e.createByAdmin(nil)
	path := "/api/v1/doctors/" + d["id"].(string)
	e.mustDo(http.StatusBadRequest, http.MethodPut, path, e.admin.Token,
		doctorBody(map[string]any{"licenseNumber": ""}), "If-Match", e.etag(path))
	doc := openapitest.Load(t, transport.OpenAPI())
	for _, schema := range []string{"DoctorCreate", "DoctorWrite"} {
		assert.EqualValues(t, 1, doc.T.Components.Schemas[schema].Value.Properties["licenseNumber"].Value.MinLength, schema)
	}
}
