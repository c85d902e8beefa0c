package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/authn/authntest"
)

// TestRun starts the real wiring on SQLite with a test JWKS, creates and
// reads a patient over HTTP, and shuts down on cancel.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	iss := authntest.NewIssuer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-http-addr", addr, "-db-dsn", "sqlite:" + filepath.Join(t.TempDir(), "p.db"),
			"-jwks-url", iss.JWKSURL(), "-discovery-urls", "", "-log-level", "warn"})
	}()
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)

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

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"-db-dsn", "postgres://x"})
	assert.Error(t, err)
	err = run(context.Background(), []string{"-audit-writers", "many"})
	assert.Error(t, err)
}
