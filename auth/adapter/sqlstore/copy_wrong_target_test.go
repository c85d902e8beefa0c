package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A -to DSN naming the wrong database (another service's, migrated by
// goose and holding rows) is refused with nothing written: a target with
// tables is accepted only at exactly auth's migration versions, and is then
// never migrated by the copy (docs/moving-to-postgres.md).
func TestCopyLeavesAnotherServicesDatabaseUntouched(t *testing.T) {
	ctx := context.Background()
	src := sqltest.SQLite(t, sqlstore.Migrations())
	dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })
	for _, q := range []string{
		// What goose leaves in a doctor database at its version 1.
		`CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now())`,
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true)`,
		`CREATE TABLE doctors (id text PRIMARY KEY)`,
		`INSERT INTO doctors (id) VALUES ('d1')`,
	} {
		_, err := dst.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}

	_, err = dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations()})
	require.Error(t, err, "the wrong database is refused")

	rows, err := dst.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)
	require.NoError(t, err)
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"doctors", "goose_db_version"}, tables, "the refused target was changed")
}
