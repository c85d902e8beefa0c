package httpjson_test

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/problem"
)

type address struct {
	City string `json:"city"`
	Zip  string `json:"zip"`
}

type contact struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type patientIn struct {
	Name     string         `json:"name"`
	Age      int            `json:"age"`
	Active   bool           `json:"active"`
	Address  address        `json:"address"`
	Contacts []contact      `json:"contacts"`
	Weight   *float64       `json:"weight"`
	Labels   map[string]int `json:"labels"`
}

// status is a field type with its own validation, the way domain value
// objects decode themselves.
type status string

func (s *status) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v != "OPEN" && v != "CLOSED" {
		return problem.FieldErrors{{Field: "status", Message: "must be OPEN or CLOSED"}}
	}
	*s = status(v)
	return nil
}

func request(body string, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/patients", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// problemOf asserts err is a *problem.Problem and returns it.
func problemOf(t *testing.T, err error) *problem.Problem {
	t.Helper()
	require.Error(t, err)
	var p *problem.Problem
	require.True(t, errors.As(err, &p), "want a *problem.Problem, got %T: %v", err, err)
	return p
}

func TestDecodeValid(t *testing.T) {
	var in patientIn
	err := httpjson.Decode(request(`{"name":"Ada","age":36,"active":true,"address":{"city":"Paris"},"contacts":[{"kind":"email","value":"a@b.c"}],"weight":61.5}`+"\n", "application/json; charset=utf-8"), &in, 0)

	require.NoError(t, err)
	assert.Equal(t, "Ada", in.Name)
	assert.Equal(t, 36, in.Age)
	assert.True(t, in.Active)
	assert.Equal(t, "Paris", in.Address.City)
	assert.Equal(t, []contact{{Kind: "email", Value: "a@b.c"}}, in.Contacts)
	require.NotNil(t, in.Weight)
	assert.InDelta(t, 61.5, *in.Weight, math.SmallestNonzeroFloat64)
}

func TestDecodeAcceptsJSONContentTypes(t *testing.T) {
	for _, ct := range []string{"", "application/json", "Application/JSON", "application/merge-patch+json"} {
		var in patientIn
		assert.NoError(t, httpjson.Decode(request(`{"name":"Ada"}`, ct), &in, 0), ct)
	}
}

func TestDecodeUnknownFieldIsNamed(t *testing.T) {
	var in patientIn
	p := problemOf(t, httpjson.Decode(request(`{"name":"Ada","isAdmin":true}`, "application/json"), &in, 0))

	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Equal(t, []problem.FieldError{{Field: "isAdmin", Message: "unknown field"}}, p.Errors)
}

// A field is named by its path in the body, as everywhere else
// (docs/architecture.md, "Bodies"): its object's keys and its arrays'
// indexes, never a bare key.
func TestDecodeUnknownNestedFieldIsNamedByItsPath(t *testing.T) {
	for body, field := range map[string]string{
		`{"address":{"city":"Paris","planet":"Earth"}}`:             "address.planet",
		`{"contacts":[{"kind":"email"},{"kind":"email","rank":1}]}`: "contacts[1].rank",
		`{"Address":{"City":"Paris","Planet":"Earth"}}`:             "Address.Planet",
		`{"contacts":[{"rank":1}],"address":{"planet":"Earth"}}`:    "contacts[0].rank",
		`{"address":{"planet":"Earth"},"contacts":[{"kind":1}]}`:    "address.planet",
	} {
		var in patientIn
		p := problemOf(t, httpjson.Decode(request(body, "application/json"), &in, 0))
		assert.Equal(t, http.StatusBadRequest, p.Status, body)
		assert.Equal(t, []problem.FieldError{{Field: field, Message: "unknown field"}}, p.Errors, body)
	}
}

func TestDecodeWrongTypeNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		field string
		msg   string
	}{
		{"string for int", `{"age":"old"}`, "age", "must be an integer, not string"},
		{"number for string", `{"name":42}`, "name", "must be a string, not number"},
		{"fraction for int", `{"age":36.5}`, "age", "must be an integer, not number 36.5"},
		{"string for bool", `{"active":"yes"}`, "active", "must be a boolean, not string"},
		{"object for array", `{"contacts":{}}`, "contacts", "must be an array, not object"},
		{"array for object", `{"address":[]}`, "address", "must be an object, not array"},
		{"string for pointer to number", `{"weight":"heavy"}`, "weight", "must be a number, not string"},
		{"nested field", `{"address":{"zip":75001}}`, "address.zip", "must be a string, not number"},
		{"field inside an array", `{"contacts":[{"kind":1}]}`, "contacts[0].kind", "must be a string, not number"},
		{"field inside the second element", `{"contacts":[{"kind":"email"},{"kind":1}]}`, "contacts[1].kind", "must be a string, not number"},
		{"entry of a map", `{"labels":{"team":7,"floor":"3"}}`, "labels.floor", "must be an integer, not string"},
		{"element for an array", `{"contacts":[{},"x"]}`, "contacts[1]", "must be an object, not string"},
		{"array for the body", `[1,2]`, "body", "must be an object, not array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in patientIn
			p := problemOf(t, httpjson.Decode(request(tc.body, "application/json"), &in, 0))
			assert.Equal(t, http.StatusBadRequest, p.Status)
			assert.Equal(t, []problem.FieldError{{Field: tc.field, Message: tc.msg}}, p.Errors)
		})
	}
}

