package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	req, _ := http.NewRequest("POST", base+"/api/v1/patients",
		strings.NewReader(`{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)

	req, _ = http.NewRequest("GET", base+"/api/v1/patients/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

	resp, err = http.Get(base + "/metrics")
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
