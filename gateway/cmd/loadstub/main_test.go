package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/authn/authntest"
)

func TestStubAnswersWithAValidToken(t *testing.T) {
	iss := authntest.NewIssuer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-http-addr", addr, "-discovery-urls", "", "-jwks-url", iss.JWKSURL(), "-log-level", "error"},
			func(string) (string, bool) { return "", false }, io.Discard)
	}()
	defer func() {
		cancel()
		assert.NoError(t, <-done)
	}()
	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond)

	call := func(method, path, token string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tok := iss.Token(t, authntest.Claims{})
	code, body := call(http.MethodPost, "/api/v1/patients", tok)
	assert.Equal(t, http.StatusCreated, code)
	assert.Contains(t, body, `"id":"`)
	code, body = call(http.MethodGet, "/api/v1/patients/abc", tok)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"id":"abc"`)
	code, _ = call(http.MethodGet, "/api/v1/patients/abc", "")
	assert.Equal(t, http.StatusUnauthorized, code)
}