// An update's body embeds the creation's, as the services' do: a field is
// named by its key in the body, never by the Go type it was promoted from,
// and fields are matched to keys as encoding/json matches them.
func TestDecodeNamesPromotedFieldsByTheirKeys(t *testing.T) {
	type update struct {
		patientIn
		Version int `json:"version"`
	}
	type home struct {
		address `json:"home"`
	}
	type shadowed struct {
		address
		City int `json:"city"`
	}
	for _, tc := range []struct {
		body string
		v    any
		want problem.FieldError
	}{
		{`{"name":7}`, &update{}, problem.FieldError{Field: "name", Message: "must be a string, not number"}},
		{`{"name":"Ada","address":{"zip":75001}}`, &update{}, problem.FieldError{Field: "address.zip", Message: "must be a string, not number"}},
		{`{"contacts":[{"kind":"email","rank":1}]}`, &update{}, problem.FieldError{Field: "contacts[0].rank", Message: "unknown field"}},
		{`{"version":"3"}`, &update{}, problem.FieldError{Field: "version", Message: "must be an integer, not string"}},
		{`{"home":{"zip":1}}`, &home{}, problem.FieldError{Field: "home.zip", Message: "must be a string, not number"}},
		{`{"zip":"75001"}`, &home{}, problem.FieldError{Field: "zip", Message: "unknown field"}},
		{`{"city":"Paris"}`, &shadowed{}, problem.FieldError{Field: "city", Message: "must be an integer, not string"}},
		{`{"zip":75001}`, &shadowed{}, problem.FieldError{Field: "zip", Message: "must be a string, not number"}},
	} {
		p := problemOf(t, httpjson.Decode(request(tc.body, "application/json"), tc.v, 0))
		assert.Equal(t, []problem.FieldError{tc.want}, p.Errors, tc.body)
	}
}

// A string in a json.Number must hold a number: the walk for the field of
// a refused value takes a string where a string is wanted without decoding
// it, but not there.
func TestDecodeNamesAJSONNumberThatHoldsNoNumber(t *testing.T) {
	var in struct {
		Name string        `json:"name"`
		Ns   []json.Number `json:"ns"`
	}
	p := problemOf(t, httpjson.Decode(request(`{"name":"x","ns":[1,"2","two"]}`, "application/json"), &in, 0))
	assert.Equal(t, []problem.FieldError{{Field: "ns[2]", Message: "must be a number"}}, p.Errors)
}

func TestDecodeFieldErrorsFromUnmarshaler(t *testing.T) {
	var in struct {
		Status status `json:"status"`
	}
	p := problemOf(t, httpjson.Decode(request(`{"status":"LOST"}`, "application/json"), &in, 0))

	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Equal(t, []problem.FieldError{{Field: "status", Message: "must be OPEN or CLOSED"}}, p.Errors)
}

