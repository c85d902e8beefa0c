package apidoc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/medisync/medisync/gateway/apidoc"
	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/openapitest"
)

func defaultTable(t *testing.T) *route.Table {
	t.Helper()
	table, err := route.New(route.Defaults())
	require.NoError(t, err)
	return table
}

// serviceDocs reads the documents of the services the default table
// routes to, from their transports in the workspace.
func serviceDocs(t *testing.T, table *route.Table) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{}
	for _, svc := range table.Services() {
		raw, err := os.ReadFile("../../" + svc + "/transport/openapi.yaml")
		require.NoError(t, err, "every routed service serves a document")
		docs[svc] = raw
	}
	return docs
}

func TestMergeOfTheServicesDocuments(t *testing.T) {
	table := defaultTable(t)
	merged, err := apidoc.Merge(table, serviceDocs(t, table))
	require.NoError(t, err)
	doc := openapitest.Load(t, merged) // a valid OpenAPI document

	ops := doc.Operations()
	assert.Contains(t, ops, openapitest.Operation{Method: "GET", Path: "/api/v1/doctors/{id}"})
	assert.Contains(t, ops, openapitest.Operation{Method: "POST", Path: "/api/v1/auth/login"})
	assert.Contains(t, ops, openapitest.Operation{Method: "GET", Path: "/.well-known/jwks.json"})
	own := map[string]bool{apidoc.DocumentPath: true, apidoc.PagePath: true, apidoc.ScriptPath: true}
	for _, op := range ops {
		if own[op.Path] {
			continue // the gateway's own reference paths
		}
		assert.True(t, strings.HasPrefix(op.Path, "/api/v1/") || op.Path == "/.well-known/jwks.json",
			"%s is not a route of the gateway", op)
		rt, _ := table.Match(op.Method, strings.NewReplacer("{id}", "x", "{entryId}", "y").Replace(op.Path))
		assert.NotNil(t, rt, "%s is not routed", op)
	}

	assert.NotContains(t, doc.T.Components.Schemas, "RevocationPage", "the internal feed's schema goes with it")
	assert.NotContains(t, doc.T.Components.Schemas, "Health")
	for _, tag := range doc.T.Tags {
		assert.NotEqual(t, "operations", tag.Name, "a tag no kept operation names is dropped")
	}

	login := doc.T.Paths.Find("/api/v1/auth/login").Post
	require.NotNil(t, login.Security)
	assert.Empty(t, *login.Security, "a public route needs no token")
	search := doc.T.Paths.Find("/api/v1/doctors").Get
	require.NotNil(t, search.Security)
	assert.Equal(t, "bearerAuth", firstScheme(*search.Security), "inherited from the doctor document")
	for _, status := range []string{"429", "502", "503", "504"} {
		assert.NotNil(t, search.Responses.Value(status), "the gateway's own %s", status)
	}
}

func firstScheme(reqs openapi3.SecurityRequirements) string {
	for _, r := range reqs {
		for k := range r {
			return k
		}
	}
	return ""
}

const docA = `openapi: 3.0.3
info: { title: a, version: "1" }
paths:
  /api/v1/auth/me:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Thing" }
components:
  schemas:
    Thing: { type: object, properties: { a: { type: string } } }
    Same: { type: string }
`

const docB = `openapi: 3.0.3
info: { title: b, version: "1" }
security: []
paths:
  /api/v1/doctors/{id}:
    get:
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Holder" }
  /metrics:
    get:
      responses:
        "200": { description: ok }
components:
  schemas:
    Thing: { type: object, properties: { b: { type: integer } } }
    Holder: { type: object, properties: { thing: { $ref: "#/components/schemas/Thing" }, same: { $ref: "#/components/schemas/Same" } } }
    Same: { type: string }
`

