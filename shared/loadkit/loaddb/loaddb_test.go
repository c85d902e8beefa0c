package loaddb_test

import (
	"context"
	"net/url"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/loadkit/loaddb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestDSN(t *testing.T) {
	dsn, err := loaddb.Database{MySQLServer: "u:p@tcp(127.0.0.1:3306)/", Name: "medisync_x_load"}.DSN()
	require.NoError(t, err)
	assert.Equal(t, "mysql://u:p@tcp(127.0.0.1:3306)/medisync_x_load?parseTime=true", dsn)
	dsn, err = loaddb.Database{PostgresServer: "postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable", Name: "medisync_x_load"}.DSN()
	require.NoError(t, err)
	assert.Equal(t, "postgres://u:p@127.0.0.1:5432/medisync_x_load?sslmode=disable", dsn)

	for _, d := range []loaddb.Database{
		{Name: "x_load"}, {Name: "medisync_x`; DROP"},
		{PostgresServer: "mysql://secret@h/", Name: "medisync_x_load"},
	} {
		_, err := d.DSN()
		require.Error(t, err, d.Name)
		assert.NotContains(t, err.Error(), "secret")
	}
}

// Recreate leaves an empty database, on either server.
func TestRecreate(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(sqltest.PostgresServer())
	require.NoError(t, err)
	for name, d := range map[string]loaddb.Database{
		"mysql":    {MySQLServer: sqltest.MySQLServer(), Name: "medisync_loaddb_load_test"},
		"postgres": {PostgresServer: u.String(), Name: "medisync_loaddb_load_test"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := d.Recreate(ctx); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("the %s server is required under CI: %v", name, err)
				}
				t.Skipf("no %s server: %v", name, err)
			}
			_, err := d.Count(ctx, "nothing_here")
			assert.Error(t, err, "a fresh database has no tables")
		})
	}
}
