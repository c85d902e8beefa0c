package transport_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/endpoint"
	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/discovery/transport"
	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/openapitest"
)

// TestOpenAPIRoutes holds the router, as the server builds it, to the
// document: no route undocumented, no documented route missing.
func TestOpenAPIRoutes(t *testing.T) {
	cfg := wire.DefaultConfig()
	a, err := app.New(context.Background(), wire.Options(&cfg), nil, func(string) (string, bool) { return "", false }, io.Discard)
	require.NoError(t, err)
	svc := service.New(registry.New(clock.System{}.Now(), cfg.Limits), clock.System{})
	r := a.Router()
	transport.Register(r, endpoint.New(svc), svc, transport.Options{})
	openapitest.Load(t, transport.OpenAPI()).CheckRoutes(t, r)
}
