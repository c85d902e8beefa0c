// Package sqlstore is the doctor service's repository on database/sql, for
// SQLite, MySQL/MariaDB and PostgreSQL alike, with its migrations embedded.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/sqldb"
)

//go:embed migrations
var embedded embed.FS

// Migrations returns the goose migrations, one folder per dialect.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		// The folder is embedded at build time; it cannot be missing.
		panic(err)
	}
	return sub
}

// Store implements service.Repository.
type Store struct {
	db *sqldb.DB
}

var _ service.Repository = (*Store)(nil)

// New returns a store on a migrated database.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// insertRows inserts rows of len(cols) values each, in batches.
func insertRows(ctx context.Context, q sqldb.Querier, table string, cols []string, rows [][]any) error {
	const batch = 200
	for len(rows) > 0 {
		n := min(len(rows), batch)
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, n*len(cols))
		for i, r := range rows[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + placeholders(len(cols)) + ")")
			args = append(args, r...)
		}
		if _, err := q.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// maxTxAttempts bounds how often a transaction is retried after a deadlock
// or a serialization failure.
const maxTxAttempts = 4

// inTx runs fn in a transaction, at READ COMMITTED on MySQL and PostgreSQL
// (sqldb opens every MySQL session at that level): InnoDB takes no gap
// locks there, so writers of neighbouring doctors (UUID v7 keys sort by
// time, so new doctors are neighbours) do not deadlock each other. On every
// database a transaction aborted only because of concurrent ones (deadlock,
// serialization failure, busy SQLite file) runs again. The version guards
// keep the writes correct at that level.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return sqldb.Retry(ctx, maxTxAttempts, func() error { return s.db.InTx(ctx, fn) })
}

// versionGuard returns the WHERE clause part and argument checking a
// version, or nothing when any version will do.
func versionGuard(expected int64) (string, []any) {
	if expected == 0 {
		return "", nil
	}
	return " AND version = ?", []any{expected}
}

// mustTouchOne checks that a guarded UPDATE changed its row; when it did
// not, the row is either missing (notFound) or at another version (ErrStale).
func mustTouchOne(ctx context.Context, q sqldb.Querier, res sql.Result, exists string, id string, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n > 0 {
		return nil
	}
	var one int
	err = q.QueryRowContext(ctx, exists, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("check existence: %w", err)
	}
	return profile.ErrStale
}
