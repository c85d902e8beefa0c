package sqldb_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A real MariaDB or PostgreSQL behind a fault-injecting proxy, under the
// standard stack: a database that is down or hung gives 503 problems with
// Retry-After within the request deadline, piles nothing up, and the service
// recovers when the database returns, without a restart.
func TestDatabaseFaultsAre503AndRecover(t *testing.T) {
	t.Run("mysql", func(t *testing.T) {
		dsn := sqltest.MySQLDSN(t, nil)
		addr := dsn[strings.Index(dsn, "tcp(")+4 : strings.Index(dsn, ")/")]
		proxy := sqltest.NewProxy(t, addr)
		testFaults(t, proxy, strings.Replace(dsn, addr, proxy.Addr(), 1))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := sqltest.PostgresDSN(t, nil)
		proxy := sqltest.NewProxy(t, sqltest.PostgresAddr(dsn))
		testFaults(t, proxy, sqltest.PostgresVia(dsn, proxy.Addr()))
	})
}

func testFaults(t *testing.T, proxy *sqltest.Proxy, dsn string) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })

	const deadline = 1500 * time.Millisecond
	h := httpmw.Stack(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var one int
		if err := db.QueryRowContext(r.Context(), "SELECT 1").Scan(&one); err != nil {
			problem.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	}), httpmw.Options{Timeout: deadline})
	get := func() (*httptest.ResponseRecorder, time.Duration) {
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec, time.Since(start)
	}
	unavailable := func(what string) {
		t.Helper()
		rec, took := get()
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s: %s", what, rec.Body)
		assert.NotEmpty(t, rec.Header().Get("Retry-After"), what)
		assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"), what)
		assert.Less(t, took, deadline+time.Second, "%s: answered after the deadline", what)
	}
	recovers := func(what string) {
		t.Helper()
		require.Eventually(t, func() bool { rec, _ := get(); return rec.Code == http.StatusOK },
			10*time.Second, 50*time.Millisecond, "%s: no recovery", what)
	}

	rec, _ := get()
	require.Equal(t, http.StatusOK, rec.Code)

	ping := func() error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return db.Ping(ctx)
	}
	require.NoError(t, ping())

	proxy.Down()
	unavailable("database down")
	assert.Error(t, ping(), "readiness while the database is down")
	require.NoError(t, proxy.Up())
	recovers("after down")
	require.Eventually(t, func() bool { return ping() == nil }, 10*time.Second, 50*time.Millisecond,
		"readiness after the database came back")

	proxy.Hang()
	unavailable("database hung")
	assert.Error(t, ping(), "readiness while the database hangs")
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	codes := make(chan int, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, _ := get()
			codes <- rec.Code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		require.Equal(t, http.StatusServiceUnavailable, c)
	}
	// Everything the 200 requests started has ended or is one of the pool's
	// bounded connections: nothing piles up behind the hung server.
	assert.Eventually(t, func() bool { return runtime.NumGoroutine() < base+100 }, 5*time.Second, 50*time.Millisecond,
		"goroutines: %d, before %d", runtime.NumGoroutine(), base)
	require.NoError(t, proxy.Up())
	recovers("after hang")
}