func TestDecodeBadBodiesAre400(t *testing.T) {
	tests := []struct {
		name   string
		body   io.Reader
		detail string
	}{
		{"malformed", strings.NewReader(`{"name":"Ada",}`), "malformed JSON at byte"},
		{"cut short", strings.NewReader(`{"name":"Ada"`), "malformed JSON: the body ends early"},
		{"trailing object", strings.NewReader(`{"name":"Ada"}{"name":"Bob"}`), "single JSON object"},
		{"trailing garbage", strings.NewReader(`{"name":"Ada"} x`), "single JSON object"},
		{"empty reader", strings.NewReader(""), "the request body is empty"},
		{"blank", strings.NewReader("  \n"), "the request body is empty"},
		{"no body", nil, "the request body is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", tc.body)
			if tc.body != nil {
				// Hide the reader's type so the request looks streamed.
				r.Body = io.NopCloser(tc.body)
			}
			var in patientIn
			p := problemOf(t, httpjson.Decode(r, &in, 0))
			assert.Equal(t, http.StatusBadRequest, p.Status)
			assert.Contains(t, p.Detail, tc.detail)
		})
	}
}

func TestDecodeNilBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Body = nil
	var in patientIn
	assert.Equal(t, http.StatusBadRequest, problemOf(t, httpjson.Decode(r, &in, 0)).Status)
}

func TestDecodeOversizeIs413(t *testing.T) {
	body := `{"name":"` + strings.Repeat("a", 100) + `"}`
	var in patientIn
	p := problemOf(t, httpjson.Decode(request(body, "application/json"), &in, 50))

	assert.Equal(t, http.StatusRequestEntityTooLarge, p.Status)
	assert.Contains(t, p.Detail, "50 bytes")
}

func TestDecodeOversizeTrailingDataIs413(t *testing.T) {
	body := `{"name":"Ada"}` + strings.Repeat(" ", 100) + `{}`
	var in patientIn
	p := problemOf(t, httpjson.Decode(request(body, "application/json"), &in, 50))

	assert.Equal(t, http.StatusRequestEntityTooLarge, p.Status)
}

func TestDecodeAtLimitIsAccepted(t *testing.T) {
	body := `{"name":"Ada"}`
	var in patientIn
	require.NoError(t, httpjson.Decode(request(body, "application/json"), &in, int64(len(body))))
	assert.Equal(t, "Ada", in.Name)
}

func TestDecodeDefaultLimit(t *testing.T) {
	body := `{"name":"` + strings.Repeat("a", httpjson.DefaultMaxBytes) + `"}`
	var in patientIn
	p := problemOf(t, httpjson.Decode(request(body, "application/json"), &in, 0))

	assert.Equal(t, http.StatusRequestEntityTooLarge, p.Status)
}

func TestDecodeWrongContentTypeIs415(t *testing.T) {
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		var in patientIn
		p := problemOf(t, httpjson.Decode(request(`{"name":"Ada"}`, ct), &in, 0))
		assert.Equal(t, http.StatusUnsupportedMediaType, p.Status, ct)
		assert.Empty(t, in.Name, "nothing is decoded from a refused body")
	}
}

