package transport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Appointments keep the doctor's account from the time of booking and grant
// access by it, so a linked profile is never moved to another account.
func TestLinkedAccountOfAProfileIsFixed(t *testing.T) {
	e := newEnv(t)
	d := e.createByAdmin(nil)
	assert.Nil(t, d["userId"])
	path := "/api/v1/doctors/" + d["id"].(string)

	// Linking an unlinked profile is allowed.
	linked := e.mustDo(200, "PUT", path, e.admin.Token, doctorBody(map[string]any{"userId": e.doctor.ID}), "If-Match", e.etag(path)).JSON(t)
	assert.Equal(t, e.doctor.ID, linked["userId"])

	for name, userID := range map[string]string{"another account": e.other.ID, "cleared": ""} {
		r := e.mustDo(409, "PUT", path, e.admin.Token, doctorBody(map[string]any{"userId": userID}), "If-Match", e.etag(path))
		assert.Equal(t, []string{"userId"}, r.Fields(t), name)
		assert.Contains(t, r.Str(t, "detail"), "fixed once linked", name)
		assert.Contains(t, r.Str(t, "detail"), "deactivate the profile and create a new one", name)
	}
	got := e.mustDo(200, "GET", path, e.admin.Token, nil).JSON(t)
	assert.Equal(t, e.doctor.ID, got["userId"], "the link is unchanged")

	// The same account sent back, or left out, is no change.
	e.mustDo(200, "PUT", path, e.admin.Token, doctorBody(map[string]any{"userId": e.doctor.ID, "bio": "v2"}), "If-Match", e.etag(path))
	e.mustDo(200, "PUT", path, e.admin.Token, doctorBody(map[string]any{"bio": "v3"}), "If-Match", e.etag(path))
	e.mustDo(200, "GET", "/api/v1/doctors/me", e.doctor.Token, nil)
}
