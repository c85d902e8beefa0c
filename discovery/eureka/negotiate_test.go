package eureka_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Listings are XML unless Accept names JSON first, as Eureka's server
// answers: Prometheus's eureka_sd_configs sends no Accept header.
func TestListingEncodingFollowsEurekasDefault(t *testing.T) {
	_, srv := server(t)
	for accept, want := range map[string]string{
		"":                                  "application/xml",
		"*/*":                               "application/xml",
		"application/xml":                   "application/xml",
		"application/json":                  "application/json",
		"application/json, application/xml": "application/json",
		"application/xml, application/json": "application/xml",
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/eureka/apps", nil)
		require.NoError(t, err)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.Header.Get("Content-Type"), "Accept %q", accept)
	}
}
