package sqldb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A statement cache closed and made again on the same pool after the
// schema changed prepares the text afresh.
func TestReprepareAfterSchemaChange(t *testing.T) {
	db := sqltest.Postgres(t, migrations)
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	_, err := db.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES ('a', 'n', now())")
	require.NoError(t, err)
	q := "SELECT id, name FROM items WHERE id = ?"
	st := sqldb.NewStmts(db)
	rows, err := st.Query(ctx, q, "a")
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	require.NoError(t, st.Close())
	_, err = db.ExecContext(ctx, "ALTER TABLE items ALTER COLUMN name TYPE text")
	require.NoError(t, err)
	st = sqldb.NewStmts(db)
	defer st.Close()
	rows, err = st.Query(ctx, q, "a")
	require.NoError(t, err)
	for rows.Next() {
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
}
