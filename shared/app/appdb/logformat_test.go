package appdb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// Every line a medisync process writes to standard error goes through
// shared/logging (docs/logging.md), a contract for log pipelines. The MySQL
// driver prints "[mysql] 2026/12/02 18:10:46 connection.go:803 closing bad
// idle connection: EOF" straight to fd 2 by default whenever a pooled
// connection breaks: a service on MariaDB sends it through its own logger.
func TestMySQLDriverLinesGoThroughTheServiceLogger(t *testing.T) {
	dsn := sqltest.MySQLDSN(t, nil)
	addr := dsn[strings.Index(dsn, "tcp(")+4 : strings.Index(dsn, ")/")]
	proxy := sqltest.NewProxy(t, addr)
	dsn = strings.Replace(dsn, addr, proxy.Addr(), 1)

	// Capture the process's standard error at the descriptor, where the
	// driver's logger writes.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved, err := syscall.Dup(2)
	require.NoError(t, err)
	require.NoError(t, syscall.Dup3(int(w.Fd()), 2, 0))
	var captured bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = captured.ReadFrom(r); close(done) }()
	restore := func() {
		_ = syscall.Dup3(saved, 2, 0)
		_ = w.Close()
		<-done
	}

	var serviceLog bytes.Buffer
	env := map[string]string{"MEDISYNC_DISCOVERY_URLS": "", "MEDISYNC_DB_DSN": dsn, "MEDISYNC_LOG_FORMAT": "json"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := appdb.New(context.Background(), app.Options{Name: "widget", DefaultAddr: ":0", DefaultDSN: "sqlite:unused.db"}, nil, lookup, &serviceLog)
	if err != nil {
		restore()
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var one int
	_ = a.DB.QueryRowContext(ctx, "SELECT 1").Scan(&one) // a pooled connection, idle
	proxy.Down()                                         // the server drops it
	_ = proxy.Up()
	time.Sleep(100 * time.Millisecond)
	_ = a.DB.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	_ = a.Close()
	restore()

	for _, l := range strings.Split(strings.TrimSpace(captured.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, "{") {
			t.Errorf("a line on standard error outside the service's JSON log: %q", l)
		}
	}
	var found bool
	for _, l := range strings.Split(strings.TrimSpace(serviceLog.String()), "\n") {
		var line map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &line), l)
		if line["msg"] == "mysql driver" {
			found = true
			assert.Equal(t, "warn", line["level"], l)
			assert.Equal(t, "widget", line["service"], l)
			assert.Contains(t, line["err"], "closing bad idle connection", l)
		}
	}
	assert.True(t, found, "the driver's line is not in the service's log:\n%s", serviceLog.String())
}
