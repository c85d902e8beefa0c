package wire_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/transport"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestAdministration(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin := e.admin()
		as := bearer(admin.Access)

		r := e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "Dr.Who@Example.org", "password": "tardis blue box", "fullName": "Dr Who", "roles": []string{"DOCTOR"},
		}, as...)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		doc := r.JSON(t)
		docID := doc["id"].(string)
		assert.Equal(t, []any{"DOCTOR"}, doc["roles"])
		assert.Equal(t, "dr.who@example.org", doc["email"])

		r = e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "boss@example.org", "password": "chair of the board", "fullName": "Boss", "roles": []string{"ADMIN", "DOCTOR"},
		}, as...)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))

		for name, body := range map[string]any{
			"patient role": map[string]any{"email": "x@example.org", "password": "tardis blue box", "fullName": "X", "roles": []string{"PATIENT"}},
			"no roles":     map[string]any{"email": "x@example.org", "password": "tardis blue box", "fullName": "X", "roles": []string{}},
			"bad role":     map[string]any{"email": "x@example.org", "password": "tardis blue box", "fullName": "X", "roles": []string{"ROOT"}},
		} {
			r = e.req("POST", "/api/v1/auth/users", body, as...)
			assert.Equal(t, http.StatusBadRequest, r.Status, name)
			assert.Contains(t, fields(t, r), "roles", name)
		}
		r = e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "DR.WHO@example.org", "password": "tardis blue box", "fullName": "Dr Who", "roles": []string{"DOCTOR"},
		}, as...)
		assert.Equal(t, http.StatusConflict, r.Status)

		// Doctors log in with the password the admin set.
		drTok := e.login("dr.who@example.org", "tardis blue box")
		assert.Equal(t, []any{"DOCTOR"}, jwtClaims(t, drTok.Access)["roles"])

		// Patients register themselves; list and filter.
		for i := 0; i < 3; i++ {
			e.register(fmt.Sprintf("p%d@example.org", i), patPass, fmt.Sprintf("Patient %d", i))
		}
		r = e.req("GET", "/api/v1/auth/users", nil, as...)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Len(t, r.JSON(t)["items"], 6)
		assert.Nil(t, r.JSON(t)["nextCursor"], "null on the last page")
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

		var ids []string
		cursor := ""
		for page := 0; page < 5; page++ {
			r = e.req("GET", "/api/v1/auth/users?role=PATIENT&limit=2&cursor="+cursor, nil, as...)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var p struct {
				Items []struct {
					ID    string   `json:"id"`
					Roles []string `json:"roles"`
				} `json:"items"`
				NextCursor string `json:"nextCursor"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &p))
			for _, it := range p.Items {
				assert.Equal(t, []string{"PATIENT"}, it.Roles)
				ids = append(ids, it.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		assert.Len(t, ids, 3)

		for q, field := range map[string]string{
			"?limit=0": "limit", "?limit=101": "limit", "?limit=ten": "limit",
			"?role=ROOT": "role", "?cursor=***": "cursor", "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x' OR 1=1")): "cursor",
			"?role=": "role", "?role=PATIENT&role=ROOT": "role", "?cursor=&cursor=": "cursor", "?limit=": "limit",
		} {
			r = e.req("GET", "/api/v1/auth/users"+q, nil, as...)
			assert.Equal(t, http.StatusBadRequest, r.Status, q)
			assert.Equal(t, []string{field}, fields(t, r), q)
		}

		r = e.req("GET", "/api/v1/auth/users/"+docID, nil, as...)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, `"1"`, r.Header.Get("ETag"))
		r = e.req("GET", "/api/v1/auth/users/not-a-uuid", nil, as...)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, []string{"id"}, fields(t, r))
		r = e.req("GET", "/api/v1/auth/users/0190a4d2-0000-7000-8000-000000000001", nil, as...)
		assert.Equal(t, http.StatusNotFound, r.Status)

		// PATCH roles with If-Match.
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"roles": []string{"DOCTOR", "ADMIN"}},
			append(as, "If-Match", `"1"`)...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, []any{"ADMIN", "DOCTOR"}, r.JSON(t)["roles"])
		assert.EqualValues(t, 2, r.JSON(t)["version"])
		assert.Equal(t, `"2"`, r.Header.Get("ETag"))
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"roles": []string{"DOCTOR"}},
			append(as, "If-Match", `"1"`)...)
		assert.Equal(t, http.StatusPreconditionFailed, r.Status, "stale version")
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"roles": []string{"DOCTOR"}},
			append(as, "If-Match", `garbage`)...)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Equal(t, []string{"If-Match"}, fields(t, r))
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"roles": []string{"DOCTOR"}},
			append(as, "If-Match", `W/"2"`)...)
		assert.Equal(t, http.StatusPreconditionFailed, r.Status, "If-Match compares strongly: a weak tag never matches")
		assert.Contains(t, string(r.Body), "weak")
		r = e.req("PATCH", "/api/v1/auth/users/0190a4d2-0000-7000-8000-000000000001", map[string]any{"roles": []string{"DOCTOR"}},
			append(as, "If-Match", `W/"2"`)...)
		assert.Equal(t, http.StatusNotFound, r.Status, "a weak tag is answered after the user is found")
		for name, body := range map[string]any{
			"empty":      map[string]any{},
			"bad role":   map[string]any{"roles": []string{"GOD"}},
			"no roles":   map[string]any{"roles": []string{}},
			"wrong type": map[string]any{"disabled": "yes"},
			"unknown":    map[string]any{"email": "new@example.org"},
		} {
			r = e.req("PATCH", "/api/v1/auth/users/"+docID, body, as...)
			assert.Equal(t, http.StatusBadRequest, r.Status, name)
		}
		r = e.req("PATCH", "/api/v1/auth/users/0190a4d2-0000-7000-8000-000000000001", map[string]any{"disabled": true}, as...)
		assert.Equal(t, http.StatusNotFound, r.Status)

		// Refresh picks up the new roles.
		r = e.refresh(drTok.Refresh)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, []any{"ADMIN", "DOCTOR"}, jwtClaims(t, r.Str(t, "accessToken"))["roles"])
		drRefresh := r.Str(t, "refreshToken")

		// Disable: no login, no refresh.
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"disabled": true}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, true, r.JSON(t)["disabled"])
		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "dr.who@example.org", "password": "tardis blue box"})
		assert.Equal(t, http.StatusForbidden, r.Status)
		r = e.refresh(drRefresh)
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, r.Status)
		// Its unexpired access token is withdrawn: it opens neither
		// administration nor /me.
		r = e.req("GET", "/api/v1/auth/users", nil, bearer(drTok.Access)...)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		r = e.req("GET", "/api/v1/auth/me", nil, bearer(drTok.Access)...)
		assert.Equal(t, http.StatusUnauthorized, r.Status)

		// Enabling again lets them in.
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"disabled": false}, as...)
		require.Equal(t, http.StatusOK, r.Status)
		e.login("dr.who@example.org", "tardis blue box")

		// An administrator cannot lock themselves out.
		me := e.req("GET", "/api/v1/auth/me", nil, as...).Str(t, "id")
		r = e.req("PATCH", "/api/v1/auth/users/"+me, map[string]any{"disabled": true}, as...)
		assert.Equal(t, http.StatusConflict, r.Status)
		r = e.req("PATCH", "/api/v1/auth/users/"+me, map[string]any{"roles": []string{"DOCTOR"}}, as...)
		assert.Equal(t, http.StatusConflict, r.Status)
	})
}

func TestAdministrationForbiddenMatrix(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		admin := e.admin()
		pat := e.register(patEmail, patPass, "Pat")
		r := e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "doc@example.org", "password": "tardis blue box", "fullName": "Doc", "roles": []string{"DOCTOR"},
		}, bearer(admin.Access)...)
		require.Equal(t, http.StatusCreated, r.Status)
		patTok := e.login(patEmail, patPass)
		docTok := e.login("doc@example.org", "tardis blue box")

		calls := []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/auth/users", map[string]any{"email": "x@example.org", "password": "tardis blue box", "fullName": "X", "roles": []string{"ADMIN"}}},
			{"GET", "/api/v1/auth/users", nil},
			{"GET", "/api/v1/auth/users?role=ADMIN", nil},
			{"GET", "/api/v1/auth/users/" + pat, nil},
			{"GET", "/api/v1/auth/users/not-a-uuid", nil},
			{"PATCH", "/api/v1/auth/users/" + pat, map[string]any{"roles": []string{"ADMIN"}}},
		}
		for _, c := range calls {
			for who, tok := range map[string]string{"patient": patTok.Access, "doctor": docTok.Access} {
				r := e.req(c.method, c.path, c.body, bearer(tok)...)
				assert.Equal(t, http.StatusForbidden, r.Status, "%s %s %s", who, c.method, c.path)
				assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
			}
			r := e.req(c.method, c.path, c.body)
			assert.Equal(t, http.StatusUnauthorized, r.Status, "anonymous %s %s", c.method, c.path)
		}
		// Nothing changed.
		r = e.req("GET", "/api/v1/auth/users/"+pat, nil, bearer(admin.Access)...)
		assert.Equal(t, []any{"PATIENT"}, r.JSON(t)["roles"])

		// A token still claiming ADMIN after demotion is refused by the
		// database check. The demotion is written to the store directly:
		// one made through the API withdraws the token as well, and this
		// stands for one whose revocation has not reached the verifier yet.
		other := e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "second@example.org", "password": "second admin here", "fullName": "Second", "roles": []string{"ADMIN"},
		}, bearer(admin.Access)...)
		require.Equal(t, http.StatusCreated, other.Status)
		second := e.login("second@example.org", "second admin here")
		ctx := context.Background()
		u, err := e.auth.Store.Users().ByID(ctx, other.Str(t, "id"))
		require.NoError(t, err)
		u.Roles, u.Version = []string{"DOCTOR"}, u.Version+1
		require.NoError(t, e.auth.Store.Users().Update(ctx, u))
		r = e.req("GET", "/api/v1/auth/users", nil, bearer(second.Access)...)
		assert.Equal(t, http.StatusForbidden, r.Status)
	})
}

func TestBootstrap(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	e := newEnv(t, db)
	r := e.req("GET", "/api/v1/auth/users?role=ADMIN", nil, bearer(e.admin().Access)...)
	require.Len(t, r.JSON(t)["items"], 1, "the first administrator was created")
	created, err := e.auth.Bootstrap(t.Context(), adminEmail, "a different password")
	require.NoError(t, err)
	assert.False(t, created, "an existing account is left alone")
	e.admin() // the original password still works

	_, err = e.auth.Bootstrap(t.Context(), "root@example.org", "password1234")
	assert.Error(t, err, "a common password is refused")
	_, err = e.auth.Bootstrap(t.Context(), "root@example.org", "")
	assert.Error(t, err, "no default password")
	_, err = e.auth.Bootstrap(t.Context(), "not an email", "a fine long password")
	assert.Error(t, err)

	r = e.req("GET", "/api/v1/auth/me", nil, bearer(e.admin().Access)...)
	assert.Equal(t, []any{"ADMIN"}, r.JSON(t)["roles"])

	// An address someone registered first is not silently taken for the
	// administrator's.
	e.register("root@example.org", patPass, "Squatter")
	created, err = e.auth.Bootstrap(t.Context(), "Root@example.org", "a fine long password")
	assert.False(t, created)
	assert.ErrorIs(t, err, service.ErrBootstrapNotAdmin)
	r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "root@example.org", "password": patPass})
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, []any{"PATIENT"}, jwtClaims(t, r.Str(t, "accessToken"))["roles"], "left unchanged")
}

// A created account needs its roles, as the document says: a body without
// roles, with none, or with one an administrator may not give is refused by
// the document and answered 400 naming roles.
func TestCreateUserRequiresRolesAsTheDocumentSays(t *testing.T) {
	doc := openapitest.Load(t, transport.OpenAPI())
	schema := doc.T.Components.Schemas["CreateUserRequest"].Value
	assert.Contains(t, schema.Required, "roles")
	roles := schema.Properties["roles"].Value
	assert.EqualValues(t, 1, roles.MinItems)
	assert.ElementsMatch(t, []any{"ADMIN", "DOCTOR"}, roles.Items.Value.Enum)

	eachEnv(t, func(t *testing.T, e *env) {
		as := bearer(e.admin().Access)
		for name, body := range map[string]map[string]any{
			"left out": {},
			"empty":    {"roles": []string{}},
			"PATIENT":  {"roles": []string{"PATIENT"}},
		} {
			body["email"], body["password"], body["fullName"] = "dr.grey@example.org", "tardis blue box", "Dr Grey"
			raw, err := json.Marshal(body)
			require.NoError(t, err)
			req, err := http.NewRequest("POST", e.srv.URL+"/api/v1/auth/users", bytes.NewReader(raw))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			assert.ErrorContains(t, doc.Check(openapitest.Exchange{Request: req, RequestBody: raw, Status: http.StatusCreated}),
				"the document refuses the request", name)

			r := e.req("POST", "/api/v1/auth/users", body, as...)
			assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", name, r.Body)
			assert.Equal(t, []string{"roles"}, r.Fields(t), name)
		}
	})
}
