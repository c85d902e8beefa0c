package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/runtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestRun starts the real wiring on SQLite with a test JWKS, creates and
// reads a patient over HTTP, and shuts down on cancel.
func TestRun(t *testing.T) {
	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+filepath.Join(t.TempDir(), "p.db"),
		"-jwks-url", iss.JWKSURL(), "-discovery-urls", "", "-log-level", "warn")
	base := svc.URL

	tok := iss.Token(t, authntest.Claims{Roles: []string{"PATIENT"}})
	send := func(method, path string, body any) apitest.Response {
		return apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, method, base+path, body, apitest.Bearer(tok)...))
	}
	r := send("POST", "/api/v1/patients", `{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10"}`)
	assert.Equal(t, http.StatusCreated, r.Status)

	r = send("GET", "/api/v1/patients/me", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	svc.Stop(t)
}

// TestRunOnPostgres starts the service as deployed on PostgreSQL: a fresh
// database, migrated by its owner through -db-migrate-dsn and served by the
// runtime role, which may write the trail but not rewrite it.
func TestRunOnPostgres(t *testing.T) {
	ownerDSN, runtimeDSN := sqltest.PostgresRuntimeDSN(t, nil)
	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, run, "-db-dsn", runtimeDSN, "-db-migrate-dsn", ownerDSN,
		"-jwks-url", iss.JWKSURL(), "-discovery-urls", "", "-log-level", "warn")

	resp, err := http.Get(svc.URL + "/health/ready")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	tok := iss.Token(t, authntest.Claims{Roles: []string{"PATIENT"}})
	send := func(method, path string, body any) apitest.Response {
		return apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, method, svc.URL+path, body, apitest.Bearer(tok)...))
	}
	r := send("POST", "/api/v1/patients", `{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10"}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r = send("GET", "/api/v1/patients/me", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	svc.Stop(t)

	ctx := context.Background()
	runtime, err := sqldb.Open(ctx, runtimeDSN)
	require.NoError(t, err)
	defer runtime.Close()
	var events int
	require.NoError(t, runtime.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events").Scan(&events))
	assert.Equal(t, 2, events, "the create and the read, flushed on shutdown")
	_, err = runtime.ExecContext(ctx, "DELETE FROM audit_events")
	assert.ErrorContains(t, err, "permission denied", "the runtime role may not remove events")
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"-db-dsn", "postgres://x"})
	assert.Error(t, err)
	err = run(context.Background(), []string{"-audit-writers", "many"})
	assert.Error(t, err)
}

// TestRunPublishesStatusChanges starts the real wiring with a NATS server in
// the test process: an administrator's DELETE deactivates a record and the
// relay publishes patient.deactivated; a PUT setting active again publishes
// patient.reactivated.
func TestRunPublishesStatusChanges(t *testing.T) {
	nats := brokertest.Embedded(t)
	iss := authntest.NewIssuer(t)
	ctx := context.Background()
	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+filepath.Join(t.TempDir(), "p.db"),
		"-jwks-url", iss.JWKSURL(), "-discovery-urls", "", "-log-level", "error", "-broker-url", nats.URL())

	b, err := broker.Open(ctx, nats.URL(), broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	got := make(chan events.Event, 4)
	cctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() {
		_ = b.Consume(cctx, broker.Consumer{Name: brokertest.Name("watch"), Types: []string{service.TypeDeactivated, service.TypeReactivated},
			Handler: func(_ context.Context, ev events.Event) error { got <- ev; return nil }})
	}()
	next := func() events.Event {
		select {
		case ev := <-got:
			return ev
		case <-time.After(20 * time.Second):
			t.Fatal("no status change was published")
			return events.Event{}
		}
	}

	adminID := ids.New()
	admin := iss.Token(t, authntest.Claims{UserID: adminID, Roles: []string{"ADMIN"}})
	send := func(method, path string, body any, headers ...string) apitest.Response {
		return apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, method, svc.URL+path, body, append(apitest.Bearer(admin), headers...)...))
	}
	r := send("POST", "/api/v1/patients", `{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10"}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)

	require.Equal(t, http.StatusNoContent, send("DELETE", "/api/v1/patients/"+id, nil).Status)
	ev := next()
	assert.Equal(t, service.TypeDeactivated, ev.Type)
	assert.Equal(t, id, ev.Subject)
	var d service.StatusChangedData
	require.NoError(t, ev.Decode(&d))
	assert.Equal(t, service.StatusChangedData{PatientID: id, Version: 2, ChangedBy: adminID}, d)

	cur := send("GET", "/api/v1/patients/"+id, nil).JSON(t)
	cur["active"] = true
	r = send("PUT", "/api/v1/patients/"+id, cur, "If-Match", `"2"`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	ev = next()
	assert.Equal(t, service.TypeReactivated, ev.Type)
	require.NoError(t, ev.Decode(&d))
	assert.Equal(t, int64(3), d.Version)
	svc.Stop(t)
}
