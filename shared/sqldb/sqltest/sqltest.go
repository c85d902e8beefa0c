// Package sqltest gives contract tests real databases: a fresh SQLite file
// always, and a fresh MariaDB/MySQL or PostgreSQL database when a server
// answers. Under CI (CI=true) a server that does not answer fails the test
// instead of skipping it, so the MySQL and PostgreSQL adapters are always
// proven there.
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

	"github.com/go-sql-driver/mysql"

	"github.com/medisync/medisync/shared/sqldb"
)

// DefaultMySQLServer is where the tests look for MariaDB unless
// MEDISYNC_TEST_MYSQL_DSN names another server (a DSN without database).
const DefaultMySQLServer = "medisync:medisync@tcp(127.0.0.1:3306)/"

// Each runs fn as a subtest "sqlite", a subtest "mysql" and, when
// migrations hold a postgres/ folder, a subtest "postgres", each with a
// fresh database migrated from migrations.
func Each(t *testing.T, migrations fs.FS, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, migrations)) })
	t.Run("mysql", func(t *testing.T) { fn(t, MySQL(t, migrations)) })
	if HasPostgres(migrations) {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, migrations)) })
	}
}

// EachSource runs fn as a subtest "sqlite" and a subtest "mysql", each with
// a fresh database migrated from migrations: the databases a service moves
// to PostgreSQL from (medisync-dbcopy), or a migration only they need.
func EachSource(t *testing.T, migrations fs.FS, fn func(t *testing.T, src *sqldb.DB)) {
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

// MySQLLatin1 is MySQL on a database created with latin1 as its default
// character set, as MariaDB's server default still makes it on many
// installations: a service's schema must not depend on that default.
func MySQLLatin1(t testing.TB, migrations fs.FS) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	server, name := createDatabaseIn(t, migrations, "latin1")
	db, err := sqldb.Open(ctx, "mysql://"+server+name+"?parseTime=true")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// MySQLColumnsIn lists the columns of db's tables ("table.column", goose's
// table left out) whose character set is charset.
func MySQLColumnsIn(t testing.TB, db *sqldb.DB, charset string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT CONCAT(table_name, '.', column_name) FROM information_schema.columns
		WHERE table_schema = DATABASE() AND character_set_name = ? AND table_name <> 'goose_db_version' ORDER BY 1`, charset)
	if err != nil {
		t.Fatalf("columns in %s: %v", charset, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatalf("columns in %s: %v", charset, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("columns in %s: %v", charset, err)
	}
	return out
}

// MySQLDSN creates a fresh database migrated from migrations, dropped when
// the test ends, and returns its DSN (mysql://...), for tests that open it
// themselves: through a Proxy, or in a service started by the test.
func MySQLDSN(t testing.TB, migrations fs.FS) string {
	t.Helper()
	server, name := createDatabase(t, migrations)
	return "mysql://" + server + name + "?parseTime=true"
}

// RuntimeUser is the MySQL account (and PostgreSQL role) that plays a
// service's runtime user in tests: scripts/mariadb-up.sh and
// scripts/postgres-up.sh create it without any right, and each test grants
// it SELECT, INSERT, UPDATE and DELETE on its own database only. Its password
// is its name; like the medisync test user it exists for 127.0.0.1 only. A
// server named by MEDISYNC_TEST_MYSQL_DSN or MEDISYNC_TEST_POSTGRES_DSN
// needs it too.
const RuntimeUser = "medisync_test_runtime"

// MySQLRuntimeDSN creates a fresh database migrated from migrations by the
// test user, who owns it, and grants RuntimeUser exactly what a service's
// runtime user holds in production: SELECT, INSERT, UPDATE and DELETE on that
// database, no DDL, no TRIGGER, no DROP. It returns both DSNs (mysql://...);
// the grant is revoked and the database dropped when the test ends.
func MySQLRuntimeDSN(t testing.TB, migrations fs.FS) (ownerDSN, runtimeDSN string) {
	t.Helper()
	server, name := createDatabase(t, migrations)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sqldb.Open(ctx, "mysql://"+server+"?parseTime=true")
	if err != nil {
		t.Fatalf("open %s: %v", serverAddr(server), err)
	}
	defer admin.Close()
	// The runtime account is matched from the same client host as the test
	// user, so it is granted at the host the test user's account names.
	var current string
	if err := admin.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&current); err != nil {
		t.Fatalf("current user: %v", err)
	}
	host := current[strings.LastIndex(current, "@")+1:]
	// In a GRANT, _ in a database name is a wildcard: escape it so the grant
	// names this database alone.
	on := "`" + strings.ReplaceAll(name, "_", `\_`) + "`.*"
	to := "'" + RuntimeUser + "'@'" + host + "'"
	if _, err := admin.ExecContext(ctx, "GRANT SELECT, INSERT, UPDATE, DELETE ON "+on+" TO "+to); err != nil {
		t.Fatalf("grant %s on %s (run scripts/mariadb-up.sh, which creates %s): %v", RuntimeUser, name, RuntimeUser, err)
	}
	// Registered after createDatabase's cleanup, so it runs before the drop.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if a, err := sqldb.Open(ctx, "mysql://"+server+"?parseTime=true"); err == nil {
			_, _ = a.ExecContext(ctx, "REVOKE ALL PRIVILEGES ON "+on+" FROM "+to)
			_ = a.Close()
		}
	})
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		t.Fatalf("invalid MySQL server DSN for tests")
	}
	cfg.User, cfg.Passwd, cfg.DBName, cfg.ParseTime = RuntimeUser, RuntimeUser, name, true
	return "mysql://" + server + name + "?parseTime=true", "mysql://" + cfg.FormatDSN()
}

// MySQLWithRuntimeUser is MySQLRuntimeDSN with both databases opened: owner
// as the test user, runtime as RuntimeUser. Both close when the test ends.
func MySQLWithRuntimeUser(t testing.TB, migrations fs.FS) (owner, runtime *sqldb.DB) {
	t.Helper()
	ownerDSN, runtimeDSN := MySQLRuntimeDSN(t, migrations)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	owner, err := sqldb.Open(ctx, ownerDSN)
	if err != nil {
		t.Fatalf("open as owner: %v", err)
	}
	t.Cleanup(func() { _ = owner.Close() })
	runtime, err = sqldb.Open(ctx, runtimeDSN)
	if err != nil {
		t.Fatalf("open as %s: %v", RuntimeUser, err)
	}
	t.Cleanup(func() { _ = runtime.Close() })
	return owner, runtime
}

// createDatabase creates a database medisync_test_<random> on the test
// server, migrated from migrations (nil for none) and dropped when the test
// ends, and returns the server DSN and the database name. It skips when no
// server answers, or fails under CI.
func createDatabase(t testing.TB, migrations fs.FS) (server, name string) {
	t.Helper()
	return createDatabaseIn(t, migrations, "utf8mb4 COLLATE utf8mb4_unicode_ci")
}

// createDatabaseIn is createDatabase with the database's default character
// set (and collation) given.
func createDatabaseIn(t testing.TB, migrations fs.FS, charset string) (server, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	server = MySQLServer()
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
	name = "medisync_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET "+charset); err != nil {
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
	if migrations != nil {
		db, err := sqldb.Open(ctx, "mysql://"+server+name+"?parseTime=true")
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		defer db.Close()
		if err := db.Migrate(ctx, migrations); err != nil {
			t.Fatalf("migrate mysql: %v", err)
		}
	}
	return server, name
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
