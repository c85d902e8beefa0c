package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/sqldb"
)

// DefaultPostgresServer is where the tests look for PostgreSQL unless
// MEDISYNC_TEST_POSTGRES_DSN names another server: a postgres:// URL whose
// role may create databases, naming any database it may connect to.
const DefaultPostgresServer = "postgres://medisync:medisync@127.0.0.1:5432/postgres?sslmode=disable"

// PostgresServer returns the server DSN the tests use.
func PostgresServer() string {
	if s := os.Getenv("MEDISYNC_TEST_POSTGRES_DSN"); s != "" {
		return s
	}
	return DefaultPostgresServer
}

// HasPostgres reports whether migrations hold a postgres/ folder: services
// gain their PostgreSQL migrations one by one, and Each runs a postgres
// subtest only for those that have them.
func HasPostgres(migrations fs.FS) bool {
	if migrations == nil {
		return false
	}
	info, err := fs.Stat(migrations, string(sqldb.Postgres))
	return err == nil && info.IsDir()
}

// Postgres returns a migrated, freshly created database named
// medisync_test_*, dropped when the test ends. It skips when no server
// answers, or fails under CI.
func Postgres(t testing.TB, migrations fs.FS) *sqldb.DB {
	t.Helper()
	return openPostgres(t, PostgresDSN(t, migrations), "")
}

// PostgresDSN creates a fresh database migrated from migrations (nil for
// none), dropped when the test ends, and returns its DSN (postgres://...),
// for tests that open it themselves: through a Proxy, or in a service
// started by the test.
func PostgresDSN(t testing.TB, migrations fs.FS) string {
	t.Helper()
	server, name := createPostgresDatabase(t, migrations)
	return withDatabase(server, name, nil)
}

// PostgresRuntimeDSN creates a fresh database migrated from migrations by
// the test role, who owns it, and grants RuntimeUser what a service's
// runtime role holds (scripts/postgres-up.sh): SELECT, INSERT, UPDATE and
// DELETE on its tables, USAGE on its sequences, also on those the owner
// creates later, and no DDL. It returns both DSNs; the database, grants
// included, is dropped when the test ends.
func PostgresRuntimeDSN(t testing.TB, migrations fs.FS) (ownerDSN, runtimeDSN string) {
	t.Helper()
	server, name := createPostgresDatabase(t, migrations)
	ownerDSN = withDatabase(server, name, nil)
	owner := openPostgres(t, ownerDSN, "")
	defer owner.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// What exists now, and through the owner's default privileges what its
	// later migrations create, as scripts/postgres-up.sh sets them up.
	for _, grant := range []string{
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + RuntimeUser,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO " + RuntimeUser,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + RuntimeUser,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO " + RuntimeUser,
	} {
		if _, err := owner.ExecContext(ctx, grant); err != nil {
			t.Fatalf("grant %s on %s (run scripts/postgres-up.sh, which creates %s): %v", RuntimeUser, name, RuntimeUser, err)
		}
	}
	return ownerDSN, withDatabase(server, name, url.UserPassword(RuntimeUser, RuntimeUser))
}

// PostgresWithRuntimeUser is PostgresRuntimeDSN with both databases opened:
// owner as the test role, runtime as RuntimeUser. Both close when the test
// ends.
func PostgresWithRuntimeUser(t testing.TB, migrations fs.FS) (owner, runtime *sqldb.DB) {
	t.Helper()
	ownerDSN, runtimeDSN := PostgresRuntimeDSN(t, migrations)
	owner = openPostgres(t, ownerDSN, "as owner")
	runtime = openPostgres(t, runtimeDSN, "as "+RuntimeUser)
	return owner, runtime
}

func openPostgres(t testing.TB, dsn, as string) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open postgres %s: %v", as, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// createPostgresDatabase creates a database medisync_test_<random> on the
// test server, migrated from migrations (nil for none) and dropped when the
// test ends, and returns the server DSN and the database name. It skips when
// no server answers, or fails under CI.
func createPostgresDatabase(t testing.TB, migrations fs.FS) (server, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	server = PostgresServer()
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The parser's message may quote the DSN, password included.
		t.Fatalf("MEDISYNC_TEST_POSTGRES_DSN must be a postgres:// URL")
	}
	admin, err := sqldb.Open(ctx, server)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI but does not answer at %s (run scripts/postgres-up.sh): %v", u.Host, err)
		}
		t.Skipf("PostgreSQL tests skipped: no server answers at %s (run scripts/postgres-up.sh): %v", u.Host, err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name = "medisync_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" ENCODING 'UTF8'"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if a, err := sqldb.Open(ctx, server); err == nil {
			// FORCE ends the sessions a test left open, a proxy's included.
			_, _ = a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = a.Close()
		}
	})
	if migrations != nil {
		db, err := sqldb.Open(ctx, withDatabase(server, name, nil))
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		defer db.Close()
		if err := db.Migrate(ctx, migrations); err != nil {
			t.Fatalf("migrate postgres: %v", err)
		}
	}
	return server, name
}

// withDatabase is server's DSN naming database name instead, and user
// instead of its own when not nil.
func withDatabase(server, name string, user *url.Userinfo) string {
	u, _ := url.Parse(server)
	u.Path = "/" + name
	u.RawPath = ""
	if user != nil {
		u.User = user
	}
	return u.String()
}

// PostgresAddr is the host:port of a postgres:// DSN, for messages and
// proxies: never the credentials.
func PostgresAddr(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the configured server"
	}
	return u.Host
}

// PostgresVia is dsn with its host:port replaced by addr (a Proxy's).
func PostgresVia(dsn, addr string) string {
	u, _ := url.Parse(dsn)
	u.Host = addr
	return u.String()
}
