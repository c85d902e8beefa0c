// Package transport serves the auth endpoints over HTTP: routes under /api/v1/auth, the JWKS, the internal revocation feed, problem+json errors.
package transport

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"strings"

	kitendpoint "github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/endpoint"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// MaxBodyBytes bounds every auth request body; none needs more.
const MaxBodyBytes = 64 << 10

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI document, served at /openapi.yaml.
func OpenAPI() []byte { return openAPI }

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
	// Revocations serves the revocation feed at RevocationsPath; nil
	// serves none.
	Revocations RevocationFeed
}

// Register adds the auth routes to r.
func Register(r *mux.Router, eps endpoint.Set, o Options) {
	opts := []kithttp.ServerOption{
		kithttp.ServerErrorEncoder(problem.ErrorEncoder(errorRules)),
		kithttp.ServerBefore(problem.PopulateInstance),
	}
	h := func(e kitendpoint.Endpoint, dec kithttp.DecodeRequestFunc) http.Handler {
		return kithttp.NewServer(e, dec, encode, opts...)
	}
	bearer := authn.Middleware(o.Verifier)
	admin := func(next http.Handler) http.Handler { return bearer(requireAdmin(next)) }
	ip := o.ClientIP

	r.Handle("/.well-known/jwks.json", jwksHandler(o.JWKS)).Methods(http.MethodGet)
	r.Handle("/openapi.yaml", rest.OpenAPI(openAPI)).Methods(http.MethodGet)
	if o.Revocations != nil {
		r.Handle(RevocationsPath, revocationsHandler(o.Revocations)).Methods(http.MethodGet)
	}

	// Full paths on the main router rather than a subrouter, so that a wrong
	// method is a 405 and not a 404.
	a := prefixed{r: r, prefix: "/api/v1/auth"}
	a.Handle("/register", h(eps.Register, decodeJSON[endpoint.RegisterRequest])).Methods(http.MethodPost)
	a.Handle("/login", h(eps.Login, func(_ context.Context, r *http.Request) (any, error) {
		var req endpoint.LoginRequest
		err := httpjson.Decode(r, &req, MaxBodyBytes)
		req.ClientIP = ip.Of(r)
		return req, err
	})).Methods(http.MethodPost)
	a.Handle("/refresh", h(eps.Refresh, decodeJSON[endpoint.RefreshTokenRequest])).Methods(http.MethodPost)
	a.Handle("/logout", h(eps.Logout, decodeJSON[endpoint.RefreshTokenRequest])).Methods(http.MethodPost)
	a.Handle("/me", bearer(h(eps.Me, func(ctx context.Context, _ *http.Request) (any, error) {
		actor, err := authn.Require(ctx)
		return endpoint.MeRequest{Actor: actor}, err
	}))).Methods(http.MethodGet)
	a.Handle("/password/change", bearer(h(eps.ChangePassword, func(ctx context.Context, r *http.Request) (any, error) {
		var req endpoint.ChangePasswordRequest
		actor, err := callerAndBody(ctx, r, &req)
		req.ClientIP, req.Actor = ip.Of(r), actor
		return req, err
	}))).Methods(http.MethodPost)
	a.Handle("/password/forgot", h(eps.ForgotPassword, decodeJSON[endpoint.ForgotPasswordRequest])).Methods(http.MethodPost)
	a.Handle("/password/reset", h(eps.ResetPassword, decodeJSON[endpoint.ResetPasswordRequest])).Methods(http.MethodPost)

	a.Handle("/users", admin(h(eps.CreateUser, decodeCreate))).Methods(http.MethodPost)
	a.Handle("/users", admin(h(eps.ListUsers, decodeList))).Methods(http.MethodGet)
	// "announcements" is no user id: another method than POST on that path
	// is a 405 allowing POST, not a GET or PATCH of a user. The {id} routes
	// come first because mux forgets a method mismatch once a later route's
	// path matches.
	a.Handle("/users/{id}", admin(h(eps.GetUser, decodeGet))).MatcherFunc(notAnnouncements).Methods(http.MethodGet)
	a.Handle("/users/{id}", admin(h(eps.UpdateUser, decodeUpdate))).MatcherFunc(notAnnouncements).Methods(http.MethodPatch)
	a.Handle("/users/announcements", admin(h(eps.AnnounceUsers, decodeAnnounce))).Methods(http.MethodPost)
}

// notAnnouncements matches a request whose path is not the announcements'.
func notAnnouncements(r *http.Request, _ *mux.RouteMatch) bool {
	return !strings.HasSuffix(r.URL.Path, "/users/announcements")
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
	if err := httpjson.Decode(r, &req, MaxBodyBytes); err != nil {
		return nil, err
	}
	return req, nil
}

