// Package transport serves the auth endpoints over HTTP: routes under
// /api/v1/auth, the JWKS at /.well-known/jwks.json, strict JSON decoding and
// problem+json errors.
package transport

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/auth/account"
	authep "github.com/medisync/medisync/auth/endpoint"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/problem"
)

// maxBody bounds every auth request body; none needs more.
const maxBody = 64 << 10

// Options configure the routes.
type Options struct {
	// Verifier checks the bearer tokens of /me, password change and the
	// administration routes.
	Verifier authn.Verifier
	// JWKS returns the current public key set document.
	JWKS func() []byte
	// ClientIP finds the client address for login throttling; nil uses the
	// connection's peer.
	ClientIP *ClientIP
}

// Routes adds the auth routes to r.
func Routes(r *mux.Router, eps authep.Set, o Options) {
	opts := []httptransport.ServerOption{
		httptransport.ServerErrorEncoder(problem.ErrorEncoder(MapError)),
		httptransport.ServerBefore(problem.PopulateInstance),
	}
	h := func(e endpoint.Endpoint, dec httptransport.DecodeRequestFunc) http.Handler {
		return httptransport.NewServer(e, dec, encode, opts...)
	}
	bearer := authn.Middleware(o.Verifier)
	admin := func(next http.Handler) http.Handler { return bearer(requireAdmin(next)) }
	ip := o.ClientIP

	r.Handle("/.well-known/jwks.json", jwksHandler(o.JWKS)).Methods(http.MethodGet)

	// Full paths on the main router rather than a subrouter, so that a wrong
	// method is a 405 and not a 404.
	a := prefixed{r: r, prefix: "/api/v1/auth"}
	a.Handle("/register", h(eps.Register, decodeJSON[authep.RegisterRequest])).Methods(http.MethodPost)
	a.Handle("/login", h(eps.Login, func(ctx context.Context, r *http.Request) (any, error) {
		var req authep.LoginRequest
		if err := httpjson.Decode(r, &req, maxBody); err != nil {
			return nil, err
		}
		req.ClientIP = ip.Of(r)
		return req, nil
	})).Methods(http.MethodPost)
	a.Handle("/refresh", h(eps.Refresh, decodeJSON[authep.RefreshTokenRequest])).Methods(http.MethodPost)
	a.Handle("/logout", h(eps.Logout, decodeJSON[authep.RefreshTokenRequest])).Methods(http.MethodPost)
	a.Handle("/me", bearer(h(eps.Me, func(context.Context, *http.Request) (any, error) {
		return authep.MeRequest{}, nil
	}))).Methods(http.MethodGet)
	a.Handle("/password/change", bearer(h(eps.ChangePassword, func(ctx context.Context, r *http.Request) (any, error) {
		var req authep.ChangePasswordRequest
		if err := httpjson.Decode(r, &req, maxBody); err != nil {
			return nil, err
		}
		req.ClientIP = ip.Of(r)
		return req, nil
	}))).Methods(http.MethodPost)
	a.Handle("/password/forgot", h(eps.ForgotPassword, decodeJSON[authep.ForgotPasswordRequest])).Methods(http.MethodPost)
	a.Handle("/password/reset", h(eps.ResetPassword, decodeJSON[authep.ResetPasswordRequest])).Methods(http.MethodPost)

	a.Handle("/users", admin(h(eps.CreateUser, decodeJSON[authep.CreateUserRequest]))).Methods(http.MethodPost)
	a.Handle("/users", admin(h(eps.ListUsers, decodeList))).Methods(http.MethodGet)
	a.Handle("/users/{id}", admin(h(eps.GetUser, func(_ context.Context, r *http.Request) (any, error) {
		id, err := pathID(r)
		return authep.GetUserRequest{ID: id}, err
	}))).Methods(http.MethodGet)
	a.Handle("/users/{id}", admin(h(eps.UpdateUser, decodeUpdate))).Methods(http.MethodPatch)
}

type prefixed struct {
	r      *mux.Router
	prefix string
}

func (p prefixed) Handle(path string, h http.Handler) *mux.Route { return p.r.Handle(p.prefix+path, h) }

