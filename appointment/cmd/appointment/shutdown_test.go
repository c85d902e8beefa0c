package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/runtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A shutdown is bounded by -shutdown-timeout whatever the broker does: with
// NATS hung (accepting, answering nothing), the event consumer's drain
// waits nats.go's 30 s drain timeout, and a process waiting for it would
// outlive its budget (and, in Kubernetes, its 30 s grace: SIGKILL).
func TestShutdownWithNATSHungKeepsToItsTimeout(t *testing.T) {
	nats := brokertest.Embedded(t)
	proxy := sqltest.NewProxy(t, strings.TrimPrefix(nats.URL(), "nats://"))
	iss := authntest.NewIssuer(t)
	file := filepath.Join(t.TempDir(), "a.db")
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+file)
	require.NoError(t, err)
	require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
	a := repotest.New(ids.New(), 0, 30)
	a.Start, a.End = time.Now().Add(-time.Hour).UTC().Truncate(time.Second), time.Now().Add(-30*time.Minute).UTC().Truncate(time.Second)
	require.NoError(t, sqlstore.New(db).Book(ctx, a, service.BookOptions{}))
	require.NoError(t, db.Close())

	const budget = 3 * time.Second
	addr := runtest.FreeAddr(t)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(rctx, []string{"-http-addr", addr, "-db-dsn", "sqlite:" + file, "-jwks-url", iss.JWKSURL(),
			"-discovery-urls", "", "-log-level", "error", "-broker-url", "nats://" + proxy.Addr(),
			"-shutdown-timeout", budget.String()})
	}()
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/health/ready")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)
	// The consumer runs: a signed encounter fulfils the appointment.
	b, err := broker.Open(ctx, nats.URL(), broker.Options{})
	require.NoError(t, err)
	defer b.Close()
	patient := iss.Token(t, authntest.Claims{UserID: a.PatientUserID, Roles: []string{"PATIENT"}})
	require.Eventually(t, func() bool { return b.Publish(ctx, repotest.Signed(t, a, time.Now())) == nil }, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		r := apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, "GET", "http://"+addr+"/api/v1/appointments/"+a.ID, nil, apitest.Bearer(patient)...))
		return r.Status == http.StatusOK && r.JSON(t)["status"] == "fulfilled"
	}, 20*time.Second, 100*time.Millisecond)

	proxy.Hang()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case <-done:
		took := time.Since(start)
		require.Less(t, took, budget+2*time.Second, "shutdown took %s with a %s budget", took.Round(100*time.Millisecond), budget)
	case <-time.After(60 * time.Second):
		t.Fatalf("shutdown with NATS hung still running 60s after cancel, with a -shutdown-timeout of %s", budget)
	}
}

// The event consumer stops after the requests drain, not at the signal:
// while a request is still being served after SIGTERM, an event that
// arrives is still applied by this instance.
func TestConsumerRunsUntilTheRequestsDrain(t *testing.T) {
	nats := brokertest.Embedded(t)
	iss := authntest.NewIssuer(t)
	file := filepath.Join(t.TempDir(), "a.db")
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+file)
	require.NoError(t, err)
	require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
	book := func() string {
		a := repotest.New(ids.New(), 0, 30)
		a.Start, a.End = time.Now().Add(-time.Hour).UTC().Truncate(time.Second), time.Now().Add(-30*time.Minute).UTC().Truncate(time.Second)
		require.NoError(t, sqlstore.New(db).Book(ctx, a, service.BookOptions{}))
		return a.ID
	}
	first, second := book(), book()
	status := func(id string) string {
		var s string
		require.NoError(t, db.QueryRowContext(ctx, "SELECT status FROM appointments WHERE id = ?", id).Scan(&s))
		return s
	}
	addr := runtest.FreeAddr(t)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(rctx, []string{"-http-addr", addr, "-db-dsn", "sqlite:" + file, "-jwks-url", iss.JWKSURL(),
			"-discovery-urls", "", "-log-level", "error", "-broker-url", nats.URL(), "-shutdown-timeout", "10s"})
	}()
	b, err := broker.Open(ctx, nats.URL(), broker.Options{})
	require.NoError(t, err)
	defer b.Close()
	signed := func(id string) {
		a := repotest.New(ids.New(), 0, 30)
		require.NoError(t, db.QueryRowContext(ctx, "SELECT patient_id, doctor_user_id FROM appointments WHERE id = ?", id).Scan(&a.PatientID, &a.DoctorUserID))
		a.ID = id
		require.Eventually(t, func() bool { return b.Publish(ctx, repotest.Signed(t, a, time.Now())) == nil }, 10*time.Second, 50*time.Millisecond)
	}
	// The consumer runs.
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	signed(first)
	require.Eventually(t, func() bool { return status(first) == "fulfilled" }, 20*time.Second, 50*time.Millisecond)

	// A request in flight: its body is still arriving, so the drain waits for it.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /api/v1/appointments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)

	cancel() // SIGTERM: readiness off, then the drain waits for the request above
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("run returned with a request in flight: %v", err)
	default:
	}
	signed(second)
	ok := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if status(second) == "fulfilled" {
			ok = true
			break
		}
	}
	conn.Close()
	<-done
	require.True(t, ok, "an event arriving while the requests drain was not applied: the consumer stopped at the signal, before the drain")
}
