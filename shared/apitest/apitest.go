// Package apitest sends requests to a service under test and reads its JSON and problem answers.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Response is an answer read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as one JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// Fields returns the field names of a validation problem, in its order.
func (r Response) Fields(t testing.TB) []string {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &p), "body: %s", r.Body)
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// Refused fails t unless r is a 4xx problem+json whose status is the
// answer's, and returns the fields it names, in its order; what says which
// request it answered.
func Refused(t testing.TB, what string, r Response) []string {
	t.Helper()
	var p struct {
		Status int
		Errors []struct{ Field string } `json:"errors"`
	}
	if r.Status < 400 || r.Status >= 500 || r.Header.Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal(r.Body, &p) != nil || p.Status != r.Status {
		t.Fatalf("%s: %d is not a refusal: %s", what, r.Status, r.Body)
	}
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// JSONText is s as a JSON body carries it to a service: encoding/json
// turns bytes that are not UTF-8 into U+FFFD.
func JSONText(s string) string {
	raw, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(raw, &out)
	return out
}

// NewRequest builds a request to url. body may be nil (no body), a string
// (sent as is) or any other value (sent as JSON); with a body the
// Content-Type is application/json. headers come in name, value pairs and
// are set last, so they may replace the Content-Type.
func NewRequest(t testing.TB, method, url string, body any, headers ...string) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// Bearer returns the Authorization header pair that carries token, or no
// pair for the empty token.
func Bearer(token string) []string {
	if token == "" {
		return nil
	}
	return []string{"Authorization", "Bearer " + token}
}

// Do sends req with c and reads the whole answer.
func Do(t testing.TB, c *http.Client, req *http.Request) Response {
	t.Helper()
	res, err := c.Do(req)
	require.NoError(t, err, "%s %s", req.Method, req.URL)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// Serve hands req to h in-process, as a server would have received it from
// the address httptest.NewRequest uses, and returns what h wrote.
func Serve(h http.Handler, req *http.Request) Response {
	if req.Host == "" {
		req.Host = "example.com"
	}
	if req.RemoteAddr == "" {
		req.RemoteAddr = "192.0.2.1:1234"
	}
	req.RequestURI = req.URL.RequestURI()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return Response{Status: rec.Code, Header: rec.Result().Header, Body: rec.Body.Bytes()}
}

// Str returns the string at key of the JSON object, or "" when there is none.
func (r Response) Str(t testing.TB, key string) string {
	t.Helper()
	v, _ := r.JSON(t)[key].(string)
	return v
}
