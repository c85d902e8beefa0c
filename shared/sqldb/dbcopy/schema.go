package dbcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/medisync/medisync/shared/sqldb"
)

// VersionTable is goose's bookkeeping table: it is not copied, but both
// sides must list the same applied migrations.
const VersionTable = "goose_db_version"

// column is a target column: its name, the kind that decides how source
// values are converted and compared, and how it takes inserted values.
type column struct {
	name      string
	kind      kind
	dataType  string // PostgreSQL's data_type, for messages
	always    bool   // GENERATED ALWAYS AS IDENTITY: inserts need OVERRIDING SYSTEM VALUE
	generated bool   // a generated (computed) column: neither copied nor compared
}

// table is a target table with its columns in their declared order.
type table struct {
	name string
	cols []column
}

// copied are the columns that are copied and compared.
func (t table) copied() []column {
	return slices.DeleteFunc(slices.Clone(t.cols), func(c column) bool { return c.generated })
}

func (t table) overriding() bool {
	return slices.ContainsFunc(t.cols, func(c column) bool { return c.always })
}

// quote quotes an identifier for dialect d.
func quote(d sqldb.Dialect, name string) string {
	if d == sqldb.MySQL {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// listTables returns the base tables of the database, sorted, goose's
// table included.
func listTables(ctx context.Context, q sqldb.Querier, d sqldb.Dialect) ([]string, error) {
	var query string
	switch d {
	case sqldb.SQLite:
		query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
	case sqldb.MySQL:
		query = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
	case sqldb.Postgres:
		query = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	default:
		return nil, fmt.Errorf("unknown dialect %q", d)
	}
	names, err := strings1(ctx, q, query)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// listColumns returns the column names of a source table, leaving out the
// generated (computed) columns the target does not have: they hold nothing
// of their own (MySQL's appointments compute active_start for a unique key
// PostgreSQL expresses as an exclusion constraint instead).
func listColumns(ctx context.Context, q sqldb.Querier, d sqldb.Dialect, tableName string, target table) ([]string, error) {
	var query string
	switch d {
	case sqldb.SQLite:
		query = "SELECT name, hidden IN (2, 3) FROM pragma_table_xinfo(?) WHERE hidden IN (0, 2, 3) ORDER BY cid"
	case sqldb.MySQL:
		// MariaDB leaves generation_expression NULL on plain columns, MySQL ''.
		query = "SELECT column_name, COALESCE(generation_expression, '') <> '' FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
	case sqldb.Postgres:
		query = "SELECT column_name, is_generated = 'ALWAYS' FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position"
	default:
		return nil, fmt.Errorf("unknown dialect %q", d)
	}
	rows, err := q.QueryContext(ctx, query, tableName)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", tableName, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		var generated bool
		if err := rows.Scan(&name, &generated); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", tableName, err)
		}
		if generated && !slices.ContainsFunc(target.cols, func(c column) bool { return c.name == name }) {
			continue
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", tableName, err)
	}
	return names, nil
}

// targetTable describes a PostgreSQL table.
func targetTable(ctx context.Context, q sqldb.Querier, name string) (table, error) {
	rows, err := q.QueryContext(ctx, `SELECT column_name, data_type, udt_name, is_identity, COALESCE(identity_generation, ''), is_generated
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`, name)
	if err != nil {
		return table{}, fmt.Errorf("columns of %s: %w", name, err)
	}
	defer rows.Close()
	t := table{name: name}
	for rows.Next() {
		var c column
		var udt, identity, generation, generated string
		if err := rows.Scan(&c.name, &c.dataType, &udt, &identity, &generation, &generated); err != nil {
			return table{}, fmt.Errorf("columns of %s: %w", name, err)
		}
		c.kind = kindOf(c.dataType, udt)
		c.always = identity == "YES" && generation == "ALWAYS"
		c.generated = generated == "ALWAYS"
		t.cols = append(t.cols, c)
	}
	if err := rows.Err(); err != nil {
		return table{}, fmt.Errorf("columns of %s: %w", name, err)
	}
	return t, nil
}

// foreignKeyOrder orders the target's tables so that every table comes
// after the tables it references: rows can then be inserted table by table
// with every constraint checked, and no trigger disabled.
func foreignKeyOrder(ctx context.Context, q sqldb.Querier, tables []string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT ch.relname, pa.relname FROM pg_constraint c
		JOIN pg_class ch ON ch.oid = c.conrelid
		JOIN pg_class pa ON pa.oid = c.confrelid
		JOIN pg_namespace n ON n.oid = ch.relnamespace
		WHERE c.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("foreign keys: %w", err)
	}
	defer rows.Close()
	parents := map[string]map[string]bool{}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			return nil, fmt.Errorf("foreign keys: %w", err)
		}
		if child == parent {
			return nil, fmt.Errorf("table %s references itself: rows would need an order within the table, which this copy does not work out", child)
		}
		if parents[child] == nil {
			parents[child] = map[string]bool{}
		}
		parents[child][parent] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("foreign keys: %w", err)
	}
	// Kahn's algorithm over sorted names, so the order is the same every run.
	var order []string
	done := map[string]bool{}
	for len(order) < len(tables) {
		progressed := false
		for _, t := range tables {
			if done[t] {
				continue
			}
			ready := true
			for p := range parents[t] {
				if !done[p] && slices.Contains(tables, p) {
					ready = false
					break
				}
			}
			if ready {
				order = append(order, t)
				done[t] = true
				progressed = true
			}
		}
		if !progressed {
			var rest []string
			for _, t := range tables {
				if !done[t] {
					rest = append(rest, t)
				}
			}
			return nil, fmt.Errorf("foreign keys form a cycle among %s: no insert order satisfies them", strings.Join(rest, ", "))
		}
	}
	return order, nil
}

