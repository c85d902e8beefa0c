package transport_test

import (
	// Zones load the same with or without a system time zone database.
	_ "time/tzdata"

	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/adapter/taken"
	"github.com/medisync/medisync/doctor/endpoint"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/doctor/transport"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// user is a caller with a token.
type user struct {
	ID    string
	Token string
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	clock  *clocktest.Clock
	iss    *authntest.Issuer
	admin  user
	doctor user // a DOCTOR without a profile yet
	other  user // another DOCTOR
	pat    user // a PATIENT
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, sqltest.SQLite(t, sqlstore.Migrations()))
}

// newEnvOn is newEnv on a given database.
func newEnvOn(t *testing.T, db *sqldb.DB) *env {
	t.Helper()
	return newEnvWith(t, db, taken.None{})
}

// newEnvWith is newEnv on a given database and booking system.
func newEnvWith(t *testing.T, db *sqldb.DB, booked service.TakenSlots) *env {
	t.Helper()
	c := clocktest.New(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC))
	svc := service.New(sqlstore.New(db), booked, c, ids.New)
	iss := authntest.NewIssuer(t)
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), iss.Verifier(), nil)
	// Every exchange of the tests is held to the OpenAPI document.
	doc := openapitest.Load(t, transport.OpenAPI())
	srv := httptest.NewServer(doc.Handler(t, httpmw.Stack(r, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes})))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, clock: c, iss: iss}
	e.admin = e.newUser(authn.RoleAdmin)
	e.doctor = e.newUser(authn.RoleDoctor)
	e.other = e.newUser(authn.RoleDoctor)
	e.pat = e.newUser(authn.RolePatient)
	return e
}

func (e *env) newUser(roles ...string) user {
	id := ids.New()
	return user{ID: id, Token: e.iss.Token(e.t, authntest.Claims{UserID: id, Email: id[:8] + "@example.org", Roles: roles})}
}

type response = apitest.Response

// do sends a request; body may be a string (sent as is) or a value (JSON).
// headers are name, value pairs.
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	req := apitest.NewRequest(e.t, method, e.srv.URL+path, body, append(apitest.Bearer(token), headers...)...)
	return apitest.Do(e.t, e.srv.Client(), req)
}

// mustDo is do that requires a status.
func (e *env) mustDo(status int, method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, token, body, headers...)
	require.Equal(e.t, status, r.Status, "%s %s: %s", method, path, r.Body)
	return r
}

// etag reads the current ETag of the resource at path, as ADMIN.
func (e *env) etag(path string) string {
	e.t.Helper()
	tag := e.mustDo(http.StatusOK, http.MethodGet, path, e.admin.Token, nil).Header.Get("ETag")
	require.NotEmpty(e.t, tag, "ETag of %s", path)
	return tag
}

// nextLicense returns a license number no other test doctor has.
func nextLicense() string { return "LIC-" + ids.New()[24:] }

// doctorBody is a valid profile; overrides replace or add fields.
func doctorBody(overrides map[string]any) map[string]any {
	b := map[string]any{
		"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.org", "phone": "+14155550123",
		"licenseNumber": nextLicense(), "languages": []string{"en"}, "timeZone": "America/New_York",
		"appointmentMinutes": 30, "bio": "Physician.",
	}
	for k, v := range overrides {
		if v == nil {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	return b
}

// createOwn makes u's own profile (u must be a DOCTOR).
func (e *env) createOwn(u user, overrides map[string]any) map[string]any {
	e.t.Helper()
	return e.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/doctors", u.Token, doctorBody(overrides)).JSON(e.t)
}

// createByAdmin makes a profile as ADMIN.
func (e *env) createByAdmin(overrides map[string]any) map[string]any {
	e.t.Helper()
	return e.mustDo(http.StatusCreated, http.MethodPost, "/api/v1/doctors", e.admin.Token, doctorBody(overrides)).JSON(e.t)
}