func TestMergeRenamesDifferingComponentsAndDropsUnroutedPaths(t *testing.T) {
	merged, err := apidoc.Merge(defaultTable(t), map[string][]byte{"auth": []byte(docA), "doctor": []byte(docB)})
	require.NoError(t, err)
	openapitest.Load(t, merged)

	var m struct {
		Paths      map[string]any
		Components struct{ Schemas map[string]any }
	}
	require.NoError(t, yaml.Unmarshal(merged, &m))
	assert.NotContains(t, m.Paths, "/metrics", "not routed by the gateway")
	assert.Contains(t, m.Components.Schemas, "Thing")
	assert.Contains(t, m.Components.Schemas, "doctor_Thing", "the later, different Thing is renamed")
	assert.Contains(t, m.Components.Schemas, "Same")
	assert.NotContains(t, m.Components.Schemas, "doctor_Same", "identical components are kept once")
	assert.Contains(t, string(merged), `$ref: '#/components/schemas/doctor_Thing'`)
}

// docServer answers /openapi.yaml with a document, or fails while down.
type docServer struct {
	doc   string
	down  atomic.Bool
	calls atomic.Int32
}

func (d *docServer) RoundTrip(r *http.Request) (*http.Response, error) {
	d.calls.Add(1)
	if d.down.Load() {
		return nil, errors.New("connection refused")
	}
	if r.URL.Path != apidoc.DocumentPath {
		return &http.Response{StatusCode: 404, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(d.doc)), Request: r}, nil
}

func TestSourceCachesAndSurvivesAServiceDown(t *testing.T) {
	table, err := route.New([]route.Spec{
		{Path: "/api/v1/auth/**", Service: "auth"},
		{Path: "/api/v1/doctors/**", Service: "doctor"},
	})
	require.NoError(t, err)
	a, d := &docServer{doc: docA}, &docServer{doc: docB}
	d.down.Store(true)
	c := clocktest.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	var logs logtest.Buffer
	src := &apidoc.Source{Table: table, Upstreams: map[string]http.RoundTripper{"auth": a, "doctor": d}, TTL: time.Minute, Clock: c,
		Logger: log.NewLogfmtLogger(&logs)}
	ctx := context.Background()

	doc, err := src.Document(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(doc), "/api/v1/auth/me")
	assert.NotContains(t, string(doc), "/api/v1/doctors/{id}", "a service down is left out")
	// The service is the line's peer: "service" names the process writing
	// it (docs/logging.md).
	assert.Contains(t, logs.String(), "peer=doctor ")
	assert.NotContains(t, logs.String(), "service=")

	d.down.Store(false)
	doc, err = src.Document(ctx)
	require.NoError(t, err)
	assert.NotContains(t, string(doc), "/api/v1/doctors/{id}", "within a second, not asked again")
	c.Advance(2 * time.Second)
	doc, err = src.Document(ctx)
	require.NoError(t, err)
	assert.NotContains(t, string(doc), "/api/v1/doctors/{id}", "the last merge is served while the services are asked again")
	apidoc.Settle(src)
	doc, err = src.Document(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(doc), "/api/v1/doctors/{id}", "a missing service is asked again soon")

	calls := a.calls.Load()
	_, err = src.Document(ctx)
	require.NoError(t, err)
	assert.Equal(t, calls, a.calls.Load(), "complete and fresh: served from the cache")

	d.down.Store(true)
	c.Advance(2 * time.Minute)
	_, err = src.Document(ctx)
	require.NoError(t, err)
	apidoc.Settle(src)
	doc, err = src.Document(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(doc), "/api/v1/doctors/{id}", "a service down keeps its last document")
}

