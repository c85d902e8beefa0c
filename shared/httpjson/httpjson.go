// Package httpjson decodes request bodies strictly and encodes JSON responses,
// turning every decoding fault into a 4xx problem that names the field at
// fault, if any.
package httpjson

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/problem"
)

// DefaultMaxBytes bounds a request body when the caller gives no limit.
const DefaultMaxBytes = 1 << 20

// Decode reads one JSON object from r's body into v. A media type other than
// application/json or application/*+json is a 415 problem; unknown fields,
// wrong types, instants RFC 3339 does not allow, duplicate keys, nesting deeper than 64 levels, invalid UTF-8
// (raw, or a \u escape of half a surrogate pair), trailing data and an
// empty body are 400 problems; an oversize body is 413,
// one that did not arrive in time 408.
func Decode(r *http.Request, v any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if r.Body == nil || r.Body == http.NoBody {
		return problem.BadRequest("the request body is empty; a JSON object is expected")
	}
	if err := checkMediaType(r); err != nil {
		return err
	}
	return DecodeReader(http.MaxBytesReader(nil, r.Body, maxBytes), v)
}

// DecodeOptional is Decode for a body the request may leave out: none, or
// one of whitespace only (a chunked body has no length to tell it empty),
// reports false and no error; any other is decoded as Decode does.
func DecodeOptional(r *http.Request, v any, maxBytes int64) (bool, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if r.Body == nil || r.Body == http.NoBody {
		return false, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBytes))
	if err != nil {
		return false, readProblem(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false, nil
	}
	if err := checkMediaType(r); err != nil {
		return false, err
	}
	return true, DecodeReader(bytes.NewReader(body), v)
}

// checkMediaType refuses a body that names a media type other than JSON.
func checkMediaType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !IsJSONMediaType(ct) {
		return problem.New(http.StatusUnsupportedMediaType, "the request body must be application/json")
	}
	return nil
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
// read whole first (callers bound it): JSON that is not valid UTF-8, or
// escapes half a surrogate pair alone (which encoding/json would turn into
// U+FFFD), or that repeats a key (also in another letter case, which
// encoding/json would otherwise let the last one win), or that nests more
// than maxDepth levels, is refused before anything is decoded.
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
	return instantsProblem(body, v)
}

// maxDepth bounds how deeply a body may nest objects and arrays. No request
// of the project nests more than a handful of levels; without a bound, a
// body of brackets alone would cost the scan below a stack frame per byte
// (a 1 MiB body grew a goroutine stack of hundreds of megabytes) before
// encoding/json's own, far deeper, limit refused it.
const maxDepth = 64

// errTooDeep is the scan's refusal of a body nesting beyond maxDepth.
var errTooDeep = errors.New("nests too deeply")

// scanKeys refuses a body that nests beyond maxDepth, whose object holds
// a key twice, compared without regard to case as encoding/json matches
// fields, or whose string escapes half a surrogate pair alone. Malformed
// JSON passes: the decoder reports it with its own message.
func scanKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// Room for the deepest path the scan allows, so that a member's path
	// is appended in place, not copied for each member.
	err := scanValue(dec, body, 0, make([]step, 0, maxDepth+1))
	var p *problem.Problem
	switch {
	case errors.Is(err, errTooDeep):
		return problem.BadRequest(fmt.Sprintf("malformed JSON: the body nests objects and arrays more than %d levels deep", maxDepth))
	case errors.As(err, &p):
		return p
	}
	return nil
}