// sourceCounter returns the next value the source would give column col of
// table: MySQL's AUTO_INCREMENT, SQLite's sqlite_sequence entry plus one
// (AUTOINCREMENT tables only: other rowid tables reuse MAX+1 themselves),
// PostgreSQL's sequence past its last value; 0 when the column has none.
func sourceCounter(ctx context.Context, q sqldb.Querier, d sqldb.Dialect, table, col string) (int64, error) {
	var query string
	var args []any
	switch d {
	case sqldb.MySQL:
		query = `SELECT t.auto_increment FROM information_schema.tables t
			JOIN information_schema.columns c ON c.table_schema = t.table_schema AND c.table_name = t.table_name
			WHERE t.table_schema = DATABASE() AND t.table_name = ? AND c.column_name = ? AND c.extra LIKE '%auto_increment%'`
		args = []any{table, col}
	case sqldb.SQLite:
		var n int
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").Scan(&n); err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, nil // no AUTOINCREMENT table was ever made
		}
		query = `SELECT s.seq + 1 FROM sqlite_sequence s, pragma_table_info(?) p
			WHERE s.name = ? AND p.pk = 1 AND p.name = ?`
		args = []any{table, table, col}
	case sqldb.Postgres:
		query = "SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence(?, ?) AS regclass)) + 1"
		args = []any{quote(d, table), col}
	default:
		return 0, fmt.Errorf("unknown dialect %q", d)
	}
	var next sql.NullInt64
	err := q.QueryRowContext(ctx, query, args...).Scan(&next)
	if errors.Is(err, errNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return next.Int64, nil
}

// appliedVersions lists the migrations goose has applied, replaying its
// table: a row with is_applied false undoes its version.
func appliedVersions(ctx context.Context, q sqldb.Querier, d sqldb.Dialect) ([]int64, error) {
	rows, err := q.QueryContext(ctx, "SELECT version_id, is_applied FROM "+quote(d, VersionTable)+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", VersionTable, err)
	}
	defer rows.Close()
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		var ok bool
		if err := rows.Scan(&v, &ok); err != nil {
			return nil, fmt.Errorf("read %s: %w", VersionTable, err)
		}
		if v == 0 { // goose's own initial row
			continue
		}
		if ok {
			applied[v] = true
		} else {
			delete(applied, v)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", VersionTable, err)
	}
	out := make([]int64, 0, len(applied))
	for v := range applied {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

// hasRows reports whether a table holds at least one row.
func hasRows(ctx context.Context, q sqldb.Querier, d sqldb.Dialect, name string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM "+quote(d, name)+" LIMIT 1").Scan(&one)
	if errors.Is(err, errNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", name, err)
	}
	return true, nil
}

func strings1(ctx context.Context, q sqldb.Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