func TestDocumentHandlerWithoutAnyService(t *testing.T) {
	table, err := route.New([]route.Spec{{Path: "/api/v1/auth/**", Service: "auth"}})
	require.NoError(t, err)
	down := &docServer{}
	down.down.Store(true)
	src := &apidoc.Source{Table: table, Upstreams: map[string]http.RoundTripper{"auth": down}}
	rec := httptest.NewRecorder()
	src.DocumentHandler().ServeHTTP(rec, httptest.NewRequest("GET", apidoc.DocumentPath, nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
}

func TestPageAndScriptAreEmbedded(t *testing.T) {
	rec := httptest.NewRecorder()
	apidoc.PageHandler().ServeHTTP(rec, httptest.NewRequest("GET", apidoc.PagePath, nil))
	assert.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/html")
	page := rec.Body.String()
	assert.Contains(t, page, `spec-url="`+apidoc.DocumentPath+`"`)
	assert.Contains(t, page, `src="`+apidoc.ScriptPath+`"`)
	assert.NotContains(t, page, "https://", "no asset from elsewhere")
	csp := rec.Header().Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'self'")
	assert.NotContains(t, csp, "unsafe-eval")

	rec = httptest.NewRecorder()
	apidoc.ScriptHandler().ServeHTTP(rec, httptest.NewRequest("GET", apidoc.ScriptPath, nil))
	assert.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "javascript")
	assert.Greater(t, rec.Body.Len(), 500_000, "the Redoc bundle")
}

// One service deploying a document the merge refuses keeps the last good
// reference up for everyone, and the gateway asks the services again at
// most once a second, not on every request.
func TestSourceKeepsTheLastMergeWhenADocumentBreaksIt(t *testing.T) {
	table, err := route.New([]route.Spec{
		{Path: "/api/v1/auth/**", Service: "auth"},
		{Path: "/api/v1/doctors/**", Service: "doctor"},
	})
	require.NoError(t, err)
	a, d := &docServer{doc: docA}, &docServer{doc: docB}
	c := clocktest.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	var logs logtest.Buffer
	src := &apidoc.Source{Table: table, Upstreams: map[string]http.RoundTripper{"auth": a, "doctor": d}, TTL: time.Minute, Clock: c,
		Logger: log.NewLogfmtLogger(&logs)}
	ctx := context.Background()
	good, err := src.Document(ctx)
	require.NoError(t, err)

	d.doc = "paths: [unclosed"
	c.Advance(2 * time.Minute)
	before := a.calls.Load()
	for range 10 {
		doc, err := src.Document(ctx)
		require.NoError(t, err, "the last good merge is served")
		assert.Equal(t, string(good), string(doc))
	}
	apidoc.Settle(src)
	for range 10 {
		doc, err := src.Document(ctx)
		require.NoError(t, err, "the last good merge is served")
		assert.Equal(t, string(good), string(doc))
	}
	assert.Equal(t, before+1, a.calls.Load(), "a failed merge is retried after a second, not per request")
	assert.Contains(t, logs.String(), "doctor document")

	// Still broken a second later: the last good documents, not the broken
	// one, are what the next merge starts from.
	c.Advance(2 * time.Second)
	doc, err := src.Document(ctx)
	require.NoError(t, err)
	assert.Equal(t, string(good), string(doc))
	apidoc.Settle(src)
	assert.Equal(t, before+2, a.calls.Load())

	d.doc = docB
	c.Advance(2 * time.Second)
	_, err = src.Document(ctx)
	require.NoError(t, err)
	apidoc.Settle(src)
	doc, err = src.Document(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(doc), "/api/v1/doctors/{id}")
	calls := a.calls.Load()
	_, err = src.Document(ctx)
	require.NoError(t, err)
	assert.Equal(t, calls, a.calls.Load(), "fixed: complete and fresh again, served from the cache")
}

// A merge that fails before any has succeeded is a 503 for the second that
// follows, without asking the services again.
func TestSourceBacksOffAfterAFirstMergeFails(t *testing.T) {
	table, err := route.New([]route.Spec{{Path: "/api/v1/auth/**", Service: "auth"}})
	require.NoError(t, err)
	a := &docServer{doc: "paths: [unclosed"}
	c := clocktest.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	src := &apidoc.Source{Table: table, Upstreams: map[string]http.RoundTripper{"auth": a}, Clock: c}
	for range 5 {
		_, err := src.Document(context.Background())
		require.Error(t, err)
	}
	assert.EqualValues(t, 1, a.calls.Load())
	a.doc = docA
	c.Advance(2 * time.Second)
	doc, err := src.Document(context.Background())
	require.NoError(t, err)
	assert.Contains(t, string(doc), "/api/v1/auth/me")
}
