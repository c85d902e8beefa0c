package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestExclusionViolation(t *testing.T) {
	db := sqltest.Postgres(t, migrations)
	ctx := context.Background()
	_, err := db.ExecContext(ctx, "CREATE TABLE slots (during TSTZRANGE NOT NULL, EXCLUDE USING gist (during WITH &&))")
	require.NoError(t, err)
	at := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	insert := "INSERT INTO slots (during) VALUES (tstzrange(?, ?))"
	_, err = db.ExecContext(ctx, insert, at, at.Add(time.Hour))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, insert, at.Add(30*time.Minute), at.Add(2*time.Hour))
	assert.True(t, sqldb.IsExclusionViolation(err), "overlap: %v", err)
	assert.False(t, sqldb.IsUniqueViolation(err))
	assert.False(t, sqldb.IsRetryable(err))
}

// Two transactions that lock the same two rows in opposite orders deadlock:
// the server aborts one, and that error is retryable on every server.
func TestDeadlockIsRetryable(t *testing.T) {
	for name, open := range map[string]func(testing.TB, fs.FS) *sqldb.DB{
		"mysql":    sqltest.MySQL,
		"postgres": sqltest.Postgres,
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t, migrations)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			now := time.Now()
			for _, id := range []string{"a", "b"} {
				_, err := db.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", id, id, now)
				require.NoError(t, err)
			}
			tx1, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx1.Rollback() //nolint:errcheck
			tx2, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx2.Rollback() //nolint:errcheck
			rename := "UPDATE items SET name = ? WHERE id = ?"
			_, err = tx1.ExecContext(ctx, rename, "a1", "a")
			require.NoError(t, err)
			_, err = tx2.ExecContext(ctx, rename, "b2", "b")
			require.NoError(t, err)
			type outcome struct {
				tx  *sql.Tx
				err error
			}
			done := make(chan outcome, 2)
			go func() { _, err := tx1.ExecContext(ctx, rename, "b1", "b"); done <- outcome{tx1, err} }()
			go func() { _, err := tx2.ExecContext(ctx, rename, "a2", "a"); done <- outcome{tx2, err} }()
			// The server aborts the victim's statement; PostgreSQL frees the
			// other once the victim rolls back, MySQL at once (so the other
			// may even answer first).
			victim, other := <-done, outcome{}
			if victim.err == nil {
				other, victim = victim, <-done
			}
			require.Error(t, victim.err)
			require.NoError(t, victim.tx.Rollback())
			if other.tx == nil {
				other = <-done
			}
			assert.True(t, sqldb.IsRetryable(victim.err), "deadlock: %v", victim.err)
			assert.False(t, sqldb.IsUniqueViolation(victim.err))
			assert.NoError(t, other.err, "the other transaction goes on")
		})
	}
}

// Under repeatable read, PostgreSQL refuses to update a row that another
// transaction changed after this one's snapshot: a serialization failure.
func TestSerializationFailureIsRetryable(t *testing.T) {
	db := sqltest.Postgres(t, migrations)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := db.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", "a", "a", time.Now())
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	var name string
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT name FROM items WHERE id = ?", "a").Scan(&name))
	_, err = db.ExecContext(ctx, "UPDATE items SET name = ? WHERE id = ?", "other", "a")
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "UPDATE items SET name = ? WHERE id = ?", "mine", "a")
	assert.True(t, sqldb.IsRetryable(err), "serialization failure: %v", err)
}

func TestLockWaitTimeoutIsRetryable(t *testing.T) {
	db := sqltest.MySQL(t, migrations)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := db.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", "a", "a", time.Now())
	require.NoError(t, err)
	holder, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer holder.Rollback() //nolint:errcheck
	_, err = holder.ExecContext(ctx, "UPDATE items SET name = 'held' WHERE id = 'a'")
	require.NoError(t, err)
	waiter, err := db.Conn(ctx)
	require.NoError(t, err)
	defer waiter.Close()
	_, err = waiter.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1")
	require.NoError(t, err)
	_, err = waiter.ExecContext(ctx, "UPDATE items SET name = 'waited' WHERE id = 'a'")
	assert.True(t, sqldb.IsRetryable(err), "lock wait timeout: %v", err)
}

// twoSQLiteConns opens one SQLite file twice, one connection each, with
// pragmas, so that the two take each other's locks.
func twoSQLiteConns(t *testing.T, pragmas ...string) (*sql.DB, *sql.DB) {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "locks.db") + "?_pragma=" + strings.Join(pragmas, "&_pragma=")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", dsn)
		require.NoError(t, err)
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	return open(), open()
}

// A SQLite writer that meets another's lock once its busy timeout is spent
// gets SQLITE_BUSY; sqldb's own timeout is long, so the test opens the file
// with none. A transaction retried by its store may succeed once the lock
// goes; past the store's tries it is a fault that passes, answered 503 with
// Retry-After rather than 500.
func TestSQLiteBusyIsRetryable(t *testing.T) {
	a, b := twoSQLiteConns(t, "busy_timeout(0)")
	ctx := context.Background()
	_, err := a.ExecContext(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)
	tx, err := a.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	_, err = tx.ExecContext(ctx, "INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	_, err = b.ExecContext(ctx, "INSERT INTO t VALUES (2)")
	require.Error(t, err)
	assert.True(t, sqldb.IsRetryable(err), "busy: %v", err)
	assert.False(t, sqldb.IsRetryable(errors.New("busy")), "only driver errors")
	wrapped := fmt.Errorf("insert: %w", err)
	assert.True(t, domainerr.Transient(wrapped), "busy: %v", err)
	got := problem.From(wrapped)
	assert.Equal(t, http.StatusServiceUnavailable, got.Status)
	assert.NotEmpty(t, got.Headers.Get("Retry-After"))
}

// In WAL mode a transaction that read a snapshot and then writes after
// another writer committed gets SQLITE_BUSY_SNAPSHOT, an extended code of
// SQLITE_BUSY, at once and whatever the busy timeout: run again, the
// transaction reads the new snapshot and goes through.
func TestSQLiteBusySnapshotIsRetryable(t *testing.T) {
	a, b := twoSQLiteConns(t, "journal_mode(WAL)", "busy_timeout(1000)")
	ctx := context.Background()
	_, err := a.ExecContext(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)
	tx, err := a.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck
	var n int
	require.NoError(t, tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n))
	_, err = b.ExecContext(ctx, "INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "INSERT INTO t VALUES (2)")
	require.Error(t, err)
	var se *sqlite.Error
	require.ErrorAs(t, err, &se)
	require.NotEqual(t, sqlite3.SQLITE_BUSY, se.Code(), "an extended code: %v", err)
	assert.True(t, sqldb.IsRetryable(err), "busy snapshot: %v", err)
}
