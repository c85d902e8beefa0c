package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/medisync/medisync/e2e/apiclient"
	"github.com/medisync/medisync/shared/openapitest"
)

// api is the generated client of the gateway's API. Every exchange it makes
// is checked against the document the gateway serves, which must be the one
// the client was generated from: a service whose answers or document drift
// from the client fails the story.
type api struct {
	*apiclient.ClientWithResponses
	t  *testing.T
	hc *http.Client
}

// newAPI waits for the gateway to serve the whole document (it fetches the
// services' documents as they come up) and builds the client on it.
func newAPI(t *testing.T, base string) *api {
	t.Helper()
	var served []byte
	waitFor(t, "the gateway to serve the document the client was generated from", 20*time.Second, func() bool {
		res, err := http.Get(base + "/openapi.yaml")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		served, _ = io.ReadAll(res.Body)
		return res.StatusCode == http.StatusOK && bytes.Equal(served, apiclient.Document)
	})
	doc := openapitest.Load(t, served)
	hc := &http.Client{Timeout: 15 * time.Second, Transport: doc.Transport(t, nil)}
	c, err := apiclient.NewClientWithResponses(base, apiclient.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return &api{ClientWithResponses: c, t: t, hc: hc}
}

// bearer sends token with a request of the generated client.
func bearer(token string) apiclient.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// header sets one header on a request of the generated client.
func header(name, value string) apiclient.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set(name, value)
		return nil
	}
}

// answered fails the test unless the generated client's call succeeded
// with the status.
func answered(t *testing.T, what string, status int, got interface {
	StatusCode() int
}, body []byte, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got.StatusCode() != status {
		t.Fatalf("%s: status %d, want %d: %s", what, got.StatusCode(), status, body)
	}
}

// login signs in through the generated client and returns the access token.
func (a *api) login(email, password string) string {
	a.t.Helper()
	r, err := a.LoginWithResponse(context.Background(), apiclient.LoginRequest{Email: email, Password: password})
	answered(a.t, "login "+email, http.StatusOK, r, r.Body, err)
	if r.JSON200.AccessToken == "" || r.JSON200.TokenType != apiclient.Bearer {
		a.t.Fatalf("login %s: %s", email, r.Body)
	}
	return r.JSON200.AccessToken
}

func ptr[T any](v T) *T { return &v }
