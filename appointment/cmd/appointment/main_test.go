package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/appointment/transport"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/runtest"
	"github.com/medisync/medisync/shared/sqldb"
)

// TestRunConsumesSignedEncounters starts the real wiring with a NATS
// server in the test process: a signed encounter fulfils its appointment,
// whose status change the relay then publishes; a patient's deactivation
// takes them off the waitlist; a malformed event becomes
// a dead letter the admin endpoints list and replay, beside the
// /api/v1/appointments/{id} routes.
func TestRunConsumesSignedEncounters(t *testing.T) {
	nats := brokertest.Embedded(t)
	iss := authntest.NewIssuer(t)
	file := filepath.Join(t.TempDir(), "a.db")
	ctx := context.Background()

	// The appointment is stored beforehand: booking asks the doctor and
	// patient services, which this test does not run.
	db, err := sqldb.Open(ctx, "sqlite:"+file)
	require.NoError(t, err)
	require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
	a := repotest.New(ids.New(), 0, 30)
	a.Start, a.End = time.Now().Add(-time.Hour).UTC().Truncate(time.Second), time.Now().Add(-30*time.Minute).UTC().Truncate(time.Second)
	require.NoError(t, sqlstore.New(db).Book(ctx, a, service.BookOptions{}))
	require.NoError(t, sqlstore.New(db).JoinWaitlist(ctx, appointment.WaitlistEntry{ID: ids.New(), DoctorID: a.DoctorID,
		Day: time.Now().UTC().AddDate(0, 0, 7).Format(time.DateOnly), PatientID: a.PatientID, PatientUserID: a.PatientUserID,
		CreatedAt: time.Now().UTC()}, service.PatientSeen{}, service.WaitsPassedBefore(time.Now()), repotest.Audit(a)))
	require.NoError(t, db.Close())

	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+file, "-jwks-url", iss.JWKSURL(),
		"-discovery-urls", "", "-log-level", "error", "-broker-url", nats.URL())
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	patient := iss.Token(t, authntest.Claims{UserID: a.PatientUserID, Roles: []string{"PATIENT"}})
	// The dead-letter routes main mounts answer as the document says too.
	client := &http.Client{Transport: openapitest.Load(t, transport.OpenAPI()).Transport(t, nil)}
	send := func(tok, method, path string) apitest.Response {
		return apitest.Do(t, client, apitest.NewRequest(t, method, svc.URL+path, nil, apitest.Bearer(tok)...))
	}

	b, err := broker.Open(ctx, nats.URL(), broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	// A consumer of the appointment's own events sees the status change
	// the relay publishes.
	changes := make(chan events.Event, 4)
	cctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() {
		_ = b.Consume(cctx, broker.Consumer{Name: brokertest.Name("watch"), Types: []string{service.TypeStatusChanged},
			Handler: func(_ context.Context, ev events.Event) error { changes <- ev; return nil }})
	}()
	publish := func(ev events.Event) {
		require.Eventually(t, func() bool { return b.Publish(ctx, ev) == nil }, 10*time.Second, 50*time.Millisecond)
	}

	publish(repotest.Signed(t, a, time.Now()))
	require.Eventually(t, func() bool {
		r := send(patient, "GET", "/api/v1/appointments/"+a.ID)
		return r.Status == http.StatusOK && r.JSON(t)["status"] == "fulfilled"
	}, 20*time.Second, 50*time.Millisecond, "the signed encounter fulfils the appointment")
	select {
	case ev := <-changes:
		assert.Equal(t, a.ID, ev.Subject)
		var d service.EventData
		require.NoError(t, ev.Decode(&d))
		assert.Equal(t, "booked", d.PreviousStatus)
		assert.Equal(t, "fulfilled", d.Status)
	case <-time.After(20 * time.Second):
		t.Fatal("the status change was not published")
	}

	waits := func() int {
		r := send(patient, "GET", "/api/v1/appointments/waitlist")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		return len(r.JSON(t)["items"].([]any))
	}
	require.Equal(t, 1, waits())
	publish(repotest.PatientStatus(t, a.PatientID, false, 2))
	require.Eventually(t, func() bool { return waits() == 0 }, 20*time.Second, 50*time.Millisecond,
		"the patient's deactivation takes them off the waitlist")

	bad := repotest.Signed(t, a, time.Now())
	bad.Data = []byte(`{"encounterId":"e-1"}`)
	publish(bad)
	var items []any
	require.Eventually(t, func() bool {
		r := send(admin, "GET", "/api/v1/appointments/admin/dead-letters")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		items, _ = r.JSON(t)["items"].([]any)
		return len(items) == 1
	}, 20*time.Second, 50*time.Millisecond, "the malformed event is dead-lettered")
	assert.Equal(t, bad.ID, items[0].(map[string]any)["id"])
	assert.Equal(t, "appointment", items[0].(map[string]any)["consumer"])
	assert.Equal(t, http.StatusForbidden, send(patient, "GET", "/api/v1/appointments/admin/dead-letters").Status)
	assert.Equal(t, http.StatusNotFound, send(admin, "POST", "/api/v1/appointments/admin/dead-letters/"+ids.New()+"/replay").Status)
	assert.Equal(t, http.StatusBadRequest, send(admin, "POST", "/api/v1/appointments/admin/dead-letters/not_an_event_id/replay").Status)
	assert.Equal(t, http.StatusAccepted, send(admin, "POST", "/api/v1/appointments/admin/dead-letters/"+bad.ID+"/replay").Status)
	require.Eventually(t, func() bool {
		r := send(admin, "GET", "/api/v1/appointments/admin/dead-letters")
		return r.Status == http.StatusOK && len(r.JSON(t)["items"].([]any)) == 1
	}, 20*time.Second, 50*time.Millisecond, "still malformed on replay, so dead-lettered again")
	assert.Equal(t, http.StatusBadRequest, send(admin, "GET", "/api/v1/appointments/admin").Status,
		"the id routes still answer for what is not theirs")
	svc.Stop(t)
}

