package sqldb_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

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

// A commit survives a crash of the process; every commit is synced when
// asked for by name; any other option is refused.
func TestSQLiteSyncLevels(t *testing.T) {
	ctx := context.Background()
	sync := func(dsn string) int {
		db, err := sqldb.Open(ctx, dsn)
		require.NoError(t, err)
		defer db.Close()
		var level int
		require.NoError(t, db.QueryRow("PRAGMA synchronous").Scan(&level))
		return level
	}
	dir := t.TempDir()
	assert.Equal(t, 1, sync("sqlite:"+dir+"/a.db"), "NORMAL")
	assert.Equal(t, 2, sync("sqlite:"+dir+"/b.db?synchronous=full"), "FULL")
	_, err := sqldb.Open(ctx, "sqlite:"+dir+"/c.db?synchronous=off")
	assert.ErrorContains(t, err, "synchronous=off")
}

// A path is opened as named, whatever URI characters it holds, with its
// migration lock beside it, not on the database itself.
func TestSQLitePathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "case#01 100%")
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(dir, "test.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Migrate(ctx, migrations))
	_, err = os.Stat(filepath.Join(dir, "test.db"))
	require.NoError(t, err)
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing is opened beside the folder")
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

func TestOpenPostgresErrorsHidePassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://user:s3cret@127.0.0.1:5432/x?sslmode=bogus",
		"postgresql://user:s3cret@127.0.0.1:1/x?sslmode=disable", // nothing listens
	} {
		_, err := sqldb.Open(context.Background(), dsn)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cret")
	}
}

// The ? placeholders reach PostgreSQL as $n on every path database/sql
// offers: the pool, a reserved connection, a transaction, a prepared
// statement; a ? in a string stays a character.
func TestPostgresPlaceholdersOnEveryPath(t *testing.T) {
	db := sqltest.Postgres(t, migrations)
	ctx := context.Background()
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	insert := "INSERT INTO items (id, name, created_at) VALUES (?, ? || '?', ?)"

	_, err := db.ExecContext(ctx, insert, "a", "pool", now)
	require.NoError(t, err)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, insert, "b", "conn", now)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.NoError(t, db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insert, "c", "tx", now)
		return err
	}))
	stmt, err := db.PrepareContext(ctx, insert)
	require.NoError(t, err)
	_, err = stmt.ExecContext(ctx, "d", "stmt", now)
	require.NoError(t, err)
	require.NoError(t, stmt.Close())

	rows, err := db.QueryContext(ctx, "SELECT name, created_at FROM items WHERE id IN (?, ?, ?, ?) ORDER BY id", "a", "b", "c", "d")
	require.NoError(t, err)
	type row struct {
		name string
		at   time.Time
	}
	got, err := sqldb.Collect(rows, func(sc sqldb.Scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.name, &r.at)
	})
	require.NoError(t, err)
	require.Len(t, got, 4)
	for i, want := range []string{"pool?", "conn?", "tx?", "stmt?"} {
		assert.Equal(t, want, got[i].name)
		assert.True(t, got[i].at.Equal(now))
		assert.Equal(t, time.UTC, got[i].at.Location(), "timestamptz scans as UTC")
	}
}

// Services gain PostgreSQL migrations one by one: without a postgres/
// folder there is no postgres subtest at all.
func TestEachRunsPostgresOnlyWithItsMigrations(t *testing.T) {
	without := fstest.MapFS{
		"sqlite/00001_items.sql": {Data: []byte("-- +goose Up\nCREATE TABLE items (id TEXT);\n")},
		"mysql/00001_items.sql":  {Data: []byte("-- +goose Up\nCREATE TABLE items (id TEXT);\n")},
	}
	for name, tc := range map[string]struct {
		migrations fs.FS
		want       bool
	}{"without": {without, false}, "with": {migrations, true}} {
		t.Run(name, func(t *testing.T) {
			ran := false
			sqltest.Each(t, tc.migrations, func(t *testing.T, db *sqldb.DB) {
				if db.Dialect == sqldb.Postgres {
					ran = true
				}
			})
			assert.Equal(t, tc.want, ran)
		})
	}
}

