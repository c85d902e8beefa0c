package sqldb_test

import (
	"context"
	"sync"
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

// Closing a statement on PostgreSQL costs no round trip: pgx waits a fixed
// 5 s for the answer to each deallocation, and database/sql closes them one
// pooled connection after another, so that a hung server held a shutdown
// 5 s per connection, in Stmts.Close and again in DB.Close. The statements
// end with their connections.
func TestClosingWithPostgresHungIsPrompt(t *testing.T) {
	dsn := sqltest.PostgresDSN(t, migrations)
	proxy := sqltest.NewProxy(t, sqltest.PostgresAddr(dsn))
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqltest.PostgresVia(dsn, proxy.Addr()))
	require.NoError(t, err)
	defer db.Close()
	st := sqldb.NewStmts(db)
	// Concurrent queries prepare the statement on several pooled connections.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				rows, err := st.Query(ctx, "SELECT id FROM items WHERE id = ?", "a")
				if !assert.NoError(t, err) {
					return
				}
				_ = rows.Close()
			}
		})
	}
	wg.Wait()
	require.Greater(t, db.Stats().Idle, 1, "statements on several connections")

	proxy.Hang()
	start := time.Now()
	require.NoError(t, st.Close())
	assert.Less(t, time.Since(start), time.Second, "closing the statements")
	start = time.Now()
	_ = db.Close()
	assert.Less(t, time.Since(start), time.Second, "closing the database")
}

// A statement left on its connection is taken up again by the next prepare
// of its text: a connection keeps one per text, however often it is closed.
func TestPostgresKeepsOneStatementPerText(t *testing.T) {
	db := sqltest.Postgres(t, migrations)
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	query := "SELECT id FROM items WHERE id = ?"
	for range 3 {
		st := sqldb.NewStmts(db)
		rows, err := st.Query(ctx, query, "a")
		require.NoError(t, err)
		require.NoError(t, rows.Close())
		require.NoError(t, st.Close())
	}
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT id FROM items WHERE id = $1'").Scan(&n))
	assert.Equal(t, 1, n)
}
