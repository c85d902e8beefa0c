package authn

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/shared/problem"
)

// Middleware requires a valid bearer token on every request it wraps and
// puts the principal and the token (TokenFrom) in the request context; otherwise it answers a 401
// problem and the handler never runs.
func Middleware(v Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, ok := BearerToken(r.Header.Get("Authorization"))
			if !ok {
				problem.Write(w, r, problem.Unauthorized("a bearer token is required"))
				return
			}
			p, err := v.Verify(r.Context(), raw)
			if errors.Is(err, ErrKeysUnavailable) {
				problem.Write(w, r, problem.Unavailable("the token cannot be checked now: the signing keys cannot be fetched"))
				return
			}
			if err != nil {
				problem.Write(w, r, problem.Unauthorized("the token is invalid or expired"))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithToken(NewContext(r.Context(), p), raw)))
		})
	}
}

// ErrForbidden is returned when the caller lacks the role an action needs.
var ErrForbidden = errors.New("forbidden")

// Require returns the principal in ctx holding one of roles (any role when
// none are given): a 401 problem without principal, a 403 without the role.
func Require(ctx context.Context, roles ...string) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, problem.Unauthorized("a bearer token is required")
	}
	if len(roles) > 0 && !p.HasAny(roles...) {
		return Principal{}, problem.Forbidden("your role does not allow this action")
	}
	return p, nil
}

// RequireRoles is a go-kit endpoint middleware admitting only principals
// holding one of roles (any authenticated principal when none are given).
func RequireRoles(roles ...string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			if _, err := Require(ctx, roles...); err != nil {
				return nil, err
			}
			return next(ctx, request)
		}
	}
}
