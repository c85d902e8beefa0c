package transport_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/transport"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// proxied opens a fresh, migrated database of a real server through a
// fault-injecting proxy.
type proxied func(t *testing.T) (*sqldb.DB, *sqltest.Proxy)

var faultServers = map[string]proxied{
	"mysql": func(t *testing.T) (*sqldb.DB, *sqltest.Proxy) {
		dsn := sqltest.MySQLDSN(t, sqlstore.Migrations())
		addr := dsn[strings.Index(dsn, "tcp(")+4 : strings.Index(dsn, ")/")]
		proxy := sqltest.NewProxy(t, addr)
		db, err := sqldb.Open(context.Background(), strings.Replace(dsn, addr, proxy.Addr(), 1))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return db, proxy
	},
	"postgres": func(t *testing.T) (*sqldb.DB, *sqltest.Proxy) {
		dsn := sqltest.PostgresDSN(t, sqlstore.Migrations())
		proxy := sqltest.NewProxy(t, sqltest.PostgresAddr(dsn))
		db, err := sqldb.Open(context.Background(), sqltest.PostgresVia(dsn, proxy.Addr()))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return db, proxy
	},
}

// A real MariaDB and a real PostgreSQL behind a fault-injecting proxy:
// while the server is down or hung, reads and writes get 503 problems with
// Retry-After within the request deadline; when it returns, the same service
// answers again, no restart.
func TestDatabaseFaultsAre503AndTheServiceRecovers(t *testing.T) {
	for name, open := range faultServers {
		t.Run(name, func(t *testing.T) { faultsAre503(t, open) })
	}
}

func faultsAre503(t *testing.T, open proxied) {
	db, proxy := open(t)
	const deadline = 2 * time.Second
	h := newHarnessWith(t, db, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes, Timeout: deadline})
	pat := h.user(roles.patient)
	pid := h.newPatientFor(pat)
	read := func() response { return h.do(http.MethodGet, "/api/v1/patients/"+pid, pat.token, "") }
	write := func() response {
		return h.do(http.MethodPost, "/api/v1/patients", h.user(roles.patient).token, profileJSON)
	}
	unavailable := func(what string, call func() response) {
		t.Helper()
		start := time.Now()
		r := call()
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s: %s", what, r.Body)
		assert.NotEmpty(t, r.Header.Get("Retry-After"), what)
		assert.Less(t, time.Since(start), deadline+time.Second, "%s: answered after the deadline", what)
	}
	recovered := func(what string) {
		t.Helper()
		require.Eventually(t, func() bool { return read().Status == http.StatusOK }, 15*time.Second, 100*time.Millisecond, what)
		require.Equal(t, http.StatusCreated, write().Status, what)
	}
	require.Equal(t, http.StatusOK, read().Status)

	proxy.Down()
	unavailable("read, database down", read)
	unavailable("write, database down", write)
	require.NoError(t, proxy.Up())
	recovered("after down")

	proxy.Hang()
	unavailable("read, database hung", read)
	unavailable("write, database hung", write)
	require.NoError(t, proxy.Up())
	recovered("after hang")
}

// A database that hangs at the COMMIT of a write (a stalled disk, a
// stopped server) gives the same 503 within the request's deadline as one
// that hangs at any other statement, and the connection it held is given
// up at once: the next write is served.
func TestWriteWithTheDatabaseHungAtCommitAnswersWithinTheDeadline(t *testing.T) {
	for name, commit := range map[string][]byte{"mysql": sqltest.MySQLCommit, "postgres": sqltest.PostgresCommit} {
		t.Run(name, func(t *testing.T) {
			db, proxy := faultServers[name](t)
			const deadline = 2 * time.Second
			h := newHarnessWith(t, db, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes, Timeout: deadline})
			write := func() response {
				return h.do(http.MethodPost, "/api/v1/patients", h.user(roles.patient).token, profileJSON)
			}
			require.Equal(t, http.StatusCreated, write().Status)

			proxy.HangAt(commit)
			start := time.Now()
			r := write()
			took := time.Since(start)
			assert.Less(t, took, deadline+time.Second, "answered %d after %s, past the %s deadline", r.Status, took.Round(time.Millisecond), deadline)
			assert.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
			assert.NotEmpty(t, r.Header.Get("Retry-After"))
			assert.Eventually(t, func() bool { return db.Stats().InUse == 0 }, time.Second, 10*time.Millisecond,
				"the hung connection is given up")
			assert.Equal(t, http.StatusCreated, write().Status)
		})
	}
}

// A PostgreSQL that takes reads but refuses writes for a while (a failover
// in progress: the address still leads to the demoted primary, now a
// standby) is a database fault that passes: 503 with Retry-After, not 500.
func TestWriteWhileThePostgresIsReadOnlyIs503(t *testing.T) {
	dsn := sqltest.PostgresDSN(t, sqlstore.Migrations())
	db, err := sqldb.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	h := newHarnessWith(t, db, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes, Timeout: 2 * time.Second})
	require.Equal(t, http.StatusCreated, h.do(http.MethodPost, "/api/v1/patients", h.user(roles.patient).token, profileJSON).Status)

	u, err := url.Parse(dsn)
	require.NoError(t, err)
	name := strings.TrimPrefix(u.Path, "/")
	// The test's database is dropped when it ends, setting and all.
	_, err = db.ExecContext(context.Background(), `ALTER DATABASE "`+name+`" SET default_transaction_read_only = on`)
	require.NoError(t, err)
	db.SetMaxIdleConns(0) // new sessions take the setting, as after a failover
	db.SetMaxIdleConns(32)

	r := h.do(http.MethodPost, "/api/v1/patients", h.user(roles.patient).token, profileJSON)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
}
