package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/wire/wiretest"
)

func TestLoadRunAgainstTheService(t *testing.T) {
	srv := wiretest.Server(t, password.Cheap)

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-clients", "4", "-users", "8", "-logins", "16"}, &out))
	assert.Contains(t, out.String(), "register")
	assert.Contains(t, out.String(), "login")
	assert.Contains(t, out.String(), "0 errors")

	// An unreachable server is reported as a failure.
	err := run(context.Background(), []string{"-url", "http://127.0.0.1:1", "-clients", "1", "-users", "1", "-logins", "0"}, &out)
	assert.Error(t, err)
}