func TestMigrateWithoutTheDialectsFolder(t *testing.T) {
	db := sqltest.SQLite(t, nil)
	err := db.Migrate(context.Background(), fstest.MapFS{"mysql/00001_items.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no sqlite/ folder")
}

// Arguments travel inside the statement on MySQL (one round trip): quotes,
// backslashes, NUL-free control characters and non-ASCII text still arrive
// as values, never as SQL.
func TestArgumentsStayValues(t *testing.T) {
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		for i, name := range []string{
			`'); DROP TABLE items; --`,
			`\'; SELECT 1; -- \\`,
			"Zoë \"Ω\" \t\n O'Brien \\x27 \u2028",
		} {
			id := fmt.Sprintf("00000000-0000-7000-8000-00000000000%d", i)
			_, err := db.ExecContext(ctx, `INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)`, id, name, time.Now().UTC())
			require.NoError(t, err)
			var got string
			require.NoError(t, db.QueryRowContext(ctx, `SELECT name FROM items WHERE id = ?`, id).Scan(&got))
			assert.Equal(t, name, got)
		}
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM items`).Scan(&n))
		assert.Equal(t, 3, n)
	})
}

// A transaction on a server database sees what others committed after it
// began (READ COMMITTED): on MySQL, the session level every connection is
// opened with, without options on the transaction.
func TestServerTransactionsReadCommitted(t *testing.T) {
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		if db.Dialect == sqldb.SQLite {
			return // one writer at a time: no commit can land inside a transaction
		}
		ctx := context.Background()
		now := time.Now().UTC()
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			var before, after int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&before); err != nil {
				return err
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", "rc", "committed", now); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&after); err != nil {
				return err
			}
			assert.Equal(t, before+1, after, "a row committed by another connection is seen (REPEATABLE READ would not)")
			return nil
		})
		require.NoError(t, err)
	})
}

// InsertRows writes rows in chunks, prepares only the single-row INSERT,
// and refuses values that are no whole rows.
func TestInsertRows(t *testing.T) {
	ctx := context.Background()
	db := sqltest.SQLite(t, nil)
	_, err := db.ExecContext(ctx, "CREATE TABLE t (a INTEGER, b INTEGER)")
	require.NoError(t, err)
	st := sqldb.NewStmts(db)
	defer st.Close()
	var args []any
	for i := range 7 {
		args = append(args, i, i*i)
	}
	require.NoError(t, st.InsertRows(ctx, "INSERT INTO t (a, b) VALUES", 2, 3, args))
	var n, sum int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*), SUM(b) FROM t").Scan(&n, &sum))
	assert.Equal(t, 7, n)
	assert.Equal(t, 91, sum)
	assert.Equal(t, 1, st.Len(), "the last row's INSERT alone is prepared")
	assert.Error(t, st.InsertRows(ctx, "INSERT INTO t (a, b) VALUES", 2, 3, []any{1, 2, 3}))
}

func init() {
	// The sleep of testdata/slow/sqlite: SQLite has none of its own.
	sqlite.MustRegisterScalarFunction("test_sleep", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		ms, _ := args[0].(int64)
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return ms, nil
	})
}

// upgrade is the test migrations and a third one that takes 300 ms
// (testdata/slow): a release whose migration every instance finds pending.
func upgrade(t *testing.T) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	for _, dir := range []string{"testdata/migrations", "testdata/slow"} {
		fsys := os.DirFS(dir)
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, path)
			m[path] = &fstest.MapFile{Data: b}
			return err
		})
		require.NoError(t, err)
	}
	return m
}

// Two instances of a service (deploy/k8s runs at least two) starting at once
// both migrate its database: on a new database, and on a release that adds a
// migration. One applies the migrations, the other waits for it and finds
// nothing left to do; neither fails to start.
func TestInstancesStartingTogetherBothMigrate(t *testing.T) {
	release := upgrade(t)
	for _, d := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "test.db") }},
		{"mysql", func(t *testing.T) string { return sqltest.MySQLDSN(t, nil) }},
		{"postgres", func(t *testing.T) string { return sqltest.PostgresDSN(t, nil) }},
	} {
		t.Run(d.name, func(t *testing.T) {
			for round := range 3 {
				dsn := d.dsn(t)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				dbs := make([]*sqldb.DB, 2)
				for i := range dbs {
					db, err := sqldb.Open(ctx, dsn)
					require.NoError(t, err)
					t.Cleanup(func() { _ = db.Close() })
					dbs[i] = db
				}
				for _, fsys := range []fs.FS{migrations, release} {
					errs := make([]error, len(dbs))
					var wg sync.WaitGroup
					for i, db := range dbs {
						wg.Go(func() { errs[i] = db.Migrate(ctx, fsys) })
					}
					wg.Wait()
					for i, err := range errs {
						require.NoError(t, err, "round %d: instance %d", round, i)
					}
				}
				var n int
				require.NoError(t, dbs[0].QueryRowContext(ctx, "SELECT COUNT(*) FROM slow").Scan(&n))
				assert.Equal(t, 1, n, "the slow migration ran once")
			}
		})
	}
}

// Readiness asks the database, not the serving pool: with every pooled
// connection held (a pool saturated at peak load), Ping still answers at
// once, so a busy instance is not taken out of service as if its database
// were down.
func TestPingAnswersWhileThePoolIsBusy(t *testing.T) {
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		held := make([]*sql.Conn, db.Stats().MaxOpenConnections)
		for i := range held {
			c, err := db.Conn(ctx)
			require.NoError(t, err)
			held[i] = c
		}
		t.Cleanup(func() {
			for _, c := range held {
				_ = c.Close()
			}
		})
		busy, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := db.Conn(busy)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the pool is saturated")

		probe, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		require.NoError(t, db.Ping(probe))
	})
}
