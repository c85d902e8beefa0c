package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/runtest"
)

func TestStubAnswersWithAValidToken(t *testing.T) {
	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, func(ctx context.Context, args []string) error {
		return run(ctx, args, func(string) (string, bool) { return "", false }, io.Discard)
	}, "-discovery-urls", "", "-jwks-url", iss.JWKSURL(), "-log-level", "error")
	defer svc.Stop(t)
	base := svc.URL

	call := func(method, path, token string) (int, string) {
		r := apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, method, base+path, "{}", apitest.Bearer(token)...))
		return r.Status, string(r.Body)
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
