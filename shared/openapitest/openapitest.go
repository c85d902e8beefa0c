// Package openapitest holds a service to its OpenAPI document in tests: the
// routes of its router against the document's paths, and every request and
// answer of its HTTP tests against the document's schemas.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gorilla/mux"
)

// Doc is a loaded, valid OpenAPI document.
type Doc struct {
	T      *openapi3.T
	router routers.Router
}

// registerDecoders teaches the validator the media types served as opaque
// text (pages, documents); their schemas are plain strings.
var registerDecoders = sync.OnceFunc(func() {
	for _, ct := range []string{"text/html", "text/javascript"} {
		if openapi3filter.RegisteredBodyDecoder(ct) == nil {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
		}
	}
})

// Parse loads raw and validates it as an OpenAPI document. The document's
// servers are dropped, so that requests to any test server match its paths.
func Parse(raw []byte) (*Doc, error) {
	registerDecoders()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("invalid document: %w", err)
	}
	doc.Servers = nil
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route document: %w", err)
	}
	return &Doc{T: doc, router: r}, nil
}

// Load is Parse that fails the test on an error.
func Load(t testing.TB, raw []byte) *Doc {
	t.Helper()
	d, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Operation is one method on one path template.
type Operation struct{ Method, Path string }

func (o Operation) String() string { return o.Method + " " + o.Path }

// Operations lists the document's operations, sorted.
func (d *Doc) Operations() []Operation {
	var out []Operation
	for path, item := range d.T.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, Operation{Method: method, Path: path})
		}
	}
	sortOps(out)
	return out
}

// RouterOperations walks r (mux.Router.Walk) and lists its operations. HEAD
// is left out where GET is served on the same path: the document's GET
// describes both.
func RouterOperations(r *mux.Router) ([]Operation, error) {
	var out []Operation
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return nil // a route without a path (a matcher only) serves no operation of its own
		}
		methods, err := route.GetMethods()
		if err != nil {
			return fmt.Errorf("route %s has no method: every route names its methods", path)
		}
		for _, m := range methods {
			if m == http.MethodHead && slices.Contains(methods, http.MethodGet) {
				continue
			}
			out = append(out, Operation{Method: m, Path: path})
		}
		return nil
	})
	sortOps(out)
	return out, err
}

func sortOps(ops []Operation) {
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
}

// CheckRoutes fails the test when a route of r is missing from the document
// or the document names an operation r does not serve.
func (d *Doc) CheckRoutes(t testing.TB, r *mux.Router) {
	t.Helper()
	served, err := RouterOperations(r)
	if err != nil {
		t.Fatal(err)
	}
	documented := d.Operations()
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("route %s is served but not in the OpenAPI document", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("the OpenAPI document names %s, which the router does not serve", op)
		}
	}
}

// Exchange is one request and its answer, read in full.
type Exchange struct {
	Request      *http.Request
	RequestBody  []byte
	Status       int
	Header       http.Header
	ResponseBody []byte
}

