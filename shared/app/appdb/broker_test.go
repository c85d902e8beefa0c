package appdb_test

import (
	"context"
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
)

func newWithOutbox(t *testing.T, brokerURL string) *appdb.App {
	t.Helper()
	env := map[string]string{"MEDISYNC_DISCOVERY_URLS": "", "MEDISYNC_BROKER_URL": brokerURL,
		"MEDISYNC_DB_DSN": "sqlite:" + filepath.Join(t.TempDir(), "w.db")}
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
