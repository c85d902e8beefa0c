// Package httpjson decodes request bodies strictly and encodes JSON responses,
// turning every decoding fault into a 400 problem that names the field.
package httpjson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/medisync/medisync/shared/problem"
)

// DefaultMaxBytes bounds a request body when the caller gives no limit.
const DefaultMaxBytes = 1 << 20

// Decode reads one JSON object from r's body into v. Unknown fields, wrong
// types, trailing data, an empty or oversize body are 400 or 413 problems.
func Decode(r *http.Request, v any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if r.Body == nil || r.Body == http.NoBody {
		return problem.BadRequest("the request body is empty; a JSON object is expected")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") &&
		!strings.Contains(strings.ToLower(ct), "+json") {
		p := problem.New(http.StatusUnsupportedMediaType, "the request body must be application/json")
		return p
	}
	body := http.MaxBytesReader(nil, r.Body, maxBytes)
	return DecodeReader(body, v)
}

// DecodeReader decodes one JSON object from rd into v, strictly.
func DecodeReader(rd io.Reader, v any) error {
	// Small buffer: past the first bytes the decoder reads straight through.
	br := bufio.NewReaderSize(rd, 64)
	// A bare null decodes into anything without error and would pass for an
	// empty object.
	if isNull(br) {
		return problem.BadRequest("the request body must be a JSON object, not null")
	}
	dec := json.NewDecoder(br)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeProblem(err)
		}
		return problem.BadRequest("the request body must hold a single JSON object")
	}
	return nil
}

// isNull reports whether the next JSON value in br is null, consuming only the
// whitespace before it.
func isNull(br *bufio.Reader) bool {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return false // the decoder meets the error again and reports it
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		_ = br.UnreadByte()
		next, _ := br.Peek(4)
		return string(next) == "null"
	}
}

func decodeProblem(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &maxErr):
		return problem.New(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the request body exceeds %d bytes", maxErr.Limit))
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
		return problem.BadRequest("malformed JSON: " + err.Error())
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
