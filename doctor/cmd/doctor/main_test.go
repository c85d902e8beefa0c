package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/runtest"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestRunServesAndStops starts the service as main does, with a JWKS URL
// and no discovery, checks health, metrics and one API call, then stops it.
func TestRunServesAndStops(t *testing.T) {
	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, run,
		"-db-dsn", "sqlite:"+filepath.Join(t.TempDir(), "doctor.db"),
		"-discovery-urls", "",
		"-jwks-url", iss.JWKSURL(),
		"-log-level", "error",
	)
	get := func(path, token string) (int, string) {
		r := apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, http.MethodGet, svc.URL+path, nil, apitest.Bearer(token)...))
		return r.Status, string(r.Body)
	}

	code, _ := get("/health/live", "")
	assert.Equal(t, 200, code)
	code, _ = get("/api/v1/specializations", "")
	assert.Equal(t, 401, code)
	token := iss.Token(t, authntest.Claims{Roles: []string{"PATIENT"}})
	code, body := get("/api/v1/specializations", token)
	assert.Equal(t, 200, code, body)
	code, body = get("/api/v1/doctors?availableOn=2026-03-08", token)
	assert.Equal(t, 200, code, body)
	code, body = get("/metrics", "")
	assert.Equal(t, 200, code)
	assert.True(t, strings.Contains(body, `medisync_http_requests_total{code="200",method="GET",route="/api/v1/specializations"}`), body)
	assert.Contains(t, body, `medisync_doctor_method_calls_total{method="SearchDoctors",success="true"}`)

	svc.Stop(t)
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	err := run(context.Background(), []string{"-db-dsn", "postgres://nope", "-discovery-urls", ""})
	assert.Error(t, err)
	err = run(context.Background(), []string{"-log-format", "xml"})
	assert.Error(t, err)
}

// TestRunOnPostgresAsRuntimeRole starts the service on a fresh, empty
// PostgreSQL database: the owner DSN migrates it, the runtime role, which
// may not change the schema, serves reads and writes.
func TestRunOnPostgresAsRuntimeRole(t *testing.T) {
	ownerDSN, runtimeDSN := sqltest.PostgresRuntimeDSN(t, nil)
	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, run,
		"-db-dsn", runtimeDSN,
		"-db-migrate-dsn", ownerDSN,
		"-discovery-urls", "",
		"-jwks-url", iss.JWKSURL(),
		"-log-level", "error",
	)
	do := func(method, path, token string, body any) apitest.Response {
		return apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, method, svc.URL+path, body, apitest.Bearer(token)...))
	}
	assert.Equal(t, 200, do(http.MethodGet, "/health/ready", "", nil).Status)
	admin := iss.Token(t, authntest.Claims{Roles: []string{"ADMIN"}})
	r := do(http.MethodPost, "/api/v1/specializations", admin, map[string]any{"name": "Cardiology"})
	assert.Equal(t, 201, r.Status, string(r.Body))
	r = do(http.MethodPost, "/api/v1/specializations", admin, map[string]any{"name": "CARDIOLOGY"})
	assert.Equal(t, 409, r.Status, string(r.Body))
	r = do(http.MethodPost, "/api/v1/doctors", admin, map[string]any{"firstName": "Ada", "lastName": "Lovelace",
		"email": "ada@example.org", "licenseNumber": "MD-1", "timeZone": "Europe/London"})
	assert.Equal(t, 201, r.Status, string(r.Body))
	r = do(http.MethodGet, "/api/v1/doctors?q=love", admin, nil)
	assert.Equal(t, 200, r.Status, string(r.Body))
	assert.Contains(t, string(r.Body), "Lovelace")
	svc.Stop(t)
}
