package transport_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/endpoint"
	"github.com/medisync/medisync/patient/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/openapitest"
)

// TestOpenAPIRoutes holds the router, as the service builds it, to the
// document: no route undocumented, no documented route missing.
func TestOpenAPIRoutes(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Name: "patient"}, nil, func(string) (string, bool) { return "", false }, io.Discard)
	require.NoError(t, err)
	r := a.Router()
	transport.Register(r, endpoint.Set{}, nil)
	openapitest.Load(t, transport.OpenAPI()).CheckRoutes(t, r)
}
