// Package rest holds the HTTP conventions every service's transport shares
// (docs/architecture.md, "HTTP conventions"): entity tags and If-Match,
// list limits, cursors and the other parameters of the query, UUIDs in the
// path. One helper per
// convention, so that the same request gets the same answer everywhere.
package rest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
)

// ETag is the strong entity tag of a resource version.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ErrIfMatch is the answer to an If-Match that is not one entity tag.
var ErrIfMatch = domainerr.Field("If-Match", `must be one ETag of this resource, such as "3"`)

// ErrWeakIfMatch is the answer to a weak entity tag in If-Match: RFC 9110
// compares If-Match strongly, so a weak tag never matches.
var ErrWeakIfMatch = domainerr.ErrWeakVersion

// ParseIfMatch reads the version an If-Match header names: 0 when it is
// absent or "*" ("*" would match any version and so guard against nothing;
// services that need a version answer 428). A weak tag is ErrWeakIfMatch
// (412); anything but one entity tag ("3", or the bare 3 that older clients
// send) is ErrIfMatch (400). A transport whose use case checks the caller's
// rights before the version uses ParseIfMatchVersion instead, so that the
// 412 of a weak tag does not come before the caller's 403 or 404.
func ParseIfMatch(h string) (int64, error) {
	v, err := ParseIfMatchVersion(h)
	if v == domainerr.WeakVersion {
		return 0, ErrWeakIfMatch
	}
	return v, err
}

// ParseIfMatchVersion is ParseIfMatch with a weak tag read as
// domainerr.WeakVersion rather than refused: the use case answers it
// (domainerr.StaleFor) where it answers a stale version, once the caller's
// rights are checked and any refusal recorded (docs/adr/0003).
func ParseIfMatchVersion(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0, nil
	}
	if strings.HasPrefix(h, "W/") {
		if _, err := ParseIfMatchVersion(h[2:]); err != nil || h[2:] == "*" || !strings.HasPrefix(h[2:], `"`) {
			return 0, ErrIfMatch
		}
		return domainerr.WeakVersion, nil
	}
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		h = h[1 : len(h)-1]
	}
	if h == "" || len(h) > 18 || strings.TrimLeft(h, "0123456789") != "" {
		return 0, ErrIfMatch
	}
	v, err := strconv.ParseInt(h, 10, 64)
	if err != nil || v < 1 {
		return 0, ErrIfMatch
	}
	return v, nil
}

// IfMatch reads r's If-Match header (see ParseIfMatch).
func IfMatch(r *http.Request) (int64, error) { return ParseIfMatch(r.Header.Get("If-Match")) }

// IfMatchVersion reads r's If-Match header (see ParseIfMatchVersion).
func IfMatchVersion(r *http.Request) (int64, error) {
	return ParseIfMatchVersion(r.Header.Get("If-Match"))
}

// Query reads the parameters of a request's query string that take one
// value each. url.Values.Get reads the first of a parameter sent twice and
// an empty one as absent, so that a filter the service refuses passes
// behind one it takes (?status=sent&status=bogus) and ?limit= falls back
// to the default without a word. Get notes either as a field error naming
// the parameter instead; Text notes only the first, for the parameters
// whose type has a valid empty value (docs/architecture.md, "Query
// strings").
type Query struct {
	values url.Values
	errs   domainerr.FieldErrors
}

// QueryOf returns the parameters of r's query string.
func QueryOf(r *http.Request) *Query { return &Query{values: r.URL.Query()} }

// Get returns the value of the parameter name, "" when it is absent, for
// a parameter whose type has no empty value (a number, a boolean, an enum,
// a UUID, a date, a duration). One sent more than once, or with no value,
// reads as "" and is noted for Err.
func (q *Query) Get(name string) string { return q.get(name, false) }

// Text is Get for a free-form string whose document accepts it empty, and
// for the cursor: sent with no value it reads as absent, no filter or the
// first page, as a form or a pager sends it; sent more than once, it is
// still noted for Err.
func (q *Query) Text(name string) string { return q.get(name, true) }

func (q *Query) get(name string, emptyIsAbsent bool) string {
	vs, ok := q.values[name]
	switch {
	case !ok:
	case len(vs) > 1:
		q.errs.Add(name, "takes one value, and is sent more than once")
	case vs[0] == "" && !emptyIsAbsent:
		q.errs.Add(name, "is sent with no value; leave it out instead")
	default:
		return vs[0]
	}
	return ""
}

// Err returns the field errors of the parameters Get and Text refused, nil
// if none.
func (q *Query) Err() error { return q.errs.Err() }

// Param returns the value of r's query parameter name, which takes one
// value: "" when it is absent, a field error naming it when it is sent
// more than once or with no value (Query.Get).
func Param(r *http.Request, name string) (string, error) {
	q := QueryOf(r)
	v := q.Get(name)
	return v, q.Err()
}

// TextParam is Param for a free-form string whose document accepts it
// empty (Query.Text): sent with no value, it reads as absent.
func TextParam(r *http.Request, name string) (string, error) {
	q := QueryOf(r)
	v := q.Text(name)
	return v, q.Err()
}

// Limit reads the limit query parameter (page.ParseLimit).
func Limit(r *http.Request) (int, error) {
	s, err := Param(r, "limit")
	if err != nil {
		return 0, err
	}
	return page.ParseLimit(s)
}

// Cursor returns the cursor query parameter, refusing at once one that no
// service of this project could have issued (too long, not base64url JSON),
// so that the answer does not depend on what the store checks first. An
// empty cursor is the first page, as page.DecodeCursor reads it and as a
// client sending the last page's nextCursor, none at first, asks for it.
func Cursor(r *http.Request) (string, error) {
	c, err := TextParam(r, "cursor")
	if err != nil {
		return "", err
	}
	var v json.RawMessage
	if err := page.DecodeCursor(c, &v); err != nil {
		return "", err
	}
	return c, nil
}

// PathUUID returns the path variable name, which must be a UUID, in its
// canonical lower-case form.
func PathUUID(r *http.Request, name string) (string, error) {
	id, ok := ids.Canonical(mux.Vars(r)[name])
	if !ok {
		return "", domainerr.Field(name, "must be a UUID")
	}
	return id, nil
}

// OpenAPI serves a service's OpenAPI document: public, like the API's
// shape, and cacheable for a few minutes (the gateway merges it).
func OpenAPI(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	})
}
