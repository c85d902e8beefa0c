package transport_test

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/eureka"
	"github.com/medisync/medisync/discovery/transport"
	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/openapitest"
)

// TestOpenAPIRoutes holds the router, as wire builds it, to the document:
// no route undocumented, no documented route missing. The Eureka API's
// routes, under eureka.Prefixes, are Netflix Eureka's and described in the
// README instead; they are left out by prefix, and only they are.
func TestOpenAPIRoutes(t *testing.T) {
	cfg := wire.DefaultConfig()
	s, err := wire.New(cfg, []string{"-insecure-open-registry"}, io.Discard)
	require.NoError(t, err)
	served, err := openapitest.RouterOperations(s.Router)
	require.NoError(t, err)
	var own []openapitest.Operation
	eurekas := map[string]int{}
	for _, op := range served {
		prefix := eurekaPrefix(op.Path)
		if prefix == "" {
			own = append(own, op)
			continue
		}
		eurekas[prefix]++
	}
	for _, p := range eureka.Prefixes {
		assert.Positive(t, eurekas[p], "the Eureka API is served under %s", p)
	}
	doc := openapitest.Load(t, transport.OpenAPI())
	assert.ElementsMatch(t, doc.Operations(), own, "the served routes outside the Eureka API are the document's")
	for _, op := range doc.Operations() {
		assert.Empty(t, eurekaPrefix(op.Path), "the document names %s, a route of the Eureka API", op)
	}
}

// eurekaPrefix is the longest of eureka.Prefixes path lies under, or "".
func eurekaPrefix(path string) string {
	longest := ""
	for _, p := range eureka.Prefixes {
		if (path == p || strings.HasPrefix(path, p+"/")) && len(p) > len(longest) {
			longest = p
		}
	}
	return longest
}
