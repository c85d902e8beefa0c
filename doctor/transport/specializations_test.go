package transport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// TestSpecializationRoundTrip checks that a specialization read and written
// back whole is accepted, and a changed server field refused by name.
func TestSpecializationRoundTrip(t *testing.T) {
	e := newEnv(t)
	path := "/api/v1/specializations/" + e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token,
		map[string]any{"name": "Cardiology"}).JSON(t)["id"].(string)

	r := e.mustDo(200, "GET", path, e.admin.Token, nil)
	body := r.JSON(t)
	body["description"] = "Hearts"
	got := e.mustDo(200, "PUT", path, e.admin.Token, body, "If-Match", r.Header.Get("ETag")).JSON(t)
	assert.Equal(t, "Hearts", got["description"])
	assert.Equal(t, float64(2), got["version"])

	for field, value := range map[string]any{
		"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "version": 1, "createdAt": "2020-01-01T00:00:00Z", "updatedAt": "2020-01-01T00:00:00Z",
	} {
		t.Run("changed "+field, func(t *testing.T) {
			r := e.mustDo(200, "GET", path, e.admin.Token, nil)
			body := r.JSON(t)
			body[field] = value
			p := e.mustDo(400, "PUT", path, e.admin.Token, body, "If-Match", r.Header.Get("ETag"))
			assert.Equal(t, []string{field}, p.Fields(t))
		})
	}
}
