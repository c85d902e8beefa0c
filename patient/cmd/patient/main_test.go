package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/runtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestRun starts the real wiring on SQLite with a test JWKS, creates and
// reads a patient over HTTP, and shuts down on cancel.
func TestRun(t *testing.T) {
	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+filepath.Join(t.TempDir(), "p.db"),
		"-jwks-url", iss.JWKSURL(), "-discovery-urls", "", "-log-level", "warn")
	base := svc.URL

	tok := iss.Token(t, authntest.Claims{Roles: []string{"PATIENT"}})
	send := func(method, path string, body any) apitest.Response {
		return apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, method, base+path, body, apitest.Bearer(tok)...))
	}
	r := send("POST", "/api/v1/patients", `{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10"}`)
	assert.Equal(t, http.StatusCreated, r.Status)

	r = send("GET", "/api/v1/patients/me", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	svc.Stop(t)
}

// TestRunOnPostgres starts the service as deployed on PostgreSQL: a fresh
// database, migrated by its owner through -db-migrate-dsn and served by the
// runtime role, which may write the trail but not rewrite it.
func TestRunOnPostgres(t *testing.T) {
	ownerDSN, runtimeDSN := sqltest.PostgresRuntimeDSN(t, nil)
	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, run, "-db-dsn", runtimeDSN, "-db-migrate-dsn", ownerDSN,
		"-jwks-url", iss.JWKSURL(), "-discovery-urls", "", "-log-level", "warn")

	resp, err := http.Get(svc.URL + "/health/ready")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	tok := iss.Token(t, authntest.Claims{Roles: []string{"PATIENT"}})
	send := func(method, path string, body any) apitest.Response {
		return apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, method, svc.URL+path, body, apitest.Bearer(tok)...))
	}
	r := send("POST", "/api/v1/patients", `{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10"}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r = send("GET", "/api/v1/patients/me", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	svc.Stop(t)

	ctx := context.Background()
	runtime, err := sqldb.Open(ctx, runtimeDSN)
	require.NoError(t, err)
	defer runtime.Close()
	var events int
	require.NoError(t, runtime.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events").Scan(&events))
	assert.Equal(t, 2, events, "the create and the read, flushed on shutdown")
	_, err = runtime.ExecContext(ctx, "DELETE FROM audit_events")
	assert.ErrorContains(t, err, "permission denied", "the runtime role may not remove events")
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"-db-dsn", "postgres://x"})
	assert.Error(t, err)
	err = run(context.Background(), []string{"-audit-writers", "many"})
	assert.Error(t, err)
}
