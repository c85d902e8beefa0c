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

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"-db-dsn", "postgres://x"})
	assert.Error(t, err)
	err = run(context.Background(), []string{"-audit-writers", "many"})
	assert.Error(t, err)
}