// scanValue scans the value of body next in dec, at depth, the number of
// objects and arrays around it, and at path, its place in the body; the
// recursion stops at maxDepth, so its stack stays small.
func scanValue(dec *json.Decoder, body []byte, depth int, path []step) error {
	tok, err := scanToken(dec, body, path)
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth++; depth > maxDepth {
		return errTooDeep
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			from := dec.InputOffset()
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			if hasLoneSurrogate(body[from:dec.InputOffset()]) {
				return loneSurrogate(append(path, step{key: k}))
			}
			folded := foldKey(k)
			if seen[folded] {
				return problem.Validation(problem.FieldError{Field: pathOf(append(path, step{key: k})), Message: "appears more than once (keys are matched without regard to case)"})
			}
			seen[folded] = true
			if err := scanValue(dec, body, depth, append(path, step{key: k})); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := scanValue(dec, body, depth, append(path, step{index: i, inArray: true})); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// scanToken reads the token of body next in dec, the value at path, and
// refuses a string escaping half a surrogate pair alone.
func scanToken(dec *json.Decoder, body []byte, path []step) (json.Token, error) {
	from := dec.InputOffset()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if _, ok := tok.(string); ok && hasLoneSurrogate(body[from:dec.InputOffset()]) {
		return nil, loneSurrogate(path)
	}
	return tok, nil
}

// loneSurrogate is the problem of a string at path escaping half a
// surrogate pair alone (\ud800), which names no character: encoding/json
// would store U+FFFD in its place, where raw bytes that are not UTF-8 are
// refused.
func loneSurrogate(path []step) error {
	field := pathOf(path)
	if field == "" {
		field = "body"
	}
	return problem.Validation(problem.FieldError{Field: field, Message: `escapes half a surrogate pair (\ud800 to \udfff) without its other half, which is no character`})
}

// hasLoneSurrogate reports whether the JSON text s, a string with what
// separates it from the token before, holds a \u escape of a high
// surrogate not followed by one of a low surrogate, or of a low surrogate
// not following a high one.
func hasLoneSurrogate(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++ // the escaped character, skipped by the loop unless a \u
		r, ok := escapedRune(s, i)
		switch {
		case !ok || r < 0xd800 || r > 0xdfff:
		case r >= 0xdc00:
			return true
		default: // a high surrogate, whose low half must follow at once
			low, ok := escapedRune(s, i+6)
			if !ok || s[i+5] != '\\' || low < 0xdc00 || low > 0xdfff {
				return true
			}
			i += 10
		}
	}
	return false
}

// escapedRune reads the u and four hex digits at s[i:], if they are there.
func escapedRune(s []byte, i int) (rune, bool) {
	if i < 0 || i+5 > len(s) || s[i] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s[i+1:i+5]), 16, 16)
	return rune(n), err == nil
}

// step is one step of a path into a body: a key, or an index in an array.
// The scan keeps the steps and writes a path only for a problem, so that a
// body it accepts costs no string per value.
type step struct {
	key     string
	index   int
	inArray bool
}

// pathOf writes steps as problems name a field: address.city,
// contacts[1].kind.
func pathOf(steps []step) string {
	var b strings.Builder
	for _, s := range steps {
		switch {
		case s.inArray:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case b.Len() > 0:
			b.WriteString("." + s.key)
		default:
			b.WriteString(s.key)
		}
	}
	return b.String()
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
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		return problem.BadRequest(fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.Is(err, io.EOF):
		return problem.BadRequest("the request body is empty; a JSON object is expected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.BadRequest("malformed JSON: the body ends early")
	}
	// A field's own UnmarshalJSON (dates, enums) may name its field itself.
	var fe problem.FieldErrors
	if errors.As(err, &fe) {
		return problem.Validation(fe...)
	}
	// encoding/json names a wrong type's field by the Go fields leading to
	// it (patientBody.address.city), without array indexes or map keys, an
	// unknown field by its key alone, and a value its own type refuses not
	// at all: the body is walked again for the path of the value it refused
	// (ADR 0045).
	var at *fault
	w := walker{body: body, leaf: decodeAlone, yield: func(f fault) bool {
		if sameRefusal(f.err, err) {
			at = &f
		}
		return at == nil
	}}
	w.walk(skipSpace(body, 0), reflect.TypeOf(v))
	if at != nil {
		return problem.Validation(at.problem())
	}
	// The walk found no value refused so, which it should not: the
	// decoder's own words, as near as they come.
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return problem.Validation(fault{path: typeErr.Field, typ: typeErr.Type, err: typeErr}.problem())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.Validation(problem.FieldError{Field: name, Message: "unknown field"})
	}
	return problem.BadRequest("malformed JSON: " + err.Error())
}