// requireAdmin answers 403 before any decoding when the token lacks ADMIN,
// so that callers without the right learn nothing from validation errors.
func requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := authn.Require(r.Context(), authn.RoleAdmin); err != nil {
			problem.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func jwksHandler(jwks func() []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// Short, so verifiers see a rotation soon even through caches.
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(jwks())
	})
}

func decodeJSON[T any](_ context.Context, r *http.Request) (any, error) {
	var req T
	if err := httpjson.Decode(r, &req, maxBody); err != nil {
		return nil, err
	}
	return req, nil
}

func pathID(r *http.Request) (string, error) {
	raw := mux.Vars(r)["id"]
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return "", problem.Validation(problem.FieldError{Field: "id", Message: "must be a UUID"})
	}
	return id.String(), nil
}

func decodeList(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	req := authep.ListUsersRequest{Role: q.Get("role"), Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, problem.Validation(problem.FieldError{Field: "limit", Message: "must be an integer between 1 and 100"})
		}
		if n == 0 {
			n = -1 // an explicit 0 is out of range, not "default"
		}
		req.Limit = n
	}
	return req, nil
}

func decodeUpdate(_ context.Context, r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	var req authep.UpdateUserRequest
	if err := httpjson.Decode(r, &req, maxBody); err != nil {
		return nil, err
	}
	req.ID = id
	if v := r.Header.Get("If-Match"); v != "" && v != "*" {
		n, ok := parseETag(v)
		if !ok {
			return nil, problem.BadRequest("If-Match must be an ETag this service sent, such as \"3\"",
				problem.FieldError{Field: "If-Match", Message: "malformed"})
		}
		req.IfMatch = &n
	}
	return req, nil
}

// etag is the entity tag of a user version.
func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

func parseETag(v string) (int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, false
	}
	n, err := strconv.Atoi(v[1 : len(v)-1])
	return n, err == nil && n > 0
}

func encode(_ context.Context, w http.ResponseWriter, response any) error {
	h := w.Header()
	// Everything here is personal or a credential.
	h.Set("Cache-Control", "no-store")
	switch resp := response.(type) {
	case authep.UserResponse:
		h.Set("ETag", etag(resp.User.Version))
		status := http.StatusOK
		if resp.Created {
			h.Set("Location", "/api/v1/auth/users/"+resp.User.ID)
			status = http.StatusCreated
		}
		return httpjson.Write(w, status, resp.User)
	case authep.Tokens:
		h.Set("Pragma", "no-cache")
		return httpjson.Write(w, http.StatusOK, resp)
	case authep.Accepted:
		return httpjson.Write(w, http.StatusAccepted, resp)
	case authep.NoContent:
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return httpjson.Write(w, http.StatusOK, resp)
	}
}

// MapError turns the service's errors into problems.
func MapError(err error) *problem.Problem {
	var thr *service.ThrottledError
	switch {
	case errors.As(err, &thr):
		secs := int((thr.RetryAfter + 999_999_999) / 1_000_000_000)
		return problem.TooManyRequests("too many failed attempts; retry after the time in Retry-After", secs)
	case errors.Is(err, password.ErrBusy):
		p := problem.New(http.StatusServiceUnavailable, err.Error())
		p.Headers = http.Header{"Retry-After": {"1"}}
		return p
	case errors.Is(err, account.ErrInvalidCredentials),
		errors.Is(err, account.ErrInvalidRefresh),
		errors.Is(err, account.ErrRefreshReused),
		errors.Is(err, account.ErrUnauthenticated):
		return problem.Unauthorized(err.Error())
	case errors.Is(err, account.ErrInvalidReset):
		return problem.BadRequest(err.Error(), problem.FieldError{Field: "token", Message: "is invalid, expired or already used"})
	case errors.Is(err, account.ErrDisabled), errors.Is(err, account.ErrForbidden):
		return problem.Forbidden(err.Error())
	case errors.Is(err, account.ErrNotFound):
		return problem.NotFound(err.Error())
	case errors.Is(err, account.ErrEmailTaken), errors.Is(err, account.ErrSelfLockout),
		errors.Is(err, account.ErrVersionConflict):
		return problem.Conflict(err.Error())
	case errors.Is(err, service.ErrPreconditionFailed):
		return problem.PreconditionFailed(err.Error())
	}
	return nil
}
