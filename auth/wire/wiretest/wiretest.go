// Package wiretest serves the whole auth HTTP stack on a fresh SQLite database, for tests and benchmarks.
package wiretest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// KEK seals the signing keys of test databases, as a server database
// requires: 32 zero bytes in base64.
const KEK = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// Server builds auth with password hashing at cost p and serves its routes
// until the test ends.
func Server(tb testing.TB, p password.Params) *httptest.Server {
	tb.Helper()
	db := sqltest.SQLite(tb, sqlstore.Migrations())
	a, err := wire.Build(context.Background(), db, wire.Config{Hash: password.HasherOptions{Params: p}, KeyEncryptionKey: KEK}, logging.Nop(), nil)
	require.NoError(tb, err)
	r := httpmw.NewRouter()
	a.Routes(r)
	srv := httptest.NewServer(httpmw.Stack(r, httpmw.Options{Logger: logging.Nop()}))
	tb.Cleanup(srv.Close)
	return srv
}
