package transport_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// Early releases stored an administrator's userId as sent, and no
// migration lowered it. Such a row is linked to the account in another
// case: sending back the GET representation, or writing the id as tokens
// carry it, is no move to another account and must not be a 409.
func TestLegacyMixedCaseLinkIsNoRelink(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	h := newHarness(t, db)
	admin, owner := h.user(roles.admin), h.user(roles.patient)

	r := h.do("POST", "/api/v1/patients", admin.token, strings.Replace(profileJSON, "{", `{"userId":"`+owner.id+`",`, 1))
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	one := "/api/v1/patients/" + r.JSON(t)["id"].(string)
	// The row as such a release wrote it.
	_, err := db.ExecContext(context.Background(), "UPDATE patients SET user_id = ?", strings.ToUpper(owner.id))
	require.NoError(t, err)

	r = h.do("GET", one, admin.token, "")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	body, etag := string(r.Body), r.Header.Get("ETag")

	// The GET-change-PUT round trip, the userId sent back as read.
	r = h.do("PUT", one, admin.token, set(body, "phone", `"+441234567899"`), "If-Match", etag)
	assert.Equal(t, http.StatusOK, r.Status, "round trip of a legacy profile: %s", r.Body)

	// The administrator repairs the link to the case tokens carry.
	r = h.do("GET", one, admin.token, "")
	r = h.do("PUT", one, admin.token, set(string(r.Body), "userId", `"`+owner.id+`"`), "If-Match", r.Header.Get("ETag"))
	assert.Equal(t, http.StatusOK, r.Status, "repairing the case of the link: %s", r.Body)
	assert.Equal(t, http.StatusOK, h.do("GET", "/api/v1/patients/me", owner.token, "").Status, "the owner reaches their profile")
}
