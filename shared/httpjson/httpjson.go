// Package httpjson decodes request bodies strictly and encodes JSON responses,
// turning every decoding fault into a 4xx problem that names the field at
// fault, if any.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/problem"
)

// DefaultMaxBytes bounds a request body when the caller gives no limit.
const DefaultMaxBytes = 1 << 20

// Decode reads one JSON object from r's body into v. A media type other than
// application/json or application/*+json is a 415 problem; unknown fields,
// wrong types, duplicate keys, nesting deeper than 64 levels, invalid UTF-8,
// trailing data and an empty body are 400 problems; an oversize body is 413,
// one that did not arrive in time 408.
func Decode(r *http.Request, v any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if r.Body == nil || r.Body == http.NoBody {
		return problem.BadRequest("the request body is empty; a JSON object is expected")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !IsJSONMediaType(ct) {
		return problem.New(http.StatusUnsupportedMediaType, "the request body must be application/json")
	}
	return DecodeReader(http.MaxBytesReader(nil, r.Body, maxBytes), v)
}

// IsJSONMediaType reports whether a Content-Type names JSON: application/json
// or a structured-syntax type application/<x>+json, with parameters allowed
// only after the type, not inside it (text/plain; x=+json is not JSON).
func IsJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// DecodeReader decodes one JSON object from rd into v, strictly. The body is
// read whole first (callers bound it): JSON that is not valid UTF-8, or that
// repeats a key (also in another letter case, which encoding/json would
// otherwise let the last one win), or that nests more than maxDepth
// levels, is refused before anything is decoded.
func DecodeReader(rd io.Reader, v any) error {
	body, err := io.ReadAll(rd)
	if err != nil {
		return readProblem(err)
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return problem.BadRequest("the request body is empty; a JSON object is expected")
	case bytes.HasPrefix(trimmed, []byte("null")):
		// A bare null decodes into anything without error and would pass for
		// an empty object.
		return problem.BadRequest("the request body must be a JSON object, not null")
	case !utf8.Valid(body):
		return problem.BadRequest("the request body is not valid UTF-8")
	}
	if err := scanKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err, body, v)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return problem.BadRequest("the request body must hold a single JSON object")
	}
	return nil
}

// maxDepth bounds how deeply a body may nest objects and arrays. No request
// of the project nests more than a handful of levels; without a bound, a
// body of brackets alone would cost the scan below a stack frame per byte
// (a 1 MiB body grew a goroutine stack of hundreds of megabytes) before
// encoding/json's own, far deeper, limit refused it.
const maxDepth = 64

// errTooDeep is the scan's refusal of a body nesting beyond maxDepth.
var errTooDeep = errors.New("nests too deeply")

// scanKeys refuses a body that nests beyond maxDepth or whose object holds
// a key twice, compared without regard to case as encoding/json matches
// fields. Malformed JSON passes: the decoder reports it with its own
// message.
func scanKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	key, dup, err := scanValue(dec, 0)
	switch {
	case errors.Is(err, errTooDeep):
		return problem.BadRequest(fmt.Sprintf("malformed JSON: the body nests objects and arrays more than %d levels deep", maxDepth))
	case dup && err == nil:
		return problem.Validation(problem.FieldError{Field: key, Message: "appears more than once (keys are matched without regard to case)"})
	}
	return nil
}

