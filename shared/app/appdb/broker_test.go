package appdb_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/server"
	"github.com/medisync/medisync/shared/sqldb"
)

func newWithOutbox(t *testing.T, brokerURL string) *appdb.App {
	t.Helper()
	return newWithOutboxAt(t, brokerURL, "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
}

func newWithOutboxAt(t *testing.T, brokerURL, dsn string) *appdb.App {
	t.Helper()
	env := map[string]string{"MEDISYNC_DISCOVERY_URLS": "", "MEDISYNC_BROKER_URL": brokerURL, "MEDISYNC_DB_DSN": dsn}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := appdb.New(context.Background(), app.Options{
		Name: "widget", DefaultAddr: ":0", DefaultDSN: "sqlite:unused.db", Migrations: os.DirFS("../../outbox/testdata/migrations"), Outbox: true,
	}, nil, lookup, io.Discard)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func readyCode(a *appdb.App) int {
	rec := httptest.NewRecorder()
	a.Router().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/ready", nil))
	return rec.Code
}

func TestWithoutABrokerEventsWaitAndTheServiceIsReady(t *testing.T) {
	a := newWithOutbox(t, "")
	assert.Equal(t, broker.Disabled{}, a.Broker)
	assert.Nil(t, a.Relay, "no relay runs")
	assert.Equal(t, http.StatusOK, readyCode(a))
}

// A broker away is no reason to leave the rotation: writes go on, their
// events waiting in the outbox, and a broker down for every instance must
// not take them all out.
func TestReadinessDoesNotDependOnTheBroker(t *testing.T) {
	srv := brokertest.Embedded(t)
	a := newWithOutbox(t, srv.URL())
	require.NotNil(t, a.Relay)
	assert.Equal(t, http.StatusOK, readyCode(a))
	srv.Stop()
	require.Eventually(t, func() bool { return a.Broker.Ping(context.Background()) != nil }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, http.StatusOK, readyCode(a))
}

// A consuming producer (appointment: records.encounter_signed gives
// appointment.status_changed) stops its consumer in a closer, and the
// events it applies until then write events of their own: the relay stops
// after the closers, so those go out in this run too.
func TestEventsAConsumerWritesWhileStoppingArePublished(t *testing.T) {
	srv := brokertest.Embedded(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "w.db")
	a := newWithOutboxAt(t, srv.URL(), dsn)
	require.NotNil(t, a.Relay)

	// Stands for app.StopWork of a consumer whose last event, applied
	// while it stops, writes an event in its transaction.
	consumerStop := server.Hook(func(ctx context.Context) error {
		ev, err := events.New("widget.thing_done", 1, "x", map[string]string{"k": "v"}, time.Now())
		if err != nil {
			return err
		}
		return a.DB.InTx(ctx, func(tx *sql.Tx) error { return outbox.Write(ctx, tx, ev) })
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, http.NotFoundHandler(), consumerStop) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}

	db, err := sqldb.Open(context.Background(), dsn)
	require.NoError(t, err)
	defer db.Close()
	var written, left int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*), COUNT(*) - COUNT(published_at) FROM outbox`).Scan(&written, &left))
	assert.Equal(t, 1, written)
	assert.Zero(t, left, "the event written while the consumer stopped is published")
}
