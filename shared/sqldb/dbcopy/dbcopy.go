// Package dbcopy copies a service's data from its MariaDB/MySQL or SQLite
// database into an empty, migrated PostgreSQL database, then proves the copy
// with row counts and order-independent checksums, table by table.
package dbcopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/medisync/medisync/shared/sqldb"
)

var errNoRows = sql.ErrNoRows

// The errors Copy reports; test them with errors.Is.
var (
	// ErrTargetNotEmpty: the target holds rows (with Migrations: in a table
	// they do not seed, or tables without exactly these migrations applied);
	// nothing was written.
	ErrTargetNotEmpty = errors.New("the target database is not empty")
	// ErrSchemaMismatch: the two databases are not at the same migration
	// version or do not have the same tables and columns.
	ErrSchemaMismatch = errors.New("the source and target schemas differ")
	// ErrMismatch: the copy was written but the verification found a table
	// whose count or checksum differs.
	ErrMismatch = errors.New("the target does not hold the same rows as the source")
)

// Options tune Copy.
type Options struct {
	// Migrations, when set, are the service's migrations as its sqlstore
	// embeds them (Migrations()): a folder holding a "postgres/" goose
	// folder. The source must be at these migrations. A target with no
	// table at all is migrated first. A target with goose's table is
	// accepted, and not migrated, only when the versions it has applied are
	// exactly these migrations' and its rows are only in the tables they
	// seed (what a failed copy leaves); any other target with tables is
	// refused untouched, one left part-migrated by an interrupted run
	// included: drop it and create it again. Rows those migrations insert
	// (seeded rows) are replaced by the source's. When nil the target must
	// already be migrated and every table must be empty.
	Migrations fs.FS
	// BatchRows is how many rows one INSERT carries; 0 means 500.
	BatchRows int
	// PerTable commits each table in its own transaction instead of the
	// whole copy in one: less for the server to hold on a large database,
	// but a failure leaves the tables copied so far in place.
	PerTable bool
	// Progress, when set, is told each table once it is copied.
	Progress func(table string, rows int64)
}

// Copy copies every table of from (SQLite, MySQL or PostgreSQL) into to
// (PostgreSQL) in foreign-key order, skipping goose's table, carries the
// source's id counters over to the target's sequences (never below the
// copied ids), and verifies the result. The
// source is read in one transaction, so the copy is one consistent
// snapshot; writers should nonetheless be stopped (see
// docs/moving-to-postgres.md). The report is returned whenever the
// verification ran; a difference yields ErrMismatch.
func Copy(ctx context.Context, from, to *sqldb.DB, opts Options) (Report, error) {
	if to.Dialect != sqldb.Postgres {
		return Report{}, fmt.Errorf("the target must be PostgreSQL, not %s", to.Dialect)
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 500
	}
	src, err := beginSnapshot(ctx, from)
	if err != nil {
		return Report{}, err
	}
	defer func() { _ = src.Rollback() }()
	// Before the target is touched: a source that is no service database
	// (a mistyped SQLite path) or not at these migrations is refused while
	// the target is still as it was given.
	if err := checkSource(ctx, src, from.Dialect, opts.Migrations); err != nil {
		return Report{}, err
	}
	seeded, err := prepareTarget(ctx, to, opts.Migrations)
	if err != nil {
		return Report{}, err
	}

	tables, targetOnly, err := plan(ctx, src, from.Dialect, to)
	if err != nil {
		return Report{}, err
	}
	for _, t := range targetOnly {
		delete(seeded, t) // kept as the target's migrations made them
	}
	if err := writeAll(ctx, src, from.Dialect, to, tables, seeded, opts); err != nil {
		return Report{}, err
	}
	rep, err := verify(ctx, src, from.Dialect, to, tables)
	rep.TargetOnly = targetOnly
	if err != nil {
		return rep, err
	}
	if !rep.OK() {
		return rep, fmt.Errorf("%w: %s", ErrMismatch, strings.Join(rep.Differences(), "; "))
	}
	return rep, nil
}

