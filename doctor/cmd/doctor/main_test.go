package main

import (
	"context"
	"io"
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

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestRunServesAndStops starts the service as main does, with a JWKS URL
// and no discovery, checks health, metrics and one API call, then stops it.
func TestRunServesAndStops(t *testing.T) {
	iss := authntest.NewIssuer(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"-http-addr", addr,
			"-db-dsn", "sqlite:" + filepath.Join(t.TempDir(), "doctor.db"),
			"-discovery-urls", "",
			"-jwks-url", iss.JWKSURL(),
			"-log-level", "error",
		})
	}()
	base := "http://" + addr
	get := func(path, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	require.Eventually(t, func() bool { code, _ := get("/health/ready", ""); return code == 200 }, 10*time.Second, 20*time.Millisecond)

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

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not stop")
	}
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	err := run(context.Background(), []string{"-db-dsn", "postgres://nope", "-discovery-urls", ""})
	assert.Error(t, err)
	err = run(context.Background(), []string{"-log-format", "xml"})
	assert.Error(t, err)
}
