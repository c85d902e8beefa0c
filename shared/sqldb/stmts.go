package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Stmts prepares each query once and reuses the statement. Only queries
// of fixed text belong here, so that the cache stays small: a statement is
// prepared on every pooled connection, and MySQL bounds the prepared
// statements of the whole server (max_prepared_stmt_count). Preparing once
// saves the MySQL driver a prepare and a close round trip on every call.
type Stmts struct {
	db *DB
	m  sync.Map // query text -> *sql.Stmt
}

// NewStmts returns an empty statement cache on db.
func NewStmts(db *DB) *Stmts { return &Stmts{db: db} }

// Stmt returns the prepared statement for query, preparing it on first use.
func (s *Stmts) Stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if v, ok := s.m.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if v, loaded := s.m.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// Query runs query through its prepared statement.
func (s *Stmts) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.Stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// Exec runs query through its prepared statement.
func (s *Stmts) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.Stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// Len reports how many queries have a statement.
func (s *Stmts) Len() int {
	n := 0
	s.m.Range(func(any, any) bool { n++; return true })
	return n
}

// Close releases the prepared statements (not the database).
func (s *Stmts) Close() error {
	var errs []error
	s.m.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		s.m.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

// InsertRows runs head (an INSERT up to its VALUES keyword) for args, cols
// values a row, in multi-row INSERTs of at most maxRows rows. A single row,
// the common case, goes through its prepared statement; a longer INSERT's
// text varies with its size and is not prepared (see Stmts).
func (s *Stmts) InsertRows(ctx context.Context, head string, cols, maxRows int, args []any) error {
	if cols < 1 || maxRows < 1 || len(args)%cols != 0 {
		return fmt.Errorf("insert rows: %d values are no whole rows of %d", len(args), cols)
	}
	for len(args) > 0 {
		n := min(len(args)/cols, maxRows)
		query, chunk := head+" "+Rows(cols, n), args[:n*cols]
		var err error
		if n == 1 {
			_, err = s.Exec(ctx, query, chunk...)
		} else {
			_, err = s.db.ExecContext(ctx, query, chunk...)
		}
		if err != nil {
			return err
		}
		args = args[n*cols:]
	}
	return nil
}

// Placeholders returns "?, ?, ?" for n values.
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Rows returns "(?, ?), (?, ?)" for n rows of cols values, the VALUES of a
// multi-row INSERT.
func Rows(cols, n int) string {
	row := "(" + Placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}
