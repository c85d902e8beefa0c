package transport_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/endpoint"
	"github.com/medisync/medisync/doctor/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/openapitest"
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