// scanValue scans the value at depth, the number of objects and arrays
// around it; the recursion stops at maxDepth, so its stack stays small.
func scanValue(dec *json.Decoder, depth int) (string, bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", false, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return "", false, nil
	}
	if depth++; depth > maxDepth {
		return "", false, errTooDeep
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", false, err
			}
			k, _ := kt.(string)
			folded := foldKey(k)
			if seen[folded] {
				return k, true, nil
			}
			seen[folded] = true
			if key, dup, err := scanValue(dec, depth); dup || err != nil {
				return key, dup, err
			}
		}
	case '[':
		for dec.More() {
			if key, dup, err := scanValue(dec, depth); dup || err != nil {
				return key, dup, err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return "", false, err
}

// foldKey returns k with each rune replaced by the smallest of the runes
// simple case folding makes it equal to, so that keys encoding/json would
// match to one field (as bytes.EqualFold does: the long s is an s, the
// Kelvin sign a k) fold alike, where lower-casing would keep them apart.
func foldKey(k string) string {
	var b strings.Builder
	b.Grow(len(k))
	for _, r := range k {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// readProblem answers a body that could not be read whole. The reader's
// error is the connection's ("read tcp 10.0.0.5:8082->10.0.0.9:51234: i/o
// timeout") and names addresses that are none of the client's business, so
// it is never echoed. The words and the Connection header are the gateway's
// for the same faults.
func readProblem(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return problem.New(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the request body exceeds %d bytes", maxErr.Limit))
	}
	var p *problem.Problem
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		// The server's read deadline passed with the body still coming.
		p = problem.New(http.StatusRequestTimeout, "the request body did not arrive in time")
	} else {
		p = problem.BadRequest("the request body could not be read")
	}
	// The rest of the body may never come: the connection is not reused, so
	// the server does not wait to drain it before answering.
	p.Headers = http.Header{"Connection": {"close"}}
	return p
}

// decodeProblem answers err, the decoder's refusal of body as v.
func decodeProblem(err error, body []byte, v any) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntaxErr):
		return problem.BadRequest(fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.Is(err, io.EOF):
		return problem.BadRequest("the request body is empty; a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.BadRequest("malformed JSON: the body ends early")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return problem.Validation(problem.FieldError{
			Field:   field,
			Message: fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value),
		})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Validation(problem.FieldError{Field: name, Message: "unknown field"})
	default:
		// Errors from a field's own UnmarshalJSON (dates, enums) land here.
		var fe problem.FieldErrors
		if errors.As(err, &fe) {
			return problem.Validation(fe...)
		}
		// Others (time.Time's among them) come without the field, which
		// encoding/json does not add: the body is walked again to find it
		// (ADR 0045).
		if field, t, ok := refused(body, reflect.TypeOf(v), ""); ok && field != "" {
			msg := "has a value of the wrong form"
			if t == timeType {
				msg = "must be an RFC 3339 instant, such as 2026-01-02T15:04:05Z"
			}
			return problem.Validation(problem.FieldError{Field: field, Message: msg})
		}
		return problem.BadRequest("malformed JSON: " + err.Error())
	}
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// refused finds, in data decoded as t, the first value, in the order of the
// body, whose type's own UnmarshalJSON refuses it. It returns the value's
// path (address.city, weekly[0].start, as fields are named in validation
// problems) and its type. Fields are matched to keys as encoding/json
// matches them: by the tag's name or the field's, exactly or else without
// regard to case.
func refused(data []byte, t reflect.Type, path string) (string, reflect.Type, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if json.Unmarshal(data, reflect.New(t).Interface()) != nil {
			return path, t, true
		}
		return "", nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return "", nil, false
		}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", nil, false
			}
			key, _ := kt.(string)
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return "", nil, false
			}
			var ft reflect.Type
			if t.Kind() == reflect.Map {
				ft = t.Elem()
			} else if ft = fieldType(t, key); ft == nil {
				continue
			}
			if p, rt, ok := refused(raw, ft, joinPath(path, key)); ok {
				return p, rt, true
			}
		}
	case reflect.Slice, reflect.Array:
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return "", nil, false
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return "", nil, false
			}
			if p, rt, ok := refused(raw, t.Elem(), path+"["+strconv.Itoa(i)+"]"); ok {
				return p, rt, true
			}
		}
	}
	return "", nil, false
}

// fieldType returns the type of t's field that encoding/json decodes key
// into, nil if none.
func fieldType(t reflect.Type, key string) reflect.Type {
	var folded reflect.Type
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || (f.Anonymous && f.Tag.Get("json") == "") {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		if name == key {
			return f.Type
		}
		if folded == nil && strings.EqualFold(name, key) {
			folded = f.Type
		}
	}
	return folded
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	default:
		return "of another type"
	}
}

// Write sends v as JSON with the given status.
func Write(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}
