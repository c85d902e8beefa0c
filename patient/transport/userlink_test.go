package transport_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// Appointments keep the patient's account from the time of booking and
// grant access by it, so a linked profile is never moved to another account
// nor cleared: the old account would keep the appointments and the new one
// would see none of them.
func TestLinkedAccountOfAProfileIsFixed(t *testing.T) {
	h := newHarness(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin, owner, other := h.user(roles.admin), h.user(roles.patient), h.user(roles.patient)

	r := h.do("POST", "/api/v1/patients", admin.token, profileJSON)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	_, linked := r.JSON(t)["userId"]
	require.False(t, linked, "a profile without an account")
	one := "/api/v1/patients/" + r.JSON(t)["id"].(string)

	// Linking an unlinked profile is allowed.
	r = h.do("PUT", one, admin.token, set(string(r.Body), "userId", `"`+owner.id+`"`), "If-Match", r.Header.Get("ETag"))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, owner.id, r.JSON(t)["userId"])
	body, etag := string(r.Body), r.Header.Get("ETag")

	for name, userID := range map[string]string{"another account": `"` + other.id + `"`, "cleared": `""`} {
		r := h.do("PUT", one, admin.token, set(body, "userId", userID), "If-Match", etag)
		require.Equal(t, http.StatusConflict, r.Status, "%s: %s", name, r.Body)
		assert.Equal(t, []string{"userId"}, r.Fields(t), name)
		assert.Contains(t, r.JSON(t)["detail"], "fixed once linked", name)
		assert.Contains(t, r.JSON(t)["detail"], "deactivate the profile and create a new one", name)
	}
	r = h.do("GET", one, admin.token, "")
	assert.Equal(t, owner.id, r.JSON(t)["userId"], "the link is unchanged")
	assert.Equal(t, etag, r.Header.Get("ETag"), "nothing was written")
	assert.Equal(t, http.StatusOK, h.do("GET", "/api/v1/patients/me", owner.token, "").Status)
	assert.Equal(t, http.StatusNotFound, h.do("GET", "/api/v1/patients/me", other.token, "").Status)

	// A userId that is no UUID is still a 400; the same account sent back,
	// in any case, or left out, is no change.
	r = h.do("PUT", one, admin.token, set(body, "userId", `"nope"`), "If-Match", etag)
	assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
	assert.Equal(t, []string{"userId"}, r.Fields(t))
	r = h.do("PUT", one, admin.token, set(set(body, "userId", `"`+strings.ToUpper(owner.id)+`"`), "phone", `"+441234567899"`), "If-Match", etag)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, owner.id, r.JSON(t)["userId"])
	r = h.do("PUT", one, admin.token, with("phone", `"+441234567898"`), "If-Match", r.Header.Get("ETag"))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, owner.id, r.JSON(t)["userId"], "left out, so kept")
}
