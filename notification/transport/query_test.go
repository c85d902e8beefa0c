package transport_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestAParameterOfOneValueIsRefusedSentTwiceOrEmpty: a parameter that
// takes one value, sent twice or sent with no value, is a 400 naming it,
// never read as its first value or as absent, so that a status the service
// refuses does not pass behind one it takes and ?limit= is no default.
func TestAParameterOfOneValueIsRefusedSentTwiceOrEmpty(t *testing.T) {
	srv, iss, _ := newNotif(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	get := func(path string) apitest.Response {
		return apitest.Do(t, srv.Client(), apitest.NewRequest(t, http.MethodGet, srv.URL+path, nil, apitest.Bearer(admin)...))
	}
	for _, tc := range []struct{ query, field string }{
		{"status=bogus", "status"},
		{"status=sent&status=bogus", "status"},
		{"status=sent&status=sent", "status"},
		{"status=", "status"},
		{"limit=5&limit=100000", "limit"},
		{"limit=", "limit"},
		{"cursor=&cursor=not-a-cursor", "cursor"},
	} {
		r := get("/api/v1/notifications/admin/deliveries?" + tc.query)
		require.Equal(t, http.StatusBadRequest, r.Status, "?%s: %s", tc.query, r.Body)
		assert.Equal(t, []string{tc.field}, r.Fields(t), tc.query)
	}
	for _, query := range []string{"unread=", "unread=true&unread=false"} {
		r := get("/api/v1/notifications/me?" + query)
		require.Equal(t, http.StatusBadRequest, r.Status, "?%s: %s", query, r.Body)
		assert.Equal(t, []string{"unread"}, r.Fields(t), query)
	}
	for _, path := range []string{"/api/v1/notifications/admin/deliveries?status=sent&limit=5", "/api/v1/notifications/me?unread=true"} {
		assert.Equal(t, http.StatusOK, get(path).Status, path)
	}
}

// A client that pages with "?limit=N&cursor=" + nextCursor sends an empty
// cursor on the first page: it is the first page.
func TestEmptyCursorIsTheFirstPage(t *testing.T) {
	srv, iss, _ := newNotif(t, sqltest.SQLite(t, sqlstore.Migrations()))
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	for _, path := range []string{"/api/v1/notifications/me?limit=5&cursor=", "/api/v1/notifications/admin/deliveries?limit=5&cursor="} {
		r := apitest.Do(t, srv.Client(), apitest.NewRequest(t, http.MethodGet, srv.URL+path, nil, apitest.Bearer(admin)...))
		assert.Equal(t, http.StatusOK, r.Status, "%s: %s", path, r.Body)
	}
}
