package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestLoadRunAgainstTheService(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	a, err := wire.Build(context.Background(), db, wire.Config{Hash: password.HasherOptions{Params: password.Cheap}, KeyEncryptionKey: base64.StdEncoding.EncodeToString(make([]byte, 32))}, logging.Nop(), nil)
	require.NoError(t, err)
	r := httpmw.NewRouter()
	a.Routes(r)
	srv := httptest.NewServer(httpmw.Stack(r, httpmw.Options{Logger: logging.Nop()}))
	defer srv.Close()

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-url", srv.URL, "-clients", "4", "-users", "8", "-logins", "16"}, &out))
	assert.Contains(t, out.String(), "register")
	assert.Contains(t, out.String(), "login")
	assert.Contains(t, out.String(), "0 errors")

	// An unreachable server is reported as a failure.
	err = run(context.Background(), []string{"-url", "http://127.0.0.1:1", "-clients", "1", "-users", "1", "-logins", "0"}, &out)
	assert.Error(t, err)
}
