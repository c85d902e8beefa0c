package openapitest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/openapitest"
)

const doc = `openapi: 3.0.3
info: { title: t, version: "1" }
paths:
  /things/{id}:
    parameters:
      - { name: X-Tenant, in: header, schema: { type: string } }
    get:
      parameters:
        - { name: id, in: path, required: true, schema: { type: string, format: uuid } }
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [name]
                properties: { name: { type: string } }
        "400": { description: bad }
  /things:
    post:
      parameters:
        - { name: dry, in: query, schema: { type: boolean } }
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [name]
              properties:
                name: { type: string }
                note: { type: string }
                reason: { type: string, x-required-for: [ADMIN] }
                parts:
                  type: array
                  items:
                    type: object
                    required: [k]
                    properties: { k: { type: string }, v: { type: string } }
                where:
                  type: object
                  properties: { a: { type: string }, b: { type: string } }
                  anyOf:
                    - required: [a]
                    - maxProperties: 0
      responses:
        "201": { description: created }
        "400": { description: bad }
`

func router() *mux.Router {
	r := mux.NewRouter()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	r.Handle("/things/{id}", ok).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/things", ok).Methods(http.MethodPost)
	return r
}

func TestRouterOperations(t *testing.T) {
	d := openapitest.Load(t, []byte(doc))
	ops, err := openapitest.RouterOperations(router())
	require.NoError(t, err)
	assert.Equal(t, d.Operations(), ops, "HEAD beside GET is the GET's")
	d.CheckRoutes(t, router())

	r := router()
	r.Handle("/extra", http.NotFoundHandler()).Methods(http.MethodDelete)
	ops, err = openapitest.RouterOperations(r)
	require.NoError(t, err)
	assert.Contains(t, ops, openapitest.Operation{Method: "DELETE", Path: "/extra"})

	r.Handle("/nomethod", http.NotFoundHandler())
	_, err = openapitest.RouterOperations(r)
	assert.Error(t, err, "a route without methods cannot be compared")
}

func exchange(method, target, reqBody string, status int, respBody string) openapitest.Exchange {
	h := http.Header{}
	if respBody != "" {
		h.Set("Content-Type", "application/json")
	}
	req := httptest.NewRequest(method, target, strings.NewReader(reqBody))
	if reqBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return openapitest.Exchange{Request: req, RequestBody: []byte(reqBody), Status: status, Header: h, ResponseBody: []byte(respBody)}
}

// required is a validation problem naming field with msg.
func required(field, msg string) string {
	return `{"errors":[{"field":"` + field + `","message":"` + msg + `"}]}`
}

func TestCheck(t *testing.T) {
	d := openapitest.Load(t, []byte(doc))
	const id = "/things/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	for name, tc := range map[string]struct {
		x    openapitest.Exchange
		fail string
	}{
		"as documented":                  {x: exchange("GET", id, "", 200, `{"name":"a"}`)},
		"renamed answer field":           {x: exchange("GET", id, "", 200, `{"title":"a"}`), fail: "does not allow"},
		"undocumented status":            {x: exchange("GET", id, "", 418, `{"name":"a"}`), fail: "does not allow"},
		"refused request, refused":       {x: exchange("GET", "/things/nope", "", 400, "")},
		"refused request, accepted":      {x: exchange("POST", "/things", `{"title":"a"}`, 201, ""), fail: "refuses the request"},
		"unknown path answered 404":      {x: exchange("GET", "/elsewhere", "", 404, "")},
		"unknown path answered 200":      {x: exchange("GET", "/elsewhere", "", 200, ""), fail: "not in the document"},
		"wrong method answered 405":      {x: exchange("DELETE", "/things", "", 405, "")},
		"HEAD checked as GET":            {x: exchange("HEAD", id, "", 200, "")},
		"created with a valid body":      {x: exchange("POST", "/things", `{"name":"a"}`, 201, "")},
		"a required field said required": {x: exchange("POST", "/things", `{}`, 400, required("name", "is required"))},
		"a required item field said required": {
			x: exchange("POST", "/things", `{"name":"a","parts":[{}]}`, 400, required("parts[0].k", "is required")),
		},
		"an optional field said required": {
			x: exchange("POST", "/things", `{"name":"a"}`, 400, required("note", "is required: a note says why")), fail: `"note" is required`,
		},
		"an optional item field said required": {
			x: exchange("POST", "/things", `{"name":"a","parts":[{"k":"a"}]}`, 400, required("parts[0].v", "is required")), fail: `"parts[0].v" is required`,
		},
		"an optional parameter said required": {
			x: exchange("POST", "/things", `{"name":"a"}`, 400, required("dry", "is required")), fail: `query parameter "dry" is required`,
		},
		"a field an anyOf branch requires said required": {
			x: exchange("POST", "/things", `{"name":"a","where":{"b":"x"}}`, 400, required("where.a", "is required")),
		},
		"a field no branch requires said required": {
			x: exchange("POST", "/things", `{"name":"a","where":{"a":"x"}}`, 400, required("where.b", "is required")), fail: `"where.b" is required`,
		},
		"an optional field sent empty said required": {
			x: exchange("POST", "/things", `{"name":"a","note":""}`, 400, required("note", "is required")),
		},
		"an optional item field sent blank said required": {
			x: exchange("POST", "/things", `{"name":"a","parts":[{"k":"a","v":" "}]}`, 400, required("parts[0].v", "is required")),
		},
		"an optional parameter sent empty said required": {
			x: exchange("POST", "/things?dry=", `{"name":"a"}`, 400, required("dry", "is required")),
		},
		"a field the document does not name said required": {
			x: exchange("POST", "/things", `{"name":"a"}`, 400, required("title", "is required")), fail: `names no such field`,
		},
		"a path's optional parameter said required": {
			x: exchange("GET", id, "", 400, required("X-Tenant", "is required")), fail: `header parameter "X-Tenant" is required`,
		},
		"a field required of some roles":   {x: exchange("POST", "/things", `{"name":"a"}`, 400, required("reason", "is required: a, b or c"))},
		"a condition on an optional field": {x: exchange("POST", "/things", `{"name":"a"}`, 400, required("note", "is required when parts are set"))},
	} {
		t.Run(name, func(t *testing.T) {
			err := d.Check(tc.x)
			if tc.fail == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.fail)
		})
	}
}

func TestHandlerPassesAnswersThrough(t *testing.T) {
	d := openapitest.Load(t, []byte(doc))
	h := d.Handler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"name":"` + mux.Vars(r)["id"] + `"}`))
	}))
	r := mux.NewRouter()
	r.Handle("/things/{id}", h)
	srv := httptest.NewServer(r)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/things/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)

	c := &http.Client{Transport: d.Transport(t, nil)}
	res, err = c.Get(srv.URL + "/things/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, 200, res.StatusCode)
}

func TestParseRefusesAnInvalidDocument(t *testing.T) {
	_, err := openapitest.Parse([]byte("openapi: 3.0.3\ninfo: { title: t, version: 1, description: a, b }\npaths: {}\n"))
	assert.Error(t, err, "an unquoted comma in a flow mapping")
	_, err = openapitest.Parse([]byte("openapi: 3.0.3\ninfo: { title: t, version: \"1\" }\npaths:\n  /x:\n    get:\n      responses: {}\n"))
	assert.Error(t, err, "an operation without answers")
}
