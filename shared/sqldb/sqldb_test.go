package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

var migrations = os.DirFS("testdata/migrations")

func TestOpenRejectsUnknownDSN(t *testing.T) {
	_, err := sqldb.Open(context.Background(), "oracle://x")
	require.Error(t, err)
}

func TestOpenMySQLDSNErrorHidesPassword(t *testing.T) {
	_, err := sqldb.Open(context.Background(), "mysql://user:s3cret@tcp(127.0.0.1:1)/x?badparam=%zz")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestSQLitePragmas(t *testing.T) {
	db := sqltest.SQLite(t, nil)
	var mode string
	require.NoError(t, db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, "wal", mode)
	var fk int
	require.NoError(t, db.QueryRow("PRAGMA foreign_keys").Scan(&fk))
	assert.Equal(t, 1, fk)
}

func TestMigrationsAndTransactions(t *testing.T) {
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		// Migrating again is a no-op.
		require.NoError(t, db.Migrate(ctx, migrations))

		now := time.Date(2027, 3, 1, 12, 30, 15, 123456000, time.UTC)
		_, err := db.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", "a", "first", now)
		require.NoError(t, err)

		_, err = db.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", "b", "first", now)
		require.Error(t, err)
		assert.True(t, sqldb.IsUniqueViolation(err), "unique violation detected: %v", err)

		// A failing transaction leaves nothing behind.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", "c", "second", now); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&n))
		assert.Equal(t, 1, n)

		// Foreign keys hold: a missing parent, and a restricted delete.
		_, err = db.ExecContext(ctx, "INSERT INTO links (id, item_id) VALUES (?, ?)", "l0", "missing")
		assert.True(t, sqldb.IsForeignKeyViolation(err), "missing parent: %v", err)
		_, err = db.ExecContext(ctx, "INSERT INTO links (id, item_id) VALUES (?, ?)", "l1", "a")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "DELETE FROM items WHERE id = ?", "a")
		assert.True(t, sqldb.IsForeignKeyViolation(err), "restricted delete: %v", err)
		assert.False(t, sqldb.IsUniqueViolation(err))

		var got time.Time
		require.NoError(t, db.QueryRowContext(ctx, "SELECT created_at FROM items WHERE id = ?", "a").Scan(&got))
		assert.True(t, got.Equal(now), "time round-trips: got %v want %v", got, now)
		assert.NoError(t, db.Ping(ctx))
	})
}
