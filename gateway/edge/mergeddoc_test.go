package edge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/apidoc"
	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/shared/openapitest"
)

// mergedDoc is the document the gateway serves at /openapi.yaml, built from
// the services' files as gateway-openapi builds it for the e2e client.
func mergedDoc(t *testing.T) *openapitest.Doc {
	t.Helper()
	table, err := route.New(route.Defaults())
	require.NoError(t, err)
	docs := map[string][]byte{}
	for _, svc := range table.Services() {
		raw, err := os.ReadFile("../../" + svc + "/transport/openapi.yaml")
		require.NoError(t, err)
		docs[svc] = raw
	}
	merged, err := apidoc.Merge(table, docs)
	require.NoError(t, err)
	return openapitest.Load(t, merged)
}

// The gateway refuses a query string that does not parse with a 400
// validation problem on every route, before the token, as every service's
// httpmw.Query does: the merged document lists it on every operation,
// those without parameters of their own included.
func TestGatewayAnswersAreInTheMergedDocument(t *testing.T) {
	doc := mergedDoc(t)
	h := newHarness(t, options{})
	tok := h.token("u1")
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/.well-known/jwks.json?v=%zz"},
		{http.MethodGet, "/api/v1/auth/me?v=%zz"},
		{http.MethodGet, "/api/v1/patients/me?v=%zz"},
		{http.MethodGet, "/api/v1/doctors/me?v=%zz"},
		{http.MethodGet, "/api/v1/appointments/waitlist?v=%zz"},
		{http.MethodGet, "/api/v1/notifications/me/preferences?v=%zz"},
		{http.MethodPost, "/api/v1/notifications/me/read-all?v=%zz"},
	} {
		hr := httptest.NewRequest(c.method, c.path, nil)
		hr.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, hr)
		body, _ := io.ReadAll(rec.Result().Body)
		if err := doc.Check(openapitest.Exchange{Request: hr, Status: rec.Code, Header: rec.Header(), ResponseBody: body}); err != nil {
			t.Errorf("%v", err)
		}
	}
}
