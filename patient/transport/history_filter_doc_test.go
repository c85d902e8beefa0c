package transport_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/transport"
	"github.com/medisync/medisync/shared/openapitest"
)

// The service answers an empty history type or status (alone, among
// others, or as a comma-separated part) with a 400 naming it. The document
// a client is generated from must say so too: by docs/architecture.md
// ("Query strings") a parameter whose document accepts "" reads as absent,
// and the document's items are plain strings, which accept "".
func TestTheDocumentRefusesAnEmptyHistoryFilter(t *testing.T) {
	doc := openapitest.Load(t, transport.OpenAPI())
	router, err := gorillamux.NewRouter(doc.T)
	require.NoError(t, err)
	for _, q := range []string{"?status=", "?type=", "?status=active&status=", "?type=NOTE&type="} {
		req := httptest.NewRequest("GET", "/api/v1/patients/0b3f7a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b/history"+q, nil)
		route, params, err := router.FindRoute(req)
		require.NoError(t, err, q)
		err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		})
		assert.Error(t, err, "the service answers %s with a 400 naming the parameter; the document accepts it", q)
	}
}
