package wire_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/events/schematest"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

const announcePath = "/api/v1/auth/users/announcements"

// outbox reads the events auth wrote, in the order the relay publishes them.
func outbox(t *testing.T, db *sqldb.DB) []events.Event {
	t.Helper()
	return outboxtest.Events(t, db, "")
}

type announcement struct {
	Announced  int     `json:"announced"`
	NextCursor *string `json:"nextCursor"`
}

type registered struct {
	UserID   string `json:"userId"`
	Email    string `json:"email"`
	Role     string `json:"role"`
	Language string `json:"language"`
}

// announceAll calls the route from the first page until nextCursor is null
// and returns the answers.
func (e *env) announceAll(limit int, as []string) []announcement {
	e.t.Helper()
	var out []announcement
	body := map[string]any{"limit": limit}
	for range 20 {
		r := e.req("POST", announcePath, body, as...)
		require.Equal(e.t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(e.t, "no-store", r.Header.Get("Cache-Control"))
		var a announcement
		require.NoError(e.t, json.Unmarshal(r.Body, &a))
		out = append(out, a)
		if a.NextCursor == nil {
			return out
		}
		body = map[string]any{"limit": limit, "cursor": *a.NextCursor}
	}
	e.t.Fatal("announcements did not end")
	return nil
}

func TestAnnouncingUsersWritesOneRegistrationPerAccount(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		as := bearer(e.admin().Access)

		want := map[string]registered{}
		adminUser, err := e.auth.Store.Users().ByEmail(context.Background(), adminEmail)
		require.NoError(t, err)
		want[adminUser.ID] = registered{adminUser.ID, adminEmail, "ADMIN", "en"}
		r := e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "dr.who@example.org", "password": "tardis blue box", "fullName": "Dr Who", "roles": []string{"DOCTOR"},
		}, as...)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		drID := r.JSON(t)["id"].(string)
		want[drID] = registered{drID, "dr.who@example.org", "DOCTOR", "en"}
		for _, email := range []string{"p0@example.org", "p1@example.org", "p2@example.org", "p3@example.org"} {
			id := e.register(email, patPass, "Patient")
			want[id] = registered{id, email, "PATIENT", "en"}
		}
		// Made an administrator since registering: announced as one now.
		r = e.req("PATCH", "/api/v1/auth/users/"+drID, map[string]any{"roles": []string{"DOCTOR", "ADMIN"}}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		want[drID] = registered{drID, "dr.who@example.org", "ADMIN", "en"}
		// Disabled accounts are announced too: the directory mirrors every
		// account, as the registrations did.
		p3, err := e.auth.Store.Users().ByEmail(context.Background(), "p3@example.org")
		require.NoError(t, err)
		r = e.req("PATCH", "/api/v1/auth/users/"+p3.ID, map[string]any{"disabled": true}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		before := outbox(t, db)
		require.Len(t, before, len(want), "the registrations")
		firstIDs := map[string]bool{}
		for _, ev := range before {
			firstIDs[ev.ID] = true
		}

		// Six accounts in pages of 4: then 2, and the end.
		pages := e.announceAll(4, as)
		require.Len(t, pages, 2)
		assert.Equal(t, 4, pages[0].Announced)
		assert.Equal(t, 2, pages[1].Announced)

		announced := outbox(t, db)[len(before):]
		require.Len(t, announced, len(want), "one event per account")
		seen := map[string]bool{}
		var prev string
		for _, ev := range announced {
			assert.Equal(t, service.EventUserRegistered, ev.Type)
			schematest.Validate(t, ev)
			assert.False(t, firstIDs[ev.ID], "an event id of its own")
			var d registered
			require.NoError(t, ev.Decode(&d))
			assert.Equal(t, want[d.UserID], d)
			assert.Equal(t, d.UserID, ev.Subject)
			assert.False(t, seen[d.UserID], "once per account")
			assert.Greater(t, d.UserID, prev, "in id order")
			seen[d.UserID], prev = true, d.UserID
		}
		assert.Len(t, seen, len(want))

		// Again, without a body: the first page of 20, every account once more.
		r = e.req("POST", announcePath, nil, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.JSONEq(t, `{"announced": 6, "nextCursor": null}`, string(r.Body))
		r = e.req("POST", announcePath, map[string]any{}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.JSONEq(t, `{"announced": 6, "nextCursor": null}`, string(r.Body))
		again := outbox(t, db)[len(before)+len(want):]
		require.Len(t, again, 2*len(want))
		ids := map[string]bool{}
		for _, ev := range append(again, announced...) {
			assert.False(t, ids[ev.ID], "every announcement is a new event")
			ids[ev.ID] = true
		}

		// A page that ends on the last account says so: no empty page after it.
		pages = e.announceAll(3, as)
		require.Len(t, pages, 2)
		assert.Equal(t, []int{3, 3}, []int{pages[0].Announced, pages[1].Announced})
	})
}

func TestAnnouncingUsersIsForAdministratorsOnly(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		n := len(outbox(t, e.db))
		r := e.req("POST", announcePath, nil)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		pat := e.pat()
		r = e.req("POST", announcePath, map[string]any{"limit": 0}, bearer(pat.Access)...)
		assert.Equal(t, http.StatusForbidden, r.Status, "refused before the body is read")

		// An administrator demoted since the token was issued is refused by
		// the service, which reads the account.
		as := bearer(e.admin().Access)
		r = e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "boss@example.org", "password": "chair of the board", "fullName": "Boss", "roles": []string{"ADMIN"},
		}, as...)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		bossID := r.JSON(t)["id"].(string)
		boss := e.login("boss@example.org", "chair of the board")
		r = e.req("PATCH", "/api/v1/auth/users/"+bossID, map[string]any{"roles": []string{"DOCTOR"}}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r = e.req("POST", announcePath, nil, bearer(boss.Access)...)
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, r.Status)

		assert.Len(t, outbox(t, e.db), n+2, "only the two registrations since")
	})
}

func TestAnnouncingUsersRefusesABadPage(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		as := bearer(e.admin().Access)
		n := len(outbox(t, e.db))
		for name, c := range map[string]struct {
			body  string
			field string
		}{
			"limit 0":         {`{"limit": 0}`, "limit"},
			"limit negative":  {`{"limit": -1}`, "limit"},
			"limit 101":       {`{"limit": 101}`, "limit"},
			"limit a string":  {`{"limit": "ten"}`, "limit"},
			"cursor garbage":  {`{"cursor": "***"}`, "cursor"},
			"cursor not ours": {`{"cursor": "` + base64.RawURLEncoding.EncodeToString([]byte("x' OR 1=1")) + `"}`, "cursor"},
			"cursor no id":    {`{"cursor": "` + base64.RawURLEncoding.EncodeToString([]byte(`"not-a-uuid"`)) + `"}`, "cursor"},
			"cursor a number": {`{"cursor": 3}`, "cursor"},
			"unknown field":   {`{"role": "PATIENT"}`, "role"},
		} {
			r := e.req("POST", announcePath, c.body, append(as, "Content-Type", "application/json")...)
			assert.Equal(t, http.StatusBadRequest, r.Status, name)
			assert.Equal(t, []string{c.field}, fields(t, r), name)
		}
		r := e.req("POST", announcePath, "not json", append(as, "Content-Type", "application/json")...)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Len(t, outbox(t, e.db), n, "a refused call writes nothing")
	})
}
