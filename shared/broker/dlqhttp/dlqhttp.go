// Package dlqhttp serves a consumer's dead letters to administrators: the
// list and the replay of ADR 0025, behind a bearer token with the ADMIN role.
package dlqhttp

import (
	"errors"
	"net/http"
	"regexp"

	"github.com/gorilla/mux"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// Register mounts, under prefix ("/api/v1/notifications/admin"):
//
//	GET  <prefix>/dead-letters?limit=N       -> 200 {"items": [{"id", "consumer", "reason", "event"}]}
//	POST <prefix>/dead-letters/{id}/replay   -> 202; 404 for an unknown id
//
// Both need a token verifier accepts with the ADMIN role; a broker that does
// not answer is a 503 with Retry-After, within the request's deadline.
func Register(r *mux.Router, prefix string, dl broker.DeadLetters, verifier authn.Verifier) {
	guard := func(h http.HandlerFunc) http.Handler {
		return authn.Middleware(verifier)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if _, err := authn.Require(req.Context(), authn.RoleAdmin); err != nil {
				problem.WriteError(w, req, err)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			h(w, req)
		}))
	}
	r.Handle(prefix+"/dead-letters", guard(func(w http.ResponseWriter, req *http.Request) {
		limit, err := rest.Limit(req)
		if err != nil {
			problem.WriteError(w, req, err)
			return
		}
		items, err := dl.List(req.Context(), limit)
		if err != nil {
			problem.Write(w, req, problem.Unavailable("the dead letters cannot be read: the broker does not answer"))
			return
		}
		if items == nil {
			items = []broker.DeadLetter{}
		}
		_ = httpjson.Write(w, http.StatusOK, map[string]any{"items": items})
	})).Methods(http.MethodGet)
	r.Handle(prefix+"/dead-letters/{id}/replay", guard(func(w http.ResponseWriter, req *http.Request) {
		id := mux.Vars(req)["id"]
		if !idPattern.MatchString(id) {
			problem.WriteError(w, req, domainerr.Field("id", "must be an event id"))
			return
		}
		switch err := dl.Replay(req.Context(), id); {
		case errors.Is(err, broker.ErrNotFound):
			problem.Write(w, req, problem.NotFound("no dead letter has this id"))
		case err != nil:
			problem.Write(w, req, problem.Unavailable("the dead letter cannot be replayed: the broker does not answer"))
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})).Methods(http.MethodPost)
}

// idPattern admits event ids (UUIDs) and the seq-N ids of dead letters
// whose envelope could not be read.
var idPattern = regexp.MustCompile(`^(?:[0-9a-fA-F-]{1,36}|seq-[0-9]{1,20})$`)