func TestDecodeProblemIsWrittenAs4xx(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in patientIn
		if err := httpjson.Decode(r, &in, 0); err != nil {
			problem.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(`{"age":"x"}`, "application/json"))

	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), `"field":"age"`)
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()

	require.NoError(t, httpjson.Write(rec, http.StatusCreated, map[string]any{"id": "1", "firstName": "Ada"}))

	assert.Equal(t, http.StatusCreated, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"id":"1","firstName":"Ada"}`, rec.Body.String())
}

func TestWriteUnencodableSendsNothing(t *testing.T) {
	rec := httptest.NewRecorder()

	err := httpjson.Write(rec, http.StatusOK, map[string]any{"bad": make(chan int)})

	require.Error(t, err)
	assert.False(t, rec.Flushed)
	assert.Empty(t, rec.Body.String())
	assert.Empty(t, rec.Header().Get("Content-Type"), "the caller can still write a problem")
}

func TestDecodeNullIsNotAnObject(t *testing.T) {
	for _, body := range []string{`null`, " \n\tnull "} {
		in := patientIn{Name: "kept"}
		p := problemOf(t, httpjson.Decode(request(body, "application/json"), &in, 0))
		assert.Equal(t, http.StatusBadRequest, p.Status, "%q", body)
		assert.Contains(t, p.Detail, "JSON object")
	}
}

func TestDecodeLongLeadingWhitespace(t *testing.T) {
	var in patientIn
	require.NoError(t, httpjson.Decode(request(strings.Repeat(" ", 300)+`{"name":"Ada"}`, "application/json"), &in, 0))
	assert.Equal(t, "Ada", in.Name)

	p := problemOf(t, httpjson.Decode(request(strings.Repeat("\n", 300)+`nope`, "application/json"), &in, 0))
	assert.Contains(t, p.Detail, "malformed JSON")
}

func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	var in patientIn
	p := problemOf(t, httpjson.Decode(request("{\"name\":\"A\xffda\"}", "application/json"), &in, 0))
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Contains(t, p.Detail, "UTF-8")
}

// A \u escape of half a surrogate pair names no character; encoding/json
// would store U+FFFD in its place without a word. It is refused as raw
// bytes that are not UTF-8 are, naming where it is.
func TestDecodeRefusesLoneSurrogates(t *testing.T) {
	for body, field := range map[string]string{
		`{"name":"Ad\ud800a"}`:                           "name",
		`{"name":"Ad\udc00a"}`:                           "name",
		`{"name":"\udc00\ud800"}`:                        "name",
		`{"name":"Ada\uD83D"}`:                           "name",
		`{"name":"\ud83d\n\ude00"}`:                      "name",
		`{"name":"\ud83d\ud83d\ude00"}`:                  "name",
		`{"address":{"city":"Lon\udc00don"}}`:            "address.city",
		`{"contacts":[{"kind":"a"},{"value":"\ud800"}]}`: "contacts[1].value",
		`{"labels":{"\ud800":1}}`:                        "labels.\ufffd",
	} {
		var in patientIn
		p := problemOf(t, httpjson.Decode(request(body, "application/json"), &in, 0))
		assert.Equal(t, http.StatusBadRequest, p.Status, body)
		require.Len(t, p.Errors, 1, body)
		assert.Equal(t, field, p.Errors[0].Field, body)
	}
	for body, name := range map[string]string{
		`{"name":"\ud83d\ude00"}`: "\U0001F600",
		`{"name":"\\ud800"}`:      `\ud800`,
		`{"name":"\ufffd"}`:       "\ufffd",
		`{"name":"\u00e9\\"}`:     "\u00e9\\",
	} {
		var in patientIn
		require.NoError(t, httpjson.Decode(request(body, "application/json"), &in, 0), body)
		assert.Equal(t, name, in.Name, body)
	}
}

func TestDecodeRefusesDuplicateKeys(t *testing.T) {
	for body, field := range map[string]string{
		`{"name":"Ada","name":"Bob"}`:                      "name",
		`{"name":"Ada","NAME":"Bob"}`:                      "NAME",
		`{"address":{"city":"Paris","City":"Lyon"}}`:       "address.City",
		`{"contacts":[{"kind":"email","kind":"phone"}]}`:   "contacts[0].kind",
		`{"name":"Ada","address":{"city":"x"},"Name":"B"}`: "Name",
		// Case as encoding/json folds it: the long s is an s, the Kelvin
		// sign a k.
		`{"address":{"city":"Paris"},"addre\u017fs":{"city":"Lyon"}}`: "addre\u017fs",
		`{"contacts":[{"kind":"email","\u212aind":"phone"}]}`:         "contacts[0].\u212aind",
	} {
		var in patientIn
		p := problemOf(t, httpjson.Decode(request(body, "application/json"), &in, 0))
		assert.Equal(t, http.StatusBadRequest, p.Status, body)
		require.Len(t, p.Errors, 1, body)
		assert.Equal(t, field, p.Errors[0].Field, body)
	}
	var in patientIn
	assert.NoError(t, httpjson.Decode(request(`{"name":"Ada","address":{"city":"Paris"},"contacts":[{"kind":"a"},{"kind":"b"}]}`, ""), &in, 0),
		"the same key in sibling objects is no duplicate")
}

// node nests in itself, as deep as a body asks.
type node struct {
	N *node `json:"n"`
}

// nestedObjects is a body of depth objects, each the n of the one around it.
func nestedObjects(depth int) string {
	return strings.Repeat(`{"n":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
}

