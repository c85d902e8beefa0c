// Package requestid carries the X-Request-ID of a request through its context,
// its log lines and every downstream HTTP call.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// Header is the HTTP header that carries the request ID.
const Header = "X-Request-ID"

// maxLen bounds an accepted ID so a client cannot bloat every log line.
const maxLen = 128

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the request ID in ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// New returns a fresh random ID (128 bits, hex).
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// valid accepts letters, digits and . _ : - only, the alphabet of UUIDs,
// trace ids and every common request-id scheme, so that an ID is safe to log,
// echo and store in audit events verbatim (no quotes, markup or separators).
func valid(id string) bool {
	if id == "" || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// Middleware accepts a well-formed incoming X-Request-ID or makes one, stores
// it in the request context and echoes it in the response.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !valid(id) {
			id = New()
			r.Header.Set(Header, id)
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}

// Transport passes the context's request ID on to downstream requests.
type Transport struct {
	// Base is the transport used; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip sets X-Request-ID from the request context when it is absent.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if id := From(r.Context()); id != "" && r.Header.Get(Header) == "" {
		r = r.Clone(r.Context())
		r.Header.Set(Header, id)
	}
	return base.RoundTrip(r)
}