// callerAndBody reads the caller, then the JSON body into dst.
func callerAndBody(ctx context.Context, r *http.Request, dst any) (authn.Principal, error) {
	actor, err := authn.Require(ctx)
	if err != nil {
		return authn.Principal{}, err
	}
	return actor, httpjson.Decode(r, dst, MaxBodyBytes)
}

// callerAndID reads the caller, then the {id} of the path.
func callerAndID(ctx context.Context, r *http.Request) (authn.Principal, string, error) {
	actor, err := authn.Require(ctx)
	if err != nil {
		return authn.Principal{}, "", err
	}
	id, err := rest.PathUUID(r, "id")
	return actor, id, err
}

func decodeCreate(ctx context.Context, r *http.Request) (any, error) {
	var req endpoint.CreateUserRequest
	actor, err := callerAndBody(ctx, r, &req)
	req.Actor = actor
	return req, err
}

func decodeList(ctx context.Context, r *http.Request) (any, error) {
	actor, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := rest.Limit(r)
	if err != nil {
		return nil, err
	}
	cursor, err := rest.Cursor(r)
	if err != nil {
		return nil, err
	}
	role, err := rest.Param(r, "role")
	return endpoint.ListUsersRequest{Role: role, Cursor: cursor, Limit: limit, Actor: actor}, err
}

// decodeAnnounce reads the optional body of an announcement: none, or an
// empty one, asks for the first page at the default limit; one sent is
// decoded as strictly as any other.
func decodeAnnounce(ctx context.Context, r *http.Request) (any, error) {
	actor, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	req := endpoint.AnnounceUsersRequest{Actor: actor}
	if _, err := httpjson.DecodeOptional(r, &req, MaxBodyBytes); err != nil {
		return nil, err
	}
	req.Actor = actor
	// The service reads 0 as the default; sent, it is out of range.
	if req.Limit != nil && *req.Limit < 1 {
		return nil, page.ErrLimit
	}
	return req, nil
}

func decodeGet(ctx context.Context, r *http.Request) (any, error) {
	actor, id, err := callerAndID(ctx, r)
	return endpoint.GetUserRequest{ID: id, Actor: actor}, err
}

func decodeUpdate(ctx context.Context, r *http.Request) (any, error) {
	actor, id, err := callerAndID(ctx, r)
	if err != nil {
		return nil, err
	}
	// A weak tag is answered after the user is found (docs/adr/0003).
	version, err := rest.IfMatchVersion(r)
	if err != nil {
		return nil, err
	}
	var req endpoint.UpdateUserRequest
	err = httpjson.Decode(r, &req, MaxBodyBytes)
	req.ID, req.Actor = id, actor
	if version != 0 {
		v := int(version)
		req.IfMatch = &v
	}
	return req, err
}

func encode(_ context.Context, w http.ResponseWriter, response any) error {
	h := w.Header()
	// Everything here is personal or a credential.
	h.Set("Cache-Control", "no-store")
	switch resp := response.(type) {
	case endpoint.UserResponse:
		h.Set("ETag", rest.ETag(int64(resp.User.Version)))
		status := http.StatusOK
		if resp.Created {
			h.Set("Location", "/api/v1/auth/users/"+resp.User.ID)
			status = http.StatusCreated
		}
		return httpjson.Write(w, status, resp.User)
	case endpoint.Tokens:
		h.Set("Pragma", "no-cache")
		return httpjson.Write(w, http.StatusOK, resp)
	case endpoint.Accepted:
		return httpjson.Write(w, http.StatusAccepted, resp)
	case endpoint.NoContent:
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return httpjson.Write(w, http.StatusOK, resp)
	}
}

// errorRules says what the error kinds cannot: problem.From maps every
// other domain error by its kind.
var errorRules problem.Mapper = func(err error) *problem.Problem {
	var thr *service.ThrottledError
	switch {
	case errors.As(err, &thr):
		secs := int((thr.RetryAfter + 999_999_999) / 1_000_000_000)
		return problem.TooManyRequests("too many failed attempts; retry after the time in Retry-After", secs)
	case errors.Is(err, password.ErrBusy):
		// A saturated hashing pool sheds load; the detail is the pool's own.
		p := problem.New(http.StatusServiceUnavailable, password.ErrBusy.Error())
		p.Headers = http.Header{"Retry-After": {"1"}}
		return p
	case errors.Is(err, account.ErrInvalidReset):
		return problem.BadRequest(account.ErrInvalidReset.Error(),
			problem.FieldError{Field: "token", Message: "is invalid, expired or already used"})
	}
	return nil
}
