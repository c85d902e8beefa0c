package sqldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestStmtsReuseAndClose(t *testing.T) {
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := sqldb.NewStmts(db)
		insert := "INSERT INTO items (id, name, created_at) VALUES (" + sqldb.Placeholders(3) + ")"
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		for _, id := range []string{"a", "b"} {
			_, err := st.Exec(ctx, insert, id, "name "+id, now)
			require.NoError(t, err)
		}
		first, err := st.Stmt(ctx, insert)
		require.NoError(t, err)
		again, err := st.Stmt(ctx, insert)
		require.NoError(t, err)
		assert.Same(t, first, again, "one statement per query text")

		rows, err := st.Query(ctx, "SELECT id FROM items WHERE id IN ("+sqldb.Placeholders(2)+") ORDER BY id", "a", "b")
		require.NoError(t, err)
		got, err := sqldb.Collect(rows, func(sc sqldb.Scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "b"}, got)

		require.NoError(t, st.Close())
		_, err = first.ExecContext(ctx, "c", "name c", now)
		assert.Error(t, err, "Close closes the statements")
		_, err = st.Exec(ctx, insert, "c", "name c", now)
		assert.NoError(t, err, "the cache prepares again after Close")
	})
}

func TestPlaceholders(t *testing.T) {
	assert.Equal(t, "", sqldb.Placeholders(0))
	assert.Equal(t, "?", sqldb.Placeholders(1))
	assert.Equal(t, "?, ?, ?", sqldb.Placeholders(3))
}

func TestRows(t *testing.T) {
	assert.Equal(t, "(?, ?)", sqldb.Rows(2, 1))
	assert.Equal(t, "(?, ?, ?), (?, ?, ?)", sqldb.Rows(3, 2))
}