// Check holds one exchange to the document:
//   - a request to a path or method the document does not name must have
//     been answered 404 or 405;
//   - a request the document refuses must have been refused (4xx), so a
//     field renamed in the code and not in the document is caught;
//   - every answer, problems included, must be one the document declares
//     for the operation: its status, headers and body.
func (d *Doc) Check(x Exchange) error {
	req := x.Request.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
	method := req.Method
	if method == http.MethodHead {
		req.Method = http.MethodGet
	}
	route, params, err := d.router.FindRoute(req)
	if err != nil {
		if x.Status == http.StatusNotFound || x.Status == http.StatusMethodNotAllowed {
			return nil
		}
		return fmt.Errorf("%s %s is not in the document, yet answered %d", method, req.URL.Path, x.Status)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil && x.Status < 400 {
		return fmt.Errorf("%s %s: the document refuses the request, yet it was answered %d:\n%v\nbody: %s",
			method, req.URL.Path, x.Status, reqErr, x.RequestBody)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.Status,
		Header:                 x.Header,
		Body:                   io.NopCloser(bytes.NewReader(x.ResponseBody)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, MultiError: true,
			ExcludeResponseBody: method == http.MethodHead || x.Status == http.StatusNotModified,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s %s answered %d, which the document does not allow:\n%v\nbody: %s",
			method, req.URL.Path, x.Status, err, x.ResponseBody)
	}
	if x.Status == http.StatusBadRequest {
		if err := checkRequired(route, req, x.RequestBody, x.ResponseBody); err != nil {
			return fmt.Errorf("%s %s: %w", method, req.URL.Path, err)
		}
	}
	return nil
}

// checkRequired holds a 400 problem that names a field "is required" to the
// document. The field is looked up in the request body's schema ("a.b",
// "a[0].b"), then among the operation's and its path's parameters; one the
// document does not name at all fails, as no client generated from it could
// send it. A field the request left out fails when the document lets a
// client leave it out; one the request sent, empty or blank, was not left
// out, and its value is for the schema's minLength or pattern to refuse. A
// property may say it is required of some roles only (x-required-for:
// [ADMIN, DOCTOR]), which `required` cannot.
func checkRequired(route *routers.Route, req *http.Request, reqBody, body []byte) error {
	var p struct {
		Errors []struct{ Field, Message string }
	}
	if json.Unmarshal(body, &p) != nil {
		return nil
	}
	var sent any
	_ = json.Unmarshal(reqBody, &sent) // a body that does not parse holds no field
	op := route.Operation
	var errs []error
	for _, fe := range p.Errors {
		if !saysRequired(fe.Message) || fe.Field == "" {
			continue
		}
		if found, required := requiredInBody(op, fe.Field); found {
			if !required && !holds(sent, fe.Field) {
				errs = append(errs, fmt.Errorf("the answer says %q is required; the request body's schema does not require it", fe.Field))
			}
			continue
		}
		prm := parameter(route, fe.Field)
		switch {
		case prm == nil:
			errs = append(errs, fmt.Errorf("the answer says %q is required; the document names no such field of the request body and no such parameter", fe.Field))
		case !prm.Required && !parameterSent(req, prm):
			errs = append(errs, fmt.Errorf("the answer says %s parameter %q is required; the document does not require it", prm.In, fe.Field))
		}
	}
	return errors.Join(errs...)
}

// parameter finds the parameter named field among the operation's and its
// path's; a header's name is matched regardless of case.
func parameter(route *routers.Route, field string) *openapi3.Parameter {
	var refs openapi3.Parameters
	refs = append(refs, route.Operation.Parameters...)
	if route.PathItem != nil {
		refs = append(refs, route.PathItem.Parameters...)
	}
	for _, ref := range refs {
		prm := ref.Value
		if prm == nil {
			continue
		}
		if prm.Name == field || (prm.In == openapi3.ParameterInHeader && strings.EqualFold(prm.Name, field)) {
			return prm
		}
	}
	return nil
}

// parameterSent reports whether the request carried prm, empty or not.
func parameterSent(req *http.Request, prm *openapi3.Parameter) bool {
	switch prm.In {
	case openapi3.ParameterInQuery:
		return req.URL.Query().Has(prm.Name)
	case openapi3.ParameterInHeader:
		_, ok := req.Header[http.CanonicalHeaderKey(prm.Name)]
		return ok
	case openapi3.ParameterInCookie:
		_, err := req.Cookie(prm.Name)
		return err == nil
	}
	return true // a path parameter is always there
}

// holds reports whether the request's JSON v holds field ("a.b", "a[0].b"),
// whatever its value.
func holds(v any, field string) bool {
	for _, part := range strings.Split(field, ".") {
		name, idx, _ := strings.Cut(part, "[")
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = obj[name]; !ok {
			return false
		}
		for idx != "" {
			var n string
			n, idx, _ = strings.Cut(idx, "]")
			idx = strings.TrimPrefix(idx, "[")
			i, err := strconv.Atoi(n)
			arr, ok := v.([]any)
			if err != nil || !ok || i < 0 || i >= len(arr) {
				return false
			}
			v = arr[i]
		}
	}
	return true
}

// saysRequired reports whether a field error's message is "is required",
// possibly followed by an explanation (": …", " (…)"). A condition ("is
// required when code is set") is one a schema's `required` cannot say.
func saysRequired(msg string) bool {
	rest, ok := strings.CutPrefix(msg, "is required")
	return ok && (rest == "" || strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, " ("))
}

