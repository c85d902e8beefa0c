// Command loadstub is a minimal stand-in for the patient service, for load
// tests that measure the gateway alone: it runs in the same process frame as
// the real services (configuration, access log, metrics, request IDs, token
// verification against the auth JWKS, discovery registration) but answers
// from memory, so that database work does not blur the gateway's share.
//
// It serves POST /api/v1/patients (201 with a new id) and
// GET /api/v1/patients/{id} (a fixed profile with that id).
package main

import (
	"context"
	"io"
	"net/http"
	"os"

	"github.com/gorilla/mux"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
)

func main() {
	app.Main("loadstub", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.LookupEnv, os.Stderr)
	})
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stderr io.Writer) error {
	a, err := app.New(ctx, app.Options{Name: "patient", DefaultAddr: ":8083"}, args, lookup, stderr)
	if err != nil {
		return err
	}
	verifier, err := a.Verifier(ctx)
	if err != nil {
		_ = a.Close()
		return err
	}
	r := a.Router()
	api := r.PathPrefix("/api/v1/patients").Subrouter()
	api.Use(mux.MiddlewareFunc(authn.Middleware(verifier)))
	api.HandleFunc("", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"`+ids.New()+`"}`)
	}).Methods(http.MethodPost)
	api.HandleFunc("/{id}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("ETag", `"1"`)
		_, _ = io.WriteString(w, `{"id":"`+mux.Vars(r)["id"]+`","firstName":"Load","lastName":"Tester","dateOfBirth":"1980-01-01",`+
			`"sex":"other","active":true,"version":1,"createdAt":"2027-01-01T00:00:00Z","updatedAt":"2027-01-01T00:00:00Z"}`)
	}).Methods(http.MethodGet)
	return a.Run(ctx, a.Handler(r))
}
