package transport_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/endpoint"
	"github.com/medisync/medisync/doctor/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestOpenAPIRoutes holds the router, as the service builds it, to the
// document: no route undocumented, no documented route missing.
func TestOpenAPIRoutes(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Name: "doctor"}, nil, func(string) (string, bool) { return "", false }, io.Discard)
	require.NoError(t, err)
	r := a.Router()
	transport.Register(r, endpoint.Set{}, nil, nil)
	openapitest.Load(t, transport.OpenAPI()).CheckRoutes(t, r)
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo(200, "GET", "/openapi.yaml", "", nil)
	require.Equal(t, transport.OpenAPI(), r.Body)
}

// A fault the kinds do not name is a 500 on any operation, so every
// operation lists it.
func TestEveryOperationListsTheInternalError(t *testing.T) {
	doc := openapitest.Load(t, transport.OpenAPI())
	for _, op := range doc.Operations() {
		o := doc.T.Paths.Value(op.Path).GetOperation(op.Method)
		require.NotNil(t, o.Responses.Value("500"), "%s lists no 500", op)
	}
}

// An unexpected fault (here a table gone) is answered as the document says.
func TestAnUnexpectedFaultIsTheDocumented500(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	e := newEnvOn(t, db)
	_, err := db.ExecContext(context.Background(), "DROP TABLE specializations")
	require.NoError(t, err)
	e.mustDo(http.StatusInternalServerError, http.MethodGet, "/api/v1/specializations", e.pat.Token, nil)
}
