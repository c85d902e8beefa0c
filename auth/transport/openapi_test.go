package transport_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/endpoint"
	"github.com/medisync/medisync/auth/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/openapitest"
)

type noFeed struct{}

func (noFeed) Page(context.Context, uint64, time.Duration) (authn.RevocationPage, error) {
	return authn.RevocationPage{}, nil
}

// TestOpenAPIRoutes holds the router, as the service builds it, to the
// document: no route undocumented, no documented route missing.
func TestOpenAPIRoutes(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Name: "auth"}, nil, func(string) (string, bool) { return "", false }, io.Discard)
	require.NoError(t, err)
	r := a.Router()
	transport.Register(r, endpoint.Set{}, transport.Options{JWKS: func() []byte { return nil }, Revocations: noFeed{}})
	openapitest.Load(t, transport.OpenAPI()).CheckRoutes(t, r)
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