// Verify compares every table of from and to by row count and checksum,
// without writing anything: a check that can be run again at any time
// before the services switch over.
func Verify(ctx context.Context, from, to *sqldb.DB) (Report, error) {
	if to.Dialect != sqldb.Postgres {
		return Report{}, fmt.Errorf("the target must be PostgreSQL, not %s", to.Dialect)
	}
	src, err := beginSnapshot(ctx, from)
	if err != nil {
		return Report{}, err
	}
	defer func() { _ = src.Rollback() }()
	tables, targetOnly, err := plan(ctx, src, from.Dialect, to)
	if err != nil {
		return Report{}, err
	}
	rep, err := verify(ctx, src, from.Dialect, to, tables)
	rep.TargetOnly = targetOnly
	return rep, err
}

// beginSnapshot starts the read transaction the source is read through.
func beginSnapshot(ctx context.Context, db *sqldb.DB) (*sql.Tx, error) {
	var o *sql.TxOptions
	if db.Dialect != sqldb.SQLite {
		// One snapshot for every table; SQLite's transaction (which takes
		// the write lock, see sqldb) holds writers off instead.
		o = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := db.BeginTx(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("read the source: %w", err)
	}
	if db.Dialect == sqldb.MySQL {
		// MySQL 8 answers information_schema's AUTO_INCREMENT from a cache
		// up to a day old unless told not to; MariaDB has no such cache
		// (nor the variable).
		var version string
		if err := tx.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("read the source: %w", err)
		}
		if !strings.Contains(version, "MariaDB") {
			if _, err := tx.ExecContext(ctx, "SET SESSION information_schema_stats_expiry = 0"); err != nil {
				_ = tx.Rollback()
				return nil, fmt.Errorf("read the source: %w", err)
			}
		}
	}
	return tx, nil
}

// checkSource refuses a source without goose's table or, when migrations
// are given, at other migrations than those.
func checkSource(ctx context.Context, src sqldb.Querier, d sqldb.Dialect, migrations fs.FS) error {
	tables, err := listTables(ctx, src, d)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if !slices.Contains(tables, VersionTable) {
		return fmt.Errorf("%w: the source has no %s table", ErrSchemaMismatch, VersionTable)
	}
	if migrations == nil {
		return nil // plan compares the two sides' versions
	}
	have, err := appliedVersions(ctx, src, d)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	want, err := migrationVersions(migrations)
	if err != nil {
		return err
	}
	if !slices.Equal(have, want) {
		return fmt.Errorf("%w: the source has migrations %v applied, the target's migrations are %v", ErrSchemaMismatch, have, want)
	}
	return nil
}