// TestRunWithoutBroker: without -broker-url nothing is consumed, and the
// dead-letter list is empty rather than an error.
func TestRunWithoutBroker(t *testing.T) {
	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+filepath.Join(t.TempDir(), "a.db"), "-jwks-url", iss.JWKSURL(),
		"-discovery-urls", "", "-log-level", "error")
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	client := &http.Client{Transport: openapitest.Load(t, transport.OpenAPI()).Transport(t, nil)}
	r := apitest.Do(t, client, apitest.NewRequest(t, "GET", svc.URL+"/api/v1/appointments/admin/dead-letters", nil, apitest.Bearer(admin)...))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.JSONEq(t, `{"items":[]}`, string(r.Body))
	svc.Stop(t)
}

func TestRunRefusesBadEventWorkers(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
	err := run(context.Background(), []string{"-db-dsn", db, "-discovery-urls", "", "-jwks-url", "http://127.0.0.1:1/jwks", "-event-workers", "0"})
	assert.ErrorContains(t, err, "-event-workers")
}

// TestCancelNoticeZeroMeansNoNotice: -cancel-notice 0 is a clinic's choice
// that a patient may cancel or move an appointment until it starts, not the
// default's 24 hours.
func TestCancelNoticeZeroMeansNoNotice(t *testing.T) {
	iss := authntest.NewIssuer(t)
	file := filepath.Join(t.TempDir(), "a.db")
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+file)
	require.NoError(t, err)
	require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
	a := repotest.New(ids.New(), 0, 30)
	a.Start = time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	a.End = a.Start.Add(30 * time.Minute)
	require.NoError(t, sqlstore.New(db).Book(ctx, a, service.BookOptions{}))
	require.NoError(t, db.Close())

	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+file, "-jwks-url", iss.JWKSURL(),
		"-discovery-urls", "", "-log-level", "error", "-cancel-notice", "0")
	patient := iss.Token(t, authntest.Claims{UserID: a.PatientUserID, Roles: []string{"PATIENT"}})
	r := apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, "POST", svc.URL+"/api/v1/appointments/"+a.ID+"/cancel",
		map[string]any{}, apitest.Bearer(patient)...))
	require.Equal(t, http.StatusOK, r.Status, "with -cancel-notice 0 a patient may cancel until the start: %s", r.Body)
	svc.Stop(t)
}

// TestRunRefusesANegativeNoticeAndANoTimeRetention: a negative notice or a retention of no
// time is a mistake, refused at start naming its flag.
func TestRunRefusesANegativeNoticeAndANoTimeRetention(t *testing.T) {
	for _, c := range [][]string{{"-cancel-notice", "-1h"}, {"-idempotency-retention", "-1h"}, {"-idempotency-retention", "0"}} {
		db := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
		err := run(context.Background(), append([]string{"-db-dsn", db, "-discovery-urls", "", "-jwks-url", "http://127.0.0.1:1/jwks"}, c...))
		assert.ErrorContains(t, err, c[0], "%v", c)
	}
}
