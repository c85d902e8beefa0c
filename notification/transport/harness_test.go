package transport_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/endpoint"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/notification/templates"
	"github.com/medisync/medisync/notification/transport"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/seal"
	"github.com/medisync/medisync/shared/sqldb"
)

// newNotif serves the API on db, every exchange held to the OpenAPI
// document, and returns the server, the issuer of its tokens and the
// service behind it.
func newNotif(t *testing.T, db *sqldb.DB) (*httptest.Server, *authntest.Issuer, service.Service) {
	key, err := seal.NewKey([]byte(strings.Repeat("k", seal.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := service.DefaultConfig()
	cfg.SealKey = &key
	svc := service.New(service.Deps{Repo: sqlstore.New(db), Templates: tpl, Clock: clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), Config: cfg})
	iss := authntest.NewIssuer(t)
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), iss.Verifier())
	h := httpmw.Stack(r, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes})
	srv := httptest.NewServer(openapitest.Load(t, transport.OpenAPI()).Handler(t, h))
	t.Cleanup(srv.Close)
	return srv, iss, svc
}