// A body nesting deeper than the limit is refused early, before its depth
// costs a stack frame per level: under a stack bound far below what
// recursing through a mebibyte of brackets takes, which would crash the
// test binary, it is a 400 problem.
func TestDecodeRefusesDeepNesting(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(8 << 20))
	for name, body := range map[string]string{
		"brackets":          strings.Repeat("[", httpjson.DefaultMaxBytes),
		"objects":           strings.Repeat(`{"a":`, httpjson.DefaultMaxBytes/5),
		"arrays in objects": strings.Repeat(`{"a":[`, httpjson.DefaultMaxBytes/6),
		"one level too far": nestedObjects(65),
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			var in node
			p := problemOf(t, httpjson.Decode(request(body, "application/json"), &in, 0))
			assert.Less(t, time.Since(start), 2*time.Second)
			assert.Equal(t, http.StatusBadRequest, p.Status)
			assert.Equal(t, "malformed JSON: the body nests objects and arrays more than 64 levels deep", p.Detail)
		})
	}
}

func TestDecodeAcceptsModerateNesting(t *testing.T) {
	for _, depth := range []int{20, 64} {
		var in node
		require.NoError(t, httpjson.Decode(request(nestedObjects(depth), "application/json"), &in, 0), depth)
		levels := 0
		for n := &in; n != nil; n = n.N {
			levels++
		}
		assert.Equal(t, depth, levels)
	}
}

func TestDecodeMediaTypeIsParsed(t *testing.T) {
	for _, ct := range []string{"text/plain; x=+json", "text/plain+json", "application/jsonx", "application/json-seq", "+json"} {
		var in patientIn
		p := problemOf(t, httpjson.Decode(request(`{"name":"Ada"}`, ct), &in, 0))
		assert.Equal(t, http.StatusUnsupportedMediaType, p.Status, ct)
	}
	var in patientIn
	assert.NoError(t, httpjson.Decode(request(`{"name":"Ada"}`, "application/problem+json; charset=utf-8"), &in, 0))
}

// FuzzDecode holds that no body makes the decoder panic or answer anything
// but nil or a 4xx problem.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"Ada"}`, `{"name":"Ada","NAME":"x"}`, "{\"name\":\"\xff\"}", `null`, `[]`, `{"address":{"city":1}}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var in patientIn
		err := httpjson.Decode(request(string(b), "application/json"), &in, 4096)
		if err == nil {
			return
		}
		if st := problem.From(err).Status; st < 400 || st > 499 {
			t.Fatalf("status %d for %q: %v", st, b, err)
		}
	})
}

// TestDecodeOptional: no body, or one of whitespace only, is no request
// body; any other is decoded as Decode does, refusals included.
func TestDecodeOptional(t *testing.T) {
	for name, body := range map[string]string{"empty": "", "whitespace": " \r\n\t"} {
		var in patientIn
		present, err := httpjson.DecodeOptional(request(body, "application/json"), &in, 0)
		require.NoError(t, err, name)
		assert.False(t, present, name)
	}
	var none patientIn
	present, err := httpjson.DecodeOptional(httptest.NewRequest(http.MethodPost, "/", http.NoBody), &none, 0)
	require.NoError(t, err)
	assert.False(t, present)

	var in patientIn
	present, err = httpjson.DecodeOptional(request(`{"name":"Ada"}`, "application/json"), &in, 0)
	require.NoError(t, err)
	assert.True(t, present)
	assert.Equal(t, "Ada", in.Name)

	_, err = httpjson.DecodeOptional(request(`{"nope":1}`, "application/json"), &in, 0)
	assert.Equal(t, http.StatusBadRequest, problemOf(t, err).Status)
	_, err = httpjson.DecodeOptional(request(`{"name":"Ada"}`, "text/plain"), &in, 0)
	assert.Equal(t, http.StatusUnsupportedMediaType, problemOf(t, err).Status)
	_, err = httpjson.DecodeOptional(request(`{"name":"`+strings.Repeat("a", 100)+`"}`, "application/json"), &in, 16)
	assert.Equal(t, http.StatusRequestEntityTooLarge, problemOf(t, err).Status)
}
