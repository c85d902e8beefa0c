package transport_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/medisync/medisync/records/endpoint"
	"github.com/medisync/medisync/records/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/openapitest"
)

// TestOpenAPIRoutes holds the router, as the service builds it, to the
// document: no route undocumented, no documented route missing.
func TestOpenAPIRoutes(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Name: "records"}, nil, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r := a.Router()
	transport.Register(r, endpoint.Set{}, nil, transport.Options{})
	openapitest.Load(t, transport.OpenAPI()).CheckRoutes(t, r)
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	h := newHarness(t, 1<<20)
	res, err := http.Get(h.srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !bytes.Equal(body, transport.OpenAPI()) || res.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// The errors http.ServeContent answers in plain text reach the client as
// problem documents, and the conditional answers as the document says.
func TestContentErrorsAreProblems(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("patient", "POST", "/documents?title=note&type=t", strings.NewReader("hello, world"), "Content-Type", "text/plain")
	if r.code != 201 {
		t.Fatalf("upload = %d %s", r.code, r.body)
	}
	id := r.json(t)["id"].(string)
	etag := r.h.Get("ETag")

	r = h.do("patient", "GET", "/documents/"+id+"/content", nil, "Range", "bytes=100-200")
	if r.code != 416 || r.h.Get("Content-Type") != "application/problem+json" || r.h.Get("Content-Range") != "bytes */12" {
		t.Fatalf("range outside = %d %q %q %s", r.code, r.h.Get("Content-Type"), r.h.Get("Content-Range"), r.body)
	}
	if p := r.json(t); p["status"] != float64(416) || p["type"] != "about:blank" {
		t.Fatalf("problem = %v", p)
	}
	r = h.do("patient", "GET", "/documents/"+id+"/content", nil, "If-Match", `"not-the-hash"`)
	if r.code != 412 || r.h.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("failed precondition = %d %q %s", r.code, r.h.Get("Content-Type"), r.body)
	}
	whole := h.do("patient", "GET", "/documents/"+id+"/content", nil)
	if whole.code != 200 || string(whole.body) != "hello, world" || whole.h.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("download = %d %q %s", whole.code, whole.h.Get("Content-Type"), whole.body)
	}
	if r := h.do("patient", "GET", "/documents/"+id+"/content", nil, "If-None-Match", whole.h.Get("ETag")); r.code != 304 {
		t.Fatalf("held copy = %d", r.code)
	}
	if etag == whole.h.Get("ETag") {
		t.Fatalf("the metadata's ETag (version) and the content's (hash) are different tags: %s", etag)
	}
}

// TestFieldsRefusedAsMissingAreRequiredByTheDocument sends each body without
// a field the service answers "is required" for: the harness holds every
// exchange to the document, whose schema must require the field, so that a
// client generated from it cannot leave the field out.
func TestFieldsRefusedAsMissingAreRequiredByTheDocument(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", strings.NewReader(`{"note":{"subjective":"cough"}}`), "Content-Type", "application/json")
	if r.code != 201 {
		t.Fatalf("open = %d %s", r.code, r.body)
	}
	id := r.json(t)["id"].(string)
	for _, c := range []struct{ name, method, path, body string }{
		{"diagnosis display", "POST", "/encounters", `{"diagnoses":[{}]}`},
		{"prescription medication", "POST", "/encounters", `{"prescriptions":[{}]}`},
		{"addendum text", "POST", "/encounters/" + id + "/addenda", `{}`},
		{"entered-in-error reason", "POST", "/encounters/" + id + "/entered-in-error", `{}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("doctor", c.method, c.path, strings.NewReader(c.body), "Content-Type", "application/json")
			if r.code != 400 {
				t.Fatalf("%s = %d %s", c.name, r.code, r.body)
			}
		})
	}
}