// migrationVersions lists the versions of the postgres/ migrations, in
// order: the numbers their file names start with.
func migrationVersions(migrations fs.FS) ([]int64, error) {
	entries, err := fs.ReadDir(migrations, "postgres")
	if err != nil {
		return nil, fmt.Errorf("target migrations: %w", err)
	}
	var out []int64
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			continue // not a migration file
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

// seededByMigrations names the tables the postgres/ migrations insert
// rows into.
func seededByMigrations(migrations fs.FS) (map[string]bool, error) {
	files, err := fs.Glob(migrations, "postgres/*.sql")
	if err != nil {
		return nil, fmt.Errorf("target migrations: %w", err)
	}
	out := map[string]bool{}
	for _, f := range files {
		b, err := fs.ReadFile(migrations, f)
		if err != nil {
			return nil, fmt.Errorf("target migrations: %w", err)
		}
		for _, m := range insertInto.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
	}
	return out, nil
}

var insertInto = regexp.MustCompile(`(?i)\bINSERT\s+INTO\s+"?([a-z_][a-z0-9_]*)`)

// prepareTarget checks the target is empty, migrating it when migrations
// are given, and returns the tables holding seeded rows.
//
// With migrations, a target without any table is migrated. A target with
// tables is never migrated here: it is accepted only when it has goose's
// table, the versions applied there are exactly the migrations' versions,
// and its rows are only in the tables the migrations seed: the target a
// failed copy leaves, so that the copy can be run again. Anything else (no
// goose table, another service's database, one left part-migrated) is
// refused with nothing written. The seeded rows are replaced by the
// source's (or, for a table the source lacks, kept), as on a target just
// migrated.
func prepareTarget(ctx context.Context, to *sqldb.DB, migrations fs.FS) (seeded map[string]bool, err error) {
	tables, err := listTables(ctx, to, to.Dialect)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	seeded = map[string]bool{}
	var seedable map[string]bool
	if migrations != nil {
		if len(tables) > 0 && !slices.Contains(tables, VersionTable) {
			return nil, fmt.Errorf("%w: it already has tables (%s) and no %s; give an empty database to migrate, or leave the migrations out for one already migrated",
				ErrTargetNotEmpty, strings.Join(first(tables, 5), ", "), VersionTable)
		}
		if seedable, err = seededByMigrations(migrations); err != nil {
			return nil, err
		}
		if len(tables) > 0 {
			have, err := appliedVersions(ctx, to, to.Dialect)
			if err != nil {
				return nil, fmt.Errorf("target: %w", err)
			}
			want, err := migrationVersions(migrations)
			if err != nil {
				return nil, err
			}
			if !slices.Equal(have, want) {
				return nil, fmt.Errorf("%w: it already has tables (%s) and migrations %v applied, not these migrations' %v; give an empty database (drop and create again one an interrupted run left part-migrated)",
					ErrTargetNotEmpty, strings.Join(first(tables, 5), ", "), have, want)
			}
		} else {
			if err := to.Migrate(ctx, migrations); err != nil {
				return nil, fmt.Errorf("migrate the target: %w", err)
			}
			if tables, err = listTables(ctx, to, to.Dialect); err != nil {
				return nil, fmt.Errorf("target: %w", err)
			}
		}
	} else if !slices.Contains(tables, VersionTable) {
		return nil, fmt.Errorf("%w: the target has no %s table: migrate it first, or give the migrations", ErrSchemaMismatch, VersionTable)
	}
	var full []string
	for _, t := range tables {
		if t == VersionTable {
			continue
		}
		has, err := hasRows(ctx, to, to.Dialect, t)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if has {
			seeded[t] = true
			if !seedable[t] {
				full = append(full, t)
			}
		}
	}
	if len(full) > 0 {
		return nil, fmt.Errorf("%w: rows in %s", ErrTargetNotEmpty, strings.Join(first(full, 5), ", "))
	}
	return seeded, nil
}

// plan checks both sides hold the same migrations, tables and columns, and
// returns the tables to copy in foreign-key order, and the tables only the
// target has.
//
// At the same migration version, a table only the target has is one its
// dialect's migrations alone make: state PostgreSQL needs and the source's
// database does without (appointment's doctor_locks, which MariaDB's unique
// key and SQLite's single writer make unnecessary; auth's revocation_writer
// on SQLite). The source holds no row for it, so nothing is lost: the table
// is left as the target's migrations made it, seeded rows included, and the
// report names it. A table only the source has is refused: its rows would
// have nowhere to go.
func plan(ctx context.Context, src sqldb.Querier, srcDialect sqldb.Dialect, to *sqldb.DB) (tables []table, targetOnly []string, err error) {
	srcTables, err := listTables(ctx, src, srcDialect)
	if err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	dstTables, err := listTables(ctx, to, to.Dialect)
	if err != nil {
		return nil, nil, fmt.Errorf("target: %w", err)
	}
	if !slices.Contains(srcTables, VersionTable) {
		return nil, nil, fmt.Errorf("%w: the source has no %s table", ErrSchemaMismatch, VersionTable)
	}
	srcVersions, err := appliedVersions(ctx, src, srcDialect)
	if err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	dstVersions, err := appliedVersions(ctx, to, to.Dialect)
	if err != nil {
		return nil, nil, fmt.Errorf("target: %w", err)
	}
	if !slices.Equal(srcVersions, dstVersions) {
		return nil, nil, fmt.Errorf("%w: the source has migrations %v applied, the target %v", ErrSchemaMismatch, srcVersions, dstVersions)
	}
	srcTables = slices.DeleteFunc(srcTables, func(t string) bool { return t == VersionTable })
	dstTables = slices.DeleteFunc(dstTables, func(t string) bool { return t == VersionTable })
	var common []string
	for _, t := range dstTables {
		if slices.Contains(srcTables, t) {
			common = append(common, t)
		} else {
			targetOnly = append(targetOnly, t)
		}
	}
	if len(common) != len(srcTables) {
		return nil, nil, fmt.Errorf("%w: the source has tables %v, the target %v", ErrSchemaMismatch, srcTables, dstTables)
	}
	order, err := foreignKeyOrder(ctx, to, common)
	if err != nil {
		return nil, nil, fmt.Errorf("target: %w", err)
	}
	out := make([]table, 0, len(order))
	for _, name := range order {
		t, err := targetTable(ctx, to, name)
		if err != nil {
			return nil, nil, fmt.Errorf("target: %w", err)
		}
		srcCols, err := listColumns(ctx, src, srcDialect, name, t)
		if err != nil {
			return nil, nil, fmt.Errorf("source: %w", err)
		}
		var dstCols []string
		for _, c := range t.cols {
			dstCols = append(dstCols, c.name)
		}
		if !sameSet(srcCols, dstCols) {
			return nil, nil, fmt.Errorf("%w: table %s has columns %v in the source, %v in the target", ErrSchemaMismatch, name, srcCols, dstCols)
		}
		out = append(out, t)
	}
	return out, targetOnly, nil
}

// writeAll copies every table, in one transaction or one per table.
func writeAll(ctx context.Context, src *sql.Tx, srcDialect sqldb.Dialect, to *sqldb.DB, tables []table, seeded map[string]bool, opts Options) error {
	copyOne := func(tx *sql.Tx, t table) error {
		n, err := copyTable(ctx, src, srcDialect, tx, t, opts.BatchRows)
		if err != nil {
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
		if err := resetSequences(ctx, src, srcDialect, tx, t); err != nil {
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
		if opts.Progress != nil {
			opts.Progress(t.name, n)
		}
		return nil
	}
	// Seeded rows go first, children before parents, so the source's rows
	// take their place.
	clearSeeds := func(tx *sql.Tx, only string) error {
		for i := len(tables) - 1; i >= 0; i-- {
			t := tables[i]
			if !seeded[t.name] || (only != "" && only != t.name) {
				continue
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+quote(sqldb.Postgres, t.name)); err != nil {
				return fmt.Errorf("replace the seeded rows of %s: %w", t.name, err)
			}
		}
		return nil
	}
	if !opts.PerTable {
		return to.InTx(ctx, func(tx *sql.Tx) error {
			if err := clearSeeds(tx, ""); err != nil {
				return err
			}
			for _, t := range tables {
				if err := copyOne(tx, t); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Seeded tables referenced by others are cleared while nothing yet
	// refers to them: each seeded table is emptied in its own transaction,
	// children first, before any copy.
	for i := len(tables) - 1; i >= 0; i-- {
		name := tables[i].name
		if !seeded[name] {
			continue
		}
		if err := to.InTx(ctx, func(tx *sql.Tx) error { return clearSeeds(tx, name) }); err != nil {
			return err
		}
	}
	for _, t := range tables {
		if err := to.InTx(ctx, func(tx *sql.Tx) error { return copyOne(tx, t) }); err != nil {
			return err
		}
	}
	return nil
}

// copyTable streams a table's rows from the source into multi-row INSERTs.
func copyTable(ctx context.Context, src *sql.Tx, srcDialect sqldb.Dialect, dst *sql.Tx, t table, batchRows int) (int64, error) {
	cols := t.copied()
	if len(cols) == 0 {
		return 0, nil
	}
	// PostgreSQL takes at most 65535 parameters in one statement.
	batchRows = max(1, min(batchRows, 65535/len(cols)))
	srcNames := make([]string, len(cols))
	dstNames := make([]string, len(cols))
	for i, c := range cols {
		srcNames[i] = quote(srcDialect, c.name)
		dstNames[i] = quote(sqldb.Postgres, c.name)
	}
	rows, err := src.QueryContext(ctx, "SELECT "+strings.Join(srcNames, ", ")+" FROM "+quote(srcDialect, t.name))
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()

	head := "INSERT INTO " + quote(sqldb.Postgres, t.name) + " (" + strings.Join(dstNames, ", ") + ")"
	if t.overriding() {
		head += " OVERRIDING SYSTEM VALUE"
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var copied int64
	args := make([]any, 0, batchRows*len(cols))
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		n := len(args) / len(cols)
		q := head + " VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
		if _, err := dst.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		copied += int64(n)
		args = args[:0]
		return nil
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return copied, fmt.Errorf("read: %w", err)
		}
		for i, c := range cols {
			v, err := normalize(vals[i], c.kind)
			if err != nil {
				// The value itself stays out of the message: it may be
				// clinical data.
				return copied, fmt.Errorf("column %s (%s), row %d: %w", c.name, c.dataType, copied+int64(len(args)/len(cols))+1, redactValue(err))
			}
			args = append(args, v)
		}
		if len(args) == batchRows*len(cols) {
			if err := flush(); err != nil {
				return copied, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return copied, fmt.Errorf("read: %w", err)
	}
	return copied, flush()
}

// redactValue keeps a conversion error's reason but not the value it quotes.
func redactValue(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, `" is not`); i >= 0 && strings.HasPrefix(msg, `"`) {
		return errors.New("the value" + msg[i+1:])
	}
	if strings.HasPrefix(msg, "strconv.") {
		return errors.New("the value is not a number")
	}
	return err
}

// resetSequences moves every sequence that feeds a column of t (serial and
// identity columns alike) to the next value the source would have handed
// out, or past the largest copied value if that is higher. A source's
// counter outruns its rows once the newest are deleted (auth purges expired
// revocations, whose ids are a feed index its followers hold): restarting at
// MAX+1 would hand out those ids again.
func resetSequences(ctx context.Context, src *sql.Tx, srcDialect sqldb.Dialect, tx *sql.Tx, t table) error {
	tname := quote(sqldb.Postgres, t.name)
	for _, c := range t.cols {
		var seq sql.NullString
		if err := tx.QueryRowContext(ctx, "SELECT pg_get_serial_sequence(?, ?)", tname, c.name).Scan(&seq); err != nil {
			return fmt.Errorf("sequence of %s: %w", c.name, err)
		}
		if !seq.Valid {
			continue
		}
		next, err := sourceCounter(ctx, src, srcDialect, t.name, c.name)
		if err != nil {
			return fmt.Errorf("source counter of %s.%s: %w", t.name, c.name, err)
		}
		q := "SELECT setval(CAST(? AS regclass), GREATEST(COALESCE((SELECT MAX(" + quote(sqldb.Postgres, c.name) + ") FROM " + tname + "), 0) + 1, ?), false)"
		if _, err := tx.ExecContext(ctx, q, seq.String, next); err != nil {
			return fmt.Errorf("reset sequence %s: %w", seq.String, err)
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func first(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}
