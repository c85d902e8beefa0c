// Package sqltest gives contract tests real databases: a fresh SQLite file
// always, and a fresh MariaDB/MySQL database when a server answers. Under CI
// (CI=true) a MySQL server that does not answer fails the test instead of
// skipping it, so the MySQL adapters are always proven there.
package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/sqldb"
)

// DefaultMySQLServer is where the tests look for MariaDB unless
// MEDISYNC_TEST_MYSQL_DSN names another server (a DSN without database).
const DefaultMySQLServer = "medisync:medisync@tcp(127.0.0.1:3306)/"

// Each runs fn as a subtest "sqlite" and a subtest "mysql", each with a fresh
// database migrated from migrations.
func Each(t *testing.T, migrations fs.FS, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, migrations)) })
	t.Run("mysql", func(t *testing.T) { fn(t, MySQL(t, migrations)) })
}

// SQLite returns a migrated database in a temporary file.
func SQLite(t testing.TB, migrations fs.FS) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if migrations != nil {
		if err := db.Migrate(ctx, migrations); err != nil {
			t.Fatalf("migrate sqlite: %v", err)
		}
	}
	return db
}

// MySQLServer returns the server DSN (no database) the tests use.
func MySQLServer() string {
	if s := os.Getenv("MEDISYNC_TEST_MYSQL_DSN"); s != "" {
		return s
	}
	return DefaultMySQLServer
}

// MySQL returns a migrated, freshly created database named medisync_test_*,
// dropped when the test ends. It skips when no server answers, or fails under CI.
func MySQL(t testing.TB, migrations fs.FS) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, MySQLDSN(t, migrations))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// MySQLDSN creates a fresh database migrated from migrations, dropped when
// the test ends, and returns its DSN (mysql://...), for tests that open it
// themselves: through a Proxy, or in a service started by the test.
func MySQLDSN(t testing.TB, migrations fs.FS) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	server := MySQLServer()
	admin, err := sqldb.Open(ctx, "mysql://"+server+"?parseTime=true")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MySQL is required under CI but does not answer (run scripts/mariadb-up.sh): %v", err)
		}
		t.Skipf("MySQL tests skipped: no server answers at %s (run scripts/mariadb-up.sh): %v", serverAddr(server), err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "medisync_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if a, err := sqldb.Open(ctx, "mysql://"+server+"?parseTime=true"); err == nil {
			_, _ = a.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
			_ = a.Close()
		}
	})
	dsn := "mysql://" + server + name + "?parseTime=true"
	if migrations != nil {
		db, err := sqldb.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		defer db.Close()
		if err := db.Migrate(ctx, migrations); err != nil {
			t.Fatalf("migrate mysql: %v", err)
		}
	}
	return dsn
}

// serverAddr is the address part of a server DSN, for messages: never the
// credentials.
func serverAddr(server string) string {
	if i := strings.Index(server, "tcp("); i >= 0 {
		if j := strings.Index(server[i:], ")"); j > 0 {
			return server[i+4 : i+j]
		}
	}
	return "the configured server"
}
