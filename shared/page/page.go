// Package page holds the one list shape every service answers, the limit
// rule and the opaque cursor codec (keyset pagination,
// docs/architecture.md, "Lists"). It does not import net/http, so service
// layers may use it.
package page

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
)

// Limits of a page.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// MaxCursorLen bounds a cursor before it is decoded. The longest a service
// issues is a search's: two names of 100 characters and an id. A character
// takes at most 6 bytes of the cursor's JSON (U+2028 and U+2029 are escaped
// as \u2028; others take at most 4 bytes of UTF-8), so its JSON is at most
// 2×(2+600)+38+4 = 1246 bytes and its base64 1662 characters; each service
// tests its worst case against this bound.
const MaxCursorLen = 2048

// Page is one page of a list; NextCursor is empty on the last page. Its
// JSON form is every list body of the API: {"items": [...], "nextCursor":
// "..." | null}, with items never null.
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// MarshalJSON writes the list body.
func (p Page[T]) MarshalJSON() ([]byte, error) {
	w := struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"nextCursor"`
	}{Items: p.Items}
	if w.Items == nil {
		w.Items = []T{}
	}
	if p.NextCursor != "" {
		w.NextCursor = &p.NextCursor
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a list body (clients and tests).
func (p *Page[T]) UnmarshalJSON(b []byte) error {
	var w struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"nextCursor"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	p.Items, p.NextCursor = w.Items, ""
	if w.NextCursor != nil {
		p.NextCursor = *w.NextCursor
	}
	return nil
}

// Map converts a page of T into a page of U (domain to wire shapes).
func Map[T, U any](p Page[T], f func(T) U) Page[U] {
	out := Page[U]{Items: make([]U, 0, len(p.Items)), NextCursor: p.NextCursor}
	for _, it := range p.Items {
		out.Items = append(out.Items, f(it))
	}
	return out
}

// Cut makes the page of items a store fetched with limit+1 rows: the first
// limit items and, when there was one more, the cursor of keys of the last
// item kept.
func Cut[T any](items []T, limit int, keys func(last T) []string) Page[T] {
	out := Page[T]{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		out.NextCursor = EncodeCursor(keys(items[limit-1]))
	}
	return out
}

// ErrLimit is the field error of a limit out of range.
var ErrLimit = domainerr.Field("limit", "must be an integer from 1 to "+strconv.Itoa(MaxLimit))

// ErrCursor is the field error of a cursor this service did not issue.
var ErrCursor = domainerr.Field("cursor", "is not a cursor this service issued")

// ParseLimit reads a limit: DefaultLimit when s is empty, otherwise an
// integer from 1 to MaxLimit.
func ParseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, ErrLimit
	}
	return n, nil
}

// ClampLimit is the limit a store applies: DefaultLimit for zero or less,
// at most MaxLimit.
func ClampLimit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	return min(n, MaxLimit)
}

// EncodeCursor makes an opaque cursor of v (the keyset of the last item on
// a page) as base64url JSON. A tampered cursor can only select another page
// of the same query, never widen it; stores still check what they decode.
func EncodeCursor(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // & < > as themselves, 1 byte instead of 6
	if err := enc.Encode(v); err != nil {
		// Cursor keys are strings, numbers and times: this is a programming error.
		panic("page: encode cursor: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// DecodeCursor reads a cursor made by EncodeCursor into v; any fault is
// ErrCursor. An empty cursor leaves v as it is.
func DecodeCursor(s string, v any) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxCursorLen {
		return ErrCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, v) != nil {
		return ErrCursor
	}
	return nil
}

// DecodeKeys reads a cursor of exactly n string keys whose last one is a
// row id, answering ErrCursor for anything else. The id must be a
// canonical UUID and no key may hold a control character: MySQL refuses to
// compare ASCII id columns with a value outside ASCII and PostgreSQL
// refuses NUL, which would turn a tampered cursor into a server error
// instead of a bad request.
func DecodeKeys(c string, n int) ([]string, error) {
	var keys []string
	if err := DecodeCursor(c, &keys); err != nil {
		return nil, err
	}
	if len(keys) != n {
		return nil, ErrCursor
	}
	for _, k := range keys {
		if strings.ContainsFunc(k, unicode.IsControl) {
			return nil, ErrCursor
		}
	}
	if id, ok := ids.Canonical(keys[n-1]); !ok || id != keys[n-1] {
		return nil, ErrCursor
	}
	return keys, nil
}