var (
	timeType            = reflect.TypeFor[time.Time]()
	numberType          = reflect.TypeFor[json.Number]()
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// fault is a value of a body that decoding refuses: its path (address.city,
// contacts[1].kind, labels.team, as fields are named in validation
// problems; empty for the body itself), the type it was decoded as (nil
// for an unknown field) and the refusal.
type fault struct {
	path string
	typ  reflect.Type
	err  error
}

// problem words f for a client.
func (f fault) problem() problem.FieldError {
	field := f.path
	if field == "" {
		field = "body"
	}
	// An instant and a json.Number are worded by what they take before the
	// decoder's type error: since Go 1.27 encoding/json reports their wrong
	// values as one, whose kind (a struct, a string) is not what a client
	// must send.
	var typeErr *json.UnmarshalTypeError
	switch {
	case f.typ == nil:
		return problem.FieldError{Field: field, Message: "unknown field"}
	case f.typ == timeType:
		return problem.FieldError{Field: field, Message: civil.ErrNotInstant.Error()}
	case f.typ == numberType:
		return problem.FieldError{Field: field, Message: "must be a number"}
	case errors.As(f.err, &typeErr):
		return problem.FieldError{Field: field, Message: fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)}
	default:
		return problem.FieldError{Field: field, Message: "has a value of the wrong form"}
	}
}

// errUnknownField is encoding/json's refusal of a key no field takes, in
// its words, so that the two compare equal.
func errUnknownField(key string) error {
	return fmt.Errorf("json: unknown field %q", key)
}

// sameRefusal reports whether a, a refusal the walk found, is b, the
// decoder's. A wrong type is compared by what was found and what was
// wanted, since the decoder's also names the Go field and the offset.
func sameRefusal(a, b error) bool {
	var ta, tb *json.UnmarshalTypeError
	if errors.As(a, &ta) && errors.As(b, &tb) {
		return ta.Value == tb.Value && ta.Type == tb.Type
	}
	return a.Error() == b.Error()
}

// walker walks a body beside the type it is decoded as, in the order of
// the body: an object or an array member by member, as encoding/json
// decodes it into a struct, a map or a slice; any other value, or one of
// a type that decodes itself or wants another kind, is a leaf. It reads
// the body in place, by offsets, in one pass, and keeps the path as steps
// written out only for a fault: a large valid body costs about what
// decoding it costs, not a decoder and a copy per member.
type walker struct {
	body []byte
	// leaf returns the refusal, if any, of the leaf data decoded as t.
	leaf func(data []byte, t reflect.Type) error
	// skip, if set, reports whether no value of t can be refused; such a
	// value is stepped over unread.
	skip func(t reflect.Type) bool
	// yield is called with each fault until it returns false.
	yield func(fault) bool
	path  []step
}

// walk walks the value at body[i:], decoded as t, and returns the offset
// just past it and whether to go on: false once yield said so, or at JSON
// it cannot read (which the decoder refused before, so never in practice).
func (w *walker) walk(i int, t reflect.Type) (int, bool) {
	if w.skip != nil && w.skip(t) {
		return skipValue(w.body, i)
	}
	et := t
	for et.Kind() == reflect.Pointer {
		et = et.Elem()
	}
	if i < len(w.body) && !infoOf(et).decodesItself {
		switch k := et.Kind(); {
		case w.body[i] == '{' && k == reflect.Struct:
			return w.object(i, et)
		case w.body[i] == '{' && k == reflect.Map && et.Key().Kind() == reflect.String && !infoOf(et.Key()).decodesItself:
			return w.object(i, et)
		case w.body[i] == '[' && (k == reflect.Slice || k == reflect.Array):
			return w.array(i, et)
		}
	}
	end, ok := skipValue(w.body, i)
	if !ok {
		return end, false
	}
	if err := w.leaf(w.body[i:end], t); err != nil {
		return end, w.yield(fault{path: pathOf(w.path), typ: et, err: err})
	}
	return end, true
}

// object walks the members of the object at body[i], decoded as et, a
// struct or a map with string keys.
func (w *walker) object(i int, et reflect.Type) (int, bool) {
	b := w.body
	if i = skipSpace(b, i+1); i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		end, ok := skipString(b, i)
		if !ok {
			return end, false
		}
		raw, key := b[i+1:end-1], ""
		if bytes.IndexByte(raw, '\\') >= 0 {
			if json.Unmarshal(b[i:end], &key) != nil {
				return end, false
			}
			raw = []byte(key)
		}
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return i, false
		}
		i = skipSpace(b, i+1)
		var vt reflect.Type
		if et.Kind() == reflect.Struct {
			f, ok := infoOf(et).fields.lookup(raw)
			switch {
			case !ok:
				if !w.yield(fault{path: pathOf(append(w.path, step{key: string(raw)})), err: errUnknownField(string(raw))}) {
					return i, false
				}
			case f.name == string(raw):
				key, vt = f.name, f.typ // no copy of the key
			default:
				vt = f.typ
			}
		} else {
			vt = et.Elem()
		}
		more := true
		if vt == nil {
			end, more = skipValue(b, i)
		} else {
			if key == "" {
				key = string(raw)
			}
			w.path = append(w.path, step{key: key})
			end, more = w.walk(i, vt)
			w.path = w.path[:len(w.path)-1]
		}
		if !more {
			return end, false
		}
		var another bool
		if i, another, more = next(b, end, '}'); !another {
			return i, more
		}
	}
}

