package sqldb_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

type item struct{ ID, Name string }

func scanItem(sc sqldb.Scanner) (item, error) {
	var it item
	err := sc.Scan(&it.ID, &it.Name)
	return it, err
}

func TestCollect(t *testing.T) {
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		for i := 1; i <= 3; i++ {
			_, err := db.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)",
				fmt.Sprintf("i%d", i), fmt.Sprintf("item %d", i), now)
			require.NoError(t, err)
		}

		t.Run("rows", func(t *testing.T) {
			rows, err := db.QueryContext(ctx, "SELECT id, name FROM items ORDER BY id")
			require.NoError(t, err)
			got, err := sqldb.Collect(rows, scanItem)
			require.NoError(t, err)
			assert.Equal(t, []item{{"i1", "item 1"}, {"i2", "item 2"}, {"i3", "item 3"}}, got)
			assertClosed(t, db, rows)
		})

		t.Run("no rows", func(t *testing.T) {
			rows, err := db.QueryContext(ctx, "SELECT id, name FROM items WHERE id = ?", "missing")
			require.NoError(t, err)
			got, err := sqldb.Collect(rows, scanItem)
			require.NoError(t, err)
			require.NotNil(t, got)
			assert.Empty(t, got)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, `[]`, string(b))
			assertClosed(t, db, rows)
		})

		t.Run("scan error", func(t *testing.T) {
			boom := errors.New("boom")
			calls := 0
			rows, err := db.QueryContext(ctx, "SELECT id, name FROM items ORDER BY id")
			require.NoError(t, err)
			got, err := sqldb.Collect(rows, func(sc sqldb.Scanner) (item, error) {
				calls++
				if calls == 2 {
					return item{}, boom
				}
				return scanItem(sc)
			})
			require.ErrorIs(t, err, boom)
			assert.Nil(t, got)
			assert.Equal(t, 2, calls, "stops at the first failing row")
			assertClosed(t, db, rows)
		})

		t.Run("driver scan error", func(t *testing.T) {
			rows, err := db.QueryContext(ctx, "SELECT id FROM items ORDER BY id")
			require.NoError(t, err)
			_, err = sqldb.Collect(rows, scanItem)
			require.Error(t, err, "two destinations for one column")
			assertClosed(t, db, rows)
		})
	})
}

// assertClosed checks that rows were closed, giving their connection back
// to the pool, even when Collect stopped before the last row.
func assertClosed(t *testing.T, db *sqldb.DB, rows *sql.Rows) {
	t.Helper()
	var id, name string
	assert.EqualError(t, rows.Scan(&id, &name), "sql: Rows are closed")
	assert.Zero(t, db.Stats().InUse, "no connection held by open rows")
}
