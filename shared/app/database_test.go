package app_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

var testMigrations = os.DirFS("../sqldb/testdata/migrations")

func newWithEnv(t *testing.T, env map[string]string) (*appdb.App, error) {
	t.Helper()
	env["MEDISYNC_DISCOVERY_URLS"] = ""
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := appdb.New(context.Background(), app.Options{
		Name: "widget", DefaultAddr: ":0", DefaultDSN: "sqlite:unused.db", Migrations: testMigrations,
	}, nil, lookup, io.Discard)
	if err == nil {
		t.Cleanup(func() { _ = a.Close() })
	}
	return a, err
}

func hasItems(db *sqldb.DB) bool {
	var n int
	return db.QueryRow("SELECT COUNT(*) FROM items").Scan(&n) == nil
}

func TestMigrationsRunThroughTheMigrateDSN(t *testing.T) {
	// Two connections to one SQLite file stand for two accounts of one
	// database: the migrate DSN's migrates, and the app serves the tables.
	served := "sqlite:" + filepath.Join(t.TempDir(), "svc.db")
	migrated := served
	a, err := newWithEnv(t, map[string]string{"MEDISYNC_DB_DSN": served, "MEDISYNC_DB_MIGRATE_DSN": migrated})
	require.NoError(t, err)
	assert.True(t, hasItems(a.DB), "the served database was migrated through the migrate DSN")
}

// A migrate DSN of the right dialect but another database (another
// service's, another server's) would migrate that one while the service
// served an unmigrated database: the start is refused.
func TestMigrateDSNOfAnotherDatabaseIsRefused(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{
		"sqlite":   func(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "svc.db") },
		"mysql":    func(t testing.TB) string { return sqltest.MySQLDSN(t, nil) },
		"postgres": func(t testing.TB) string { return sqltest.PostgresDSN(t, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			served, other := dsn(t), dsn(t)
			_, err := newWithEnv(t, map[string]string{"MEDISYNC_DB_DSN": served, "MEDISYNC_DB_MIGRATE_DSN": other})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "same database")
		})
	}
}

func TestMigrateDSNOfAnotherDialectIsRefused(t *testing.T) {
	_, err := newWithEnv(t, map[string]string{
		"MEDISYNC_DB_DSN":         "sqlite:" + filepath.Join(t.TempDir(), "svc.db"),
		"MEDISYNC_DB_MIGRATE_DSN": sqltest.MySQLDSN(t, nil),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "same database")
}

func TestServingAccountWithoutSchemaRights(t *testing.T) {
	for name, runtimeDSN := range map[string]func(testing.TB, fs.FS) (string, string){
		"mysql":    sqltest.MySQLRuntimeDSN,
		"postgres": sqltest.PostgresRuntimeDSN,
	} {
		t.Run(name, func(t *testing.T) {
			ownerDSN, runtimeDSN := runtimeDSN(t, nil)

			_, err := newWithEnv(t, map[string]string{"MEDISYNC_DB_DSN": runtimeDSN})
			require.Error(t, err, "the runtime account cannot apply migrations itself")

			a, err := newWithEnv(t, map[string]string{"MEDISYNC_DB_DSN": runtimeDSN, "MEDISYNC_DB_MIGRATE_DSN": ownerDSN})
			require.NoError(t, err)
			assert.True(t, hasItems(a.DB), "the runtime account serves the tables the owner created")
			_, err = a.DB.Exec("DROP TABLE links")
			assert.Error(t, err, "and cannot drop them")
		})
	}
}

func TestDatabasePoolMetrics(t *testing.T) {
	a, err := newWithEnv(t, map[string]string{"MEDISYNC_DB_DSN": "sqlite:" + filepath.Join(t.TempDir(), "svc.db")})
	require.NoError(t, err)

	for name, want := range map[string]int{
		"go_sql_open_connections": 1, "go_sql_in_use_connections": 1, "go_sql_wait_count_total": 1,
		"go_sql_max_open_connections": 1,
	} {
		n, err := testutil.GatherAndCount(a.Registry, name)
		require.NoError(t, err)
		assert.Equal(t, want, n, name)
	}
	mfs, err := a.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "go_sql_open_connections" {
			assert.Equal(t, "db_name", mf.GetMetric()[0].GetLabel()[0].GetName())
			assert.Equal(t, "widget", mf.GetMetric()[0].GetLabel()[0].GetValue(), "the service's name")
		}
	}
}