// array walks the elements of the array at body[i], decoded as et, a
// slice or an array.
func (w *walker) array(i int, et reflect.Type) (int, bool) {
	b := w.body
	if i = skipSpace(b, i+1); i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for n := 0; ; n++ {
		var end int
		more := true
		if et.Kind() == reflect.Array && n >= et.Len() {
			// encoding/json drops what a fixed array has no room for.
			end, more = skipValue(b, i)
		} else {
			w.path = append(w.path, step{index: n, inArray: true})
			end, more = w.walk(i, et.Elem())
			w.path = w.path[:len(w.path)-1]
		}
		if !more {
			return end, false
		}
		var another bool
		if i, another, more = next(b, end, ']'); !another {
			return i, more
		}
	}
}

// next reads what follows a member of an object or an array that ends at
// end: after a comma, the offset of the next member and another; after
// closer, the offset past it and ok; anything else is not ok.
func next(b []byte, end int, closer byte) (i int, another, ok bool) {
	switch i = skipSpace(b, end); {
	case i < len(b) && b[i] == ',':
		return skipSpace(b, i+1), true, true
	case i < len(b) && b[i] == closer:
		return i + 1, false, true
	}
	return i, false, false
}

// skipSpace returns the offset of the first byte at or after i of b that
// is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the offset just past the JSON string at b[i].
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(b), false
}

// skipValue returns the offset just past the JSON value at b[i], which
// the decoder has read before: it only finds where the value ends, without
// recursion, strings aside.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return end, false
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
		}
		return i, false
	}
	j := i // a number, true, false or null
	for j < len(b) && !endsLiteral(b[j]) {
		j++
	}
	return j, j > i
}

// endsLiteral reports whether c, after a number or a literal, ends it.
func endsLiteral(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// decodeAlone returns the refusal of data decoded as t, as the decoder
// would refuse it. A string, a boolean or null where a string (not a
// json.Number, which must hold a number), a boolean or anything is wanted
// is taken without decoding; a decoder, for its
// DisallowUnknownFields, is made only for a kind that may hold a struct
// encoding/json decodes.
func decodeAlone(data []byte, t reflect.Type) error {
	et := t
	for et.Kind() == reflect.Pointer {
		et = et.Elem()
	}
	k := et.Kind()
	if infoOf(et).decodesItself {
		return json.Unmarshal(data, reflect.New(t).Interface())
	}
	switch anything := k == reflect.Interface && et.NumMethod() == 0; {
	case string(data) == "null",
		data[0] == '"' && (k == reflect.String && et != numberType || anything),
		(data[0] == 't' || data[0] == 'f') && (k == reflect.Bool || anything):
		return nil
	}
	switch k {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array, reflect.Interface:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		return dec.Decode(reflect.New(t).Interface())
	}
	return json.Unmarshal(data, reflect.New(t).Interface())
}

// instantsProblem refuses a body whose instant, decoded as v, time.Time's
// UnmarshalJSON took though RFC 3339 does not allow it (an offset of
// +24:00, a comma before the fraction, a one-digit hour): the body is
// walked again for instants when v's type holds one, stepping over every
// member whose type holds none.
func instantsProblem(body []byte, v any) error {
	t := reflect.TypeOf(v)
	if !infoOf(t).holdsInstant {
		return nil
	}
	var at *fault
	w := walker{body: body, leaf: strictInstant, skip: func(t reflect.Type) bool { return !infoOf(t).holdsInstant },
		yield: func(f fault) bool {
			if f.typ == timeType {
				at = &f
			}
			return at == nil
		}}
	w.walk(skipSpace(body, 0), t)
	if at != nil {
		return problem.Validation(at.problem())
	}
	return nil
}

// strictInstant refuses data, decoded as t, when t is an instant and data a
// string that is not an RFC 3339 date-time. It reads the string's bytes as
// they are, as time.Time's UnmarshalJSON does, which refuses an escape.
func strictInstant(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != timeType || len(data) < 2 || data[0] != '"' {
		return nil // null, or a value time.Time's UnmarshalJSON refused
	}
	_, err := civil.ParseInstant(string(data[1 : len(data)-1]))
	return err
}

// typeInfo is what the walks ask of a type, worked out once per type as
// encoding/json caches its fields: a body's types are the program's, so
// the cache is bounded.
type typeInfo struct {
	decodesItself bool
	holdsInstant  bool
	fields        fieldSet // a struct's
}

var typeInfos sync.Map // reflect.Type → *typeInfo

// infoOf returns what the walks ask of t.
func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{decodesItself: decodesItself(t), holdsInstant: holdsInstant(t, map[reflect.Type]bool{})}
	if t.Kind() == reflect.Struct {
		ti.fields = structFields(t)
	}
	stored, _ := typeInfos.LoadOrStore(t, ti)
	return stored.(*typeInfo)
}