// requiredInBody resolves field in op's JSON request body schema and
// reports whether it was found and whether its object requires it.
func requiredInBody(op *openapi3.Operation, field string) (found, required bool) {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return false, false
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return false, false
	}
	var segs []string
	for _, part := range strings.Split(field, ".") {
		name, _, _ := strings.Cut(part, "[") // an index steps into the array's items
		segs = append(segs, name)
	}
	return lookup(mt.Schema.Value, segs)
}

// lookup walks segs down s: properties, array items and the branches of
// allOf, oneOf and anyOf; a branch that requires the field suffices.
func lookup(s *openapi3.Schema, segs []string) (found, required bool) {
	if s == nil {
		return false, false
	}
	for s.Items != nil && s.Items.Value != nil && len(s.Properties) == 0 {
		s = s.Items.Value
	}
	if prop, ok := s.Properties[segs[0]]; ok {
		if len(segs) == 1 {
			_, byRole := prop.Value.Extensions["x-required-for"]
			return true, slices.Contains(s.Required, segs[0]) || byRole || branchRequires(s, segs[0])
		}
		if f, r := lookup(prop.Value, segs[1:]); f {
			return f, r
		}
	}
	for _, branches := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
		for _, b := range branches {
			if f, r := lookup(b.Value, segs); f {
				found = true
				if r {
					return true, true
				}
			}
		}
	}
	return found, false
}

// branchRequires reports whether a branch of s's allOf, oneOf or anyOf
// lists name in its required: an object that is either empty or complete
// (anyOf [{required: [...]}, {...}]) requires its fields in a branch only.
func branchRequires(s *openapi3.Schema, name string) bool {
	for _, branches := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
		for _, b := range branches {
			if b.Value != nil && slices.Contains(b.Value.Required, name) {
				return true
			}
		}
	}
	return false
}

// Handler serves h, checking every exchange against the document; a
// mismatch fails t. Answers reach the client as h writes them.
func (d *Doc) Handler(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readAll(r)
		if err != nil {
			t.Errorf("openapitest: read request body: %v", err)
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		u := *r.URL
		req := r.Clone(context.Background())
		req.URL = &u
		if err := d.Check(Exchange{Request: req, RequestBody: body, Status: rec.status, Header: w.Header(), ResponseBody: rec.body.Bytes()}); err != nil {
			t.Errorf("openapitest: %v", err)
		}
	})
}

// Transport sends requests with base (http.DefaultTransport when nil),
// checking every exchange against the document; a mismatch fails t.
func (d *Doc) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		body, err := readAll(r)
		if err != nil {
			return nil, err
		}
		res, err := base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		raw, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("openapitest: read answer: %w", err)
		}
		res.Body = io.NopCloser(bytes.NewReader(raw))
		req := r.Clone(context.Background())
		req.URL = &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		if err := d.Check(Exchange{Request: req, RequestBody: body, Status: res.StatusCode, Header: res.Header, ResponseBody: raw}); err != nil {
			t.Errorf("openapitest: %v", err)
		}
		return res, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// readAll reads r's body and puts it back for the handler.
func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	raw, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return raw, err
	}
	return raw, nil
}

// recorder copies what a handler writes.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes flushes through.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
