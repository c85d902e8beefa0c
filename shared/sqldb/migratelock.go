package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/pressly/goose/v3/lock"
)

// Instances of a service that start together (deploy/k8s runs at least
// two) all migrate the database. Without a lock each reads the applied
// version, finds the same migrations pending and applies them, and all but
// one fail on a table that already exists. Each dialect has its own lock,
// taken before goose reads the version and released once it is done: a
// second migrator waits, then finds nothing left to apply. Every lock is
// tied to a connection or an open file, so a migrator that dies releases it.

// migrationLockWait bounds the wait for another migrator, when the caller's
// context does not bound it sooner.
const migrationLockWait = 10 * time.Minute

// migrationLocker returns the lock Migrate holds for db, nil for a database
// no other process can reach (SQLite in memory).
func (db *DB) migrationLocker() (lock.SessionLocker, error) {
	switch db.Dialect {
	case Postgres:
		// A session advisory lock, which is scoped to the database; polled
		// every second, so a second instance starts at most a second after
		// the first is done. The caller's context bounds the wait.
		l, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, uint64(migrationLockWait/time.Second)))
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		return l, nil
	case MySQL:
		return mysqlMigrationLock{}, nil
	default:
		if db.sqlitePath == "" || db.sqlitePath == ":memory:" {
			return nil, nil
		}
		return &sqliteMigrationLock{path: db.sqlitePath + ".migrate-lock"}, nil
	}
}

// mysqlMigrationLock is a named lock, GET_LOCK, held by goose's connection.
// Its name is the database's, since such locks are server-wide.
type mysqlMigrationLock struct{}

const mysqlLockName = "LEFT(CONCAT('goose_', DATABASE()), 64)"

// mysqlLockWait is the wait of one GET_LOCK, in seconds: shorter than the
// connection's read timeout (30 s), so a long wait is several calls.
const mysqlLockWait = 5

func (mysqlMigrationLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	deadline := time.Now().Add(migrationLockWait)
	for {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+mysqlLockName+", ?)", mysqlLockWait).Scan(&got); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if got.Valid && got.Int64 == 1 {
			return nil
		}
		if !got.Valid {
			return errors.New("migration lock: GET_LOCK failed")
		}
		// 0: another migrator still holds it.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("migration lock: another migrator has held it for %s", migrationLockWait)
		}
	}
}

func (mysqlMigrationLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT RELEASE_LOCK("+mysqlLockName+")").Scan(&released)
	if err == nil && released.Valid && released.Int64 == 1 {
		return nil
	}
	// The connection goes back to the pool after this: one that may still
	// hold the lock is closed instead, which releases it.
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	if err != nil {
		return fmt.Errorf("migration unlock: %w", err)
	}
	return nil
}

// sqliteMigrationLock is a write transaction on a database file of its own
// next to the service's. SQLite's one lock is the writer's, and migrations
// need it themselves: holding it on the service's file would block them.
// A second migrator's BEGIN IMMEDIATE waits on the busy timeout.
type sqliteMigrationLock struct {
	path string
	db   *sql.DB
	tx   *sql.Tx
}

func (l *sqliteMigrationLock) SessionLock(ctx context.Context, _ *sql.Conn) error {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", migrationLockWait.Milliseconds()))
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", fileURI(l.path)+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("migration lock %s: %w", l.path, err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("migration lock %s: %w", l.path, err)
	}
	l.db, l.tx = db, tx
	return nil
}

func (l *sqliteMigrationLock) SessionUnlock(context.Context, *sql.Conn) error {
	if l.db == nil {
		return nil
	}
	err := errors.Join(l.tx.Rollback(), l.db.Close())
	l.db, l.tx = nil, nil
	if err != nil {
		return fmt.Errorf("migration unlock %s: %w", l.path, err)
	}
	return nil
}