// holdsInstant reports whether a value of t may hold a time.Time that
// encoding/json decodes; seen holds the types already looked at.
func holdsInstant(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return true
	case seen[t] || decodesItself(t):
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsInstant(t.Field(i).Type, seen) {
				return true
			}
		}
	case reflect.Slice, reflect.Array, reflect.Map:
		return holdsInstant(t.Elem(), seen)
	}
	return false
}

// decodesItself reports whether encoding/json leaves values of t to t's
// own UnmarshalJSON or UnmarshalText.
func decodesItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType)
}

// jsonField is a field of a struct that encoding/json decodes a key into.
type jsonField struct {
	name   string
	folded string // foldKey(name)
	typ    reflect.Type
	index  []int
	tagged bool
}

// fieldSet is the fields of a struct by the names encoding/json gives
// them, in the order of their declaration.
type fieldSet []jsonField

// lookup returns the field encoding/json decodes key into: the one of
// that name, else the first whose name is key in another case.
func (fs fieldSet) lookup(key []byte) (jsonField, bool) {
	for _, f := range fs {
		if f.name == string(key) {
			return f, true
		}
	}
	folded := foldKey(string(key))
	for _, f := range fs {
		if f.folded == folded {
			return f, true
		}
	}
	return jsonField{}, false
}

// structFields lists the fields of the struct t as encoding/json's
// typeFields does: named by the tag, else by the Go name; the fields of an
// embedded struct that no tag names promoted, breadth first; of the fields
// of one name the shallowest wins, then the tagged one, and a tie hides
// them all.
func structFields(t reflect.Type) fieldSet {
	var all []jsonField
	next := []jsonField{{typ: t}}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count := map[reflect.Type]int{}
		for _, e := range current {
			count[e.typ]++
		}
		for _, e := range current {
			if visited[e.typ] {
				continue
			}
			visited[e.typ] = true
			for i := range e.typ.NumField() {
				sf := e.typ.Field(i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !sf.IsExported() && (!sf.Anonymous || ft.Kind() != reflect.Struct) {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				index := append(slices.Clip(e.index), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, jsonField{typ: ft, index: index})
					continue
				}
				f := jsonField{name: name, typ: sf.Type, index: index, tagged: name != ""}
				if f.name == "" {
					f.name = sf.Name
				}
				all = append(all, f)
				if count[e.typ] > 1 {
					// The same struct embedded twice at one depth: its
					// fields tie with themselves and are hidden.
					all = append(all, f)
				}
			}
		}
	}
	slices.SortStableFunc(all, func(a, b jsonField) int {
		return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(len(a.index), len(b.index)), compareTagged(a, b))
	})
	var out fieldSet
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].name == all[i].name {
			j++
		}
		if j == i+1 || len(all[i].index) != len(all[i+1].index) || all[i].tagged != all[i+1].tagged {
			out = append(out, all[i])
		}
		i = j
	}
	slices.SortFunc(out, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	for i := range out {
		out[i].folded = foldKey(out[i].name)
	}
	return out
}

// compareTagged orders a tagged field before an untagged one.
func compareTagged(a, b jsonField) int {
	switch {
	case a.tagged == b.tagged:
		return 0
	case a.tagged:
		return -1
	default:
		return 1
	}
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
