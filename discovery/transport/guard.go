package transport

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/medisync/medisync/shared/problem"
)

// MetaAuthenticated is the metadata key the server sets to "true" on an
// instance registered with its own service's write token, and removes from
// every other registration: clients cannot set it themselves, so a verifier
// can tell auth's real instances from a holder of the shared token.
const MetaAuthenticated = "authenticated"

// Writers says who may write under /api/v1/registry/{service}/...
type Writers struct {
	// Shared is the token accepted for every service without a token of
	// its own; empty accepts none.
	Shared string
	// Services maps a service to its own token: writes under that service
	// need exactly it (the shared token is refused), and its registrations
	// are marked authenticated.
	Services map[string]string
	// Open accepts writes without a valid token (development only). A write
	// with a service's own token is still marked authenticated.
	Open bool
}

// Closed reports whether no write can ever succeed: no token of any kind
// and not open.
func (w Writers) Closed() bool { return !w.Open && w.Shared == "" && len(w.Services) == 0 }

// WriteAccess is who may write, in the dashboard's words.
type WriteAccess string

// The three ways a server takes writes.
const (
	WritesNeedToken WriteAccess = "token"
	WritesOpen      WriteAccess = "open"
	WritesRefused   WriteAccess = "refused"
)

// Access says which of the three w is.
func (w Writers) Access() WriteAccess {
	switch {
	case w.Open:
		return WritesOpen
	case w.Closed():
		return WritesRefused
	default:
		return WritesNeedToken
	}
}

type authenticatedKey struct{}

// authenticated reports whether the guard accepted the request with the
// service's own token.
func authenticated(ctx context.Context) bool {
	ok, _ := ctx.Value(authenticatedKey{}).(bool)
	return ok
}

// RequireWriter guards the writes of a route with a {service} variable: a
// missing credential is a 401, a wrong one a 403 (Writers.Check).
func RequireWriter(w Writers) mux.MiddlewareFunc {
	check := w.Checker()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			ok, p := check(r, mux.Vars(r)["service"])
			if p != nil {
				problem.Write(rw, r, p)
				return
			}
			if ok {
				r = r.WithContext(context.WithValue(r.Context(), authenticatedKey{}, true))
			}
			next.ServeHTTP(rw, r)
		})
	}
}

// Checker returns the write check: whether r may write under service, and
// whether it did so with the service's own token (then its registrations
// are marked authenticated). A refusal is the problem to answer. The
// credential is "Authorization: Bearer <token>", or HTTP basic with the
// token as the password (what Eureka clients send from a URL's user
// information). Comparisons run over SHA-256 digests in constant time, so
// neither a token nor its length leaks.
func (w Writers) Checker() func(r *http.Request, service string) (authenticated bool, refusal *problem.Problem) {
	digest := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
	shared := digest(w.Shared)
	own := make(map[string][32]byte, len(w.Services))
	for svc, tok := range w.Services {
		own[svc] = digest(tok)
	}
	equal := func(a, b [32]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }
	return func(r *http.Request, service string) (bool, *problem.Problem) {
		cred, present := bearer(r)
		got := digest(cred)
		svcDigest, hasOwn := own[service]
		switch {
		case present && hasOwn && equal(got, svcDigest):
			return true, nil
		case present && !hasOwn && w.Shared != "" && equal(got, shared):
			return false, nil
		case w.Open:
			return false, nil
		case w.Closed():
			// Secure by default: a server started without any token
			// accepts no write at all (docs/adr/0011).
			p := problem.Forbidden("registry writes are disabled: the server has no write token")
			p.Errors = []problem.FieldError{{Field: "Authorization", Message: "no token is accepted by this server"}}
			return false, p
		case !present:
			p := problem.Unauthorized("registry writes need the discovery token")
			p.Errors = []problem.FieldError{{Field: "Authorization", Message: "must be \"Bearer <discovery token>\" or basic with the token as password"}}
			return false, p
		default:
			p := problem.Forbidden("the discovery token is not valid")
			msg := "does not hold the discovery token"
			if hasOwn {
				msg = "does not hold this service's own discovery token"
			}
			p.Errors = []problem.FieldError{{Field: "Authorization", Message: msg}}
			return false, p
		}
	}
}

// bearer returns the credential of an "Authorization: Bearer" header, or
// the password of HTTP basic authentication.
func bearer(r *http.Request) (string, bool) {
	if _, pass, ok := r.BasicAuth(); ok {
		return pass, pass != ""
	}
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return "", false
	}
	return cred, true
}

// markAuthenticated sets or removes MetaAuthenticated on a registration's
// metadata: only the guard decides it, never the client.
func markAuthenticated(ctx context.Context, md map[string]string) map[string]string {
	return MarkAuthenticated(md, authenticated(ctx))
}

// MarkAuthenticated sets MetaAuthenticated on md when the write was made
// with the service's own token and removes it otherwise.
func MarkAuthenticated(md map[string]string, authenticated bool) map[string]string {
	if md != nil {
		delete(md, MetaAuthenticated)
	}
	if authenticated {
		if md == nil {
			md = map[string]string{}
		}
		md[MetaAuthenticated] = "true"
	}
	return md
}
