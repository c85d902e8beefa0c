package main

import (
	"context"
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
