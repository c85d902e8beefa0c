package edge

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/medisync/medisync/gateway/route"
)

// safelisted are the headers browsers send, or let scripts read, without
// CORS naming them (Fetch standard, "CORS-safelisted" request and response
// headers), and Content-Length.
var safelisted = map[string]bool{
	"accept": true, "accept-language": true, "content-language": true, "content-type": true,
	"cache-control": true, "content-length": true, "expires": true, "last-modified": true, "pragma": true,
}

// Every header a routed service's OpenAPI document takes or answers is in
// the CORS lists, so a new one cannot be added to a service and stay out of
// reach of browsers.
func TestCORSListsCoverTheServicesDocuments(t *testing.T) {
	allowed := listed(corsAllowHeaders[0])
	exposed := listed(corsExposeHeaders[0])
	seen := map[string]bool{}
	for _, sp := range route.Defaults() {
		if seen[sp.Service] {
			continue
		}
		seen[sp.Service] = true
		raw, err := os.ReadFile("../../" + sp.Service + "/transport/openapi.yaml")
		require.NoError(t, err)
		var doc any
		require.NoError(t, yaml.Unmarshal(raw, &doc), sp.Service)
		in, out := documentHeaders(doc)
		for _, h := range in {
			assert.True(t, allowed[h] || safelisted[h], "%s takes %s: Access-Control-Allow-Headers lacks it", sp.Service, h)
		}
		for _, h := range out {
			assert.True(t, exposed[h] || safelisted[h], "%s answers %s: Access-Control-Expose-Headers lacks it", sp.Service, h)
		}
	}
}

func listed(v string) map[string]bool {
	out := map[string]bool{}
	for _, n := range strings.Split(v, ",") {
		out[strings.ToLower(strings.TrimSpace(n))] = true
	}
	return out
}

// documentHeaders returns, lower-cased, the header parameters of an OpenAPI
// document (in: header) and the names of its response headers. Names under
// components/headers are keys of reusable definitions, not header names.
func documentHeaders(doc any) (in, out []string) {
	ins, outs := map[string]bool{}, map[string]bool{}
	var walk func(v any, parent string)
	walk = func(v any, parent string) {
		switch v := v.(type) {
		case map[string]any:
			if v["in"] == "header" {
				if n, ok := v["name"].(string); ok {
					ins[strings.ToLower(n)] = true
				}
			}
			for k, c := range v {
				if h, ok := c.(map[string]any); ok && k == "headers" && parent != "components" {
					for n := range h {
						outs[strings.ToLower(n)] = true
					}
				}
				walk(c, k)
			}
		case []any:
			for _, c := range v {
				walk(c, parent)
			}
		}
	}
	walk(doc, "")
	for n := range ins {
		in = append(in, n)
	}
	for n := range outs {
		out = append(out, n)
	}
	sort.Strings(in)
	sort.Strings(out)
	return in, out
}
