// Package peer carries the caller's bearer token from the transport to the
// adapters that call other services on the caller's behalf, as requestid
// carries the request ID.
package peer

import "context"

type bearerKey struct{}

// WithBearer returns ctx carrying the caller's raw access token.
func WithBearer(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, bearerKey{}, token)
}

// Bearer returns the caller's raw access token, or "".
func Bearer(ctx context.Context) string {
	s, _ := ctx.Value(bearerKey{}).(string)
	return s
}
