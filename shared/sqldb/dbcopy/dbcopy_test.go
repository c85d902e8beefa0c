package dbcopy_test

import (
	"context"
	"embed"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

//go:embed testdata/migrations
var embedded embed.FS

// migrations hold tables with a column of every type the services use, a
// row seeded by a migration, identity and serial ids, and an append-only
// audit table.
func migrations(t *testing.T) fs.FS {
	sub, err := fs.Sub(embedded, "testdata/migrations")
	require.NoError(t, err)
	return sub
}

// emptyPostgres is a fresh PostgreSQL database without any table.
func emptyPostgres(t *testing.T) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), sqltest.PostgresDSN(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

var (
	// Written in another zone: both sides must hold the same instant.
	recordedAt = time.Date(2024, 3, 5, 12, 11, 12, 123456000, time.FixedZone("UTC+2", 2*3600))
	createdAt  = time.Date(2023, 12, 31, 23, 59, 59, 999999000, time.UTC)
	unicode    = "Zoë Ångström 山田 🩺 \"quoted\" 'single'\nsecond line\ttab \\ back"
	payload    = []byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff}
	attrs      = `{"b": 1, "a": [1, 2.50, "x", null, true], "nested": {"z": "ü", "k": {}}}`
)

// seed writes rows of every type into a source database.
func seed(t *testing.T, db *sqldb.DB) {
	t.Helper()
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := db.ExecContext(ctx, q, args...)
		require.NoError(t, err, q)
	}
	for i, name := range []string{unicode, "Plain", "Gone"} {
		exec("INSERT INTO owners (name, active, created_at) VALUES (?, ?, ?)", name, i%2 == 0, createdAt.Add(time.Duration(i)*time.Hour))
	}
	// A gap in the ids, and the largest id not the last inserted.
	exec("DELETE FROM owners WHERE name = 'Gone'")
	exec(`INSERT INTO records (id, owner_id, note, flag, payload, attrs, recorded_at, day, amount, score)
		VALUES ('r1', 1, ?, ?, ?, ?, ?, ?, ?, ?)`, unicode, true, payload, attrs, recordedAt, "2024-02-29", "12.50", 0.1)
	exec("INSERT INTO records (id, owner_id) VALUES ('r2', 2)")
	exec(`INSERT INTO records (id, owner_id, note, flag, payload, attrs, amount, score)
		VALUES ('r3', 1, '', ?, ?, '[]', '-0.05', -1e300)`, false, []byte{})
	for i, r := range []string{"r1", "r2", "r3", "r1"} {
		exec("INSERT INTO audit (record_id, action, at) VALUES (?, ?, ?)", r, "update", recordedAt.Add(time.Duration(i)*time.Microsecond))
	}
	exec("UPDATE counters SET n = 57 WHERE id = 1")
}

func TestCopyMariaDBToPostgres(t *testing.T) {
	src := sqltest.MySQL(t, migrations(t))
	seed(t, src)
	dst := emptyPostgres(t)
	var progress []string
	rep, err := dbcopy.Copy(context.Background(), src, dst, dbcopy.Options{
		Migrations: migrations(t), BatchRows: 2,
		Progress: func(table string, _ int64) { progress = append(progress, table) },
	})
	require.NoError(t, err)
	assert.True(t, rep.OK())
	// Parents before children, whatever their names.
	assert.Equal(t, []string{"counters", "owners", "records", "audit"}, progress)
	assertCopied(t, dst, rep)
}

func TestCopySQLiteToPostgresTableByTable(t *testing.T) {
	src := sqltest.SQLite(t, migrations(t))
	seed(t, src)
	dst := emptyPostgres(t)
	rep, err := dbcopy.Copy(context.Background(), src, dst, dbcopy.Options{Migrations: migrations(t), PerTable: true})
	require.NoError(t, err)
	assertCopied(t, dst, rep)
}

// assertCopied checks the values PostgreSQL holds after a copy of seed.
func assertCopied(t *testing.T, dst *sqldb.DB, rep dbcopy.Report) {
	t.Helper()
	ctx := context.Background()
	rows := map[string]int64{}
	for _, r := range rep.Tables {
		rows[r.Table] = r.TargetRows
		assert.Equal(t, r.SourceSum, r.TargetSum, r.Table)
	}
	assert.Equal(t, map[string]int64{"owners": 2, "records": 3, "audit": 4, "counters": 1}, rows)

	var (
		note, attrsText, day, amount string
		flag                         bool
		blob                         []byte
		at                           time.Time
		score                        float64
	)
	require.NoError(t, dst.QueryRowContext(ctx,
		"SELECT note, flag, payload, attrs::text, recorded_at, day::text, amount::text, score FROM records WHERE id = 'r1'").
		Scan(&note, &flag, &blob, &attrsText, &at, &day, &amount, &score))
	assert.Equal(t, unicode, note)
	assert.True(t, flag)
	assert.Equal(t, payload, blob)
	assert.JSONEq(t, attrs, attrsText)
	assert.True(t, recordedAt.Equal(at), "recorded_at %s, want %s", at, recordedAt)
	assert.Equal(t, "2024-02-29", day)
	assert.Equal(t, "12.50", amount)
	assert.Equal(t, 0.1, score)

	var nulls int
	require.NoError(t, dst.QueryRowContext(ctx, `SELECT COUNT(*) FROM records WHERE id = 'r2' AND note IS NULL AND flag IS NULL
		AND payload IS NULL AND attrs IS NULL AND recorded_at IS NULL AND day IS NULL AND amount IS NULL AND score IS NULL`).Scan(&nulls))
	assert.Equal(t, 1, nulls, "NULLs stay NULL")
	require.NoError(t, dst.QueryRowContext(ctx, "SELECT note, flag, payload FROM records WHERE id = 'r3'").Scan(&note, &flag, &blob))
	assert.Equal(t, "", note, "an empty string is not NULL")
	assert.False(t, flag)
	assert.Empty(t, blob)

	var created time.Time
	require.NoError(t, dst.QueryRowContext(ctx, "SELECT created_at FROM owners WHERE id = 1").Scan(&created))
	assert.True(t, createdAt.Equal(created))
	var n int64
	require.NoError(t, dst.QueryRowContext(ctx, "SELECT n FROM counters WHERE id = 1").Scan(&n))
	assert.Equal(t, int64(57), n, "the seeded row was replaced by the source's")

	// The sequences continue after the copied ids.
	var ownerID, auditID int64
	require.NoError(t, dst.QueryRowContext(ctx, "INSERT INTO owners (name, active, created_at) VALUES ('New', true, now()) RETURNING id").Scan(&ownerID))
	assert.Equal(t, int64(4), ownerID, "owners had ids 1 and 2, and the source had handed out 3 before deleting it: its counter goes on")
	require.NoError(t, dst.QueryRowContext(ctx, "INSERT INTO audit (record_id, action, at) VALUES ('r1', 'read', now()) RETURNING id").Scan(&auditID))
	assert.Equal(t, int64(5), auditID)

	// goose's table lists the same migrations, and was not copied row by row.
	var versions int
	require.NoError(t, dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions))
	assert.Equal(t, 2, versions)
}

func TestCopyIntoAlreadyMigratedTarget(t *testing.T) {
	// The shared test migrations: items and links, no seeded row.
	shared := os.DirFS("../testdata/migrations")
	src := sqltest.MySQL(t, shared)
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c"} {
		_, err := src.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", id, "item "+id, createdAt.Add(time.Duration(i)*time.Millisecond))
		require.NoError(t, err)
	}
	_, err := src.ExecContext(ctx, "INSERT INTO links (id, item_id) VALUES ('l1', 'c'), ('l2', 'a')")
	require.NoError(t, err)
	dst := sqltest.Postgres(t, shared)

	rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{})
	require.NoError(t, err)
	require.Len(t, rep.Tables, 2)
	assert.Equal(t, "items", rep.Tables[0].Table)
	assert.Equal(t, int64(3), rep.Tables[0].TargetRows)
	assert.Equal(t, int64(2), rep.Tables[1].TargetRows)
}

func TestCopyRefusesANonEmptyTarget(t *testing.T) {
	shared := os.DirFS("../testdata/migrations")
	src := sqltest.MySQL(t, shared)
	ctx := context.Background()
	_, err := src.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES ('a', 'from the source', ?)", createdAt)
	require.NoError(t, err)

	t.Run("rows in a migrated target", func(t *testing.T) {
		dst := sqltest.Postgres(t, shared)
		_, err := dst.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES ('z', 'already here', now())")
		require.NoError(t, err)
		_, err = dbcopy.Copy(ctx, src, dst, dbcopy.Options{})
		require.ErrorIs(t, err, dbcopy.ErrTargetNotEmpty)
		assert.Contains(t, err.Error(), "items")
		var names []string
		rows, err := dst.QueryContext(ctx, "SELECT name FROM items")
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			names = append(names, n)
		}
		assert.Equal(t, []string{"already here"}, names, "nothing was written")
	})
	t.Run("tables in a target to migrate", func(t *testing.T) {
		dst := emptyPostgres(t)
		_, err := dst.ExecContext(ctx, "CREATE TABLE other (id text PRIMARY KEY)")
		require.NoError(t, err)
		_, err = dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: shared})
		require.ErrorIs(t, err, dbcopy.ErrTargetNotEmpty)
	})
	t.Run("rows in a target the migrations made", func(t *testing.T) {
		dst := sqltest.Postgres(t, shared)
		_, err := dst.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES ('z', 'already here', now())")
		require.NoError(t, err)
		_, err = dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: shared})
		require.ErrorIs(t, err, dbcopy.ErrTargetNotEmpty)
		assert.Contains(t, err.Error(), "items")
	})
	t.Run("a target never migrated", func(t *testing.T) {
		_, err := dbcopy.Copy(ctx, src, emptyPostgres(t), dbcopy.Options{})
		require.ErrorIs(t, err, dbcopy.ErrSchemaMismatch)
	})
}

func TestCopyRefusesATargetAtAnotherMigrationVersion(t *testing.T) {
	src := sqltest.MySQL(t, migrations(t))
	seed(t, src)
	first, err := fs.ReadFile(migrations(t), "postgres/00001_records.sql")
	require.NoError(t, err)
	older := fstest.MapFS{"postgres/00001_records.sql": {Data: first}}
	dst := emptyPostgres(t)

	_, err = dbcopy.Copy(context.Background(), src, dst, dbcopy.Options{Migrations: older})
	require.ErrorIs(t, err, dbcopy.ErrSchemaMismatch)
	assert.Contains(t, err.Error(), "[1 2]")
	var tables int
	require.NoError(t, dst.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&tables))
	assert.Zero(t, tables, "refused before the target was migrated")
}

// A target with tables is never migrated by the copy: one at fewer
// migrations than the copy's (left part-migrated) is refused as it is.
func TestCopyRefusesAPartMigratedTarget(t *testing.T) {
	src := sqltest.MySQL(t, migrations(t))
	seed(t, src)
	first, err := fs.ReadFile(migrations(t), "postgres/00001_records.sql")
	require.NoError(t, err)
	dst := sqltest.Postgres(t, fstest.MapFS{"postgres/00001_records.sql": {Data: first}})

	_, err = dbcopy.Copy(context.Background(), src, dst, dbcopy.Options{Migrations: migrations(t)})
	require.ErrorIs(t, err, dbcopy.ErrTargetNotEmpty)
	var versions int
	require.NoError(t, dst.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 1").Scan(&versions))
	assert.Zero(t, versions, "the target was not migrated")
}

func TestVerifyFindsATamperedRow(t *testing.T) {
	src := sqltest.MySQL(t, migrations(t))
	seed(t, src)
	dst := emptyPostgres(t)
	ctx := context.Background()
	_, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: migrations(t)})
	require.NoError(t, err)

	rep, err := dbcopy.Verify(ctx, src, dst)
	require.NoError(t, err)
	require.True(t, rep.OK(), "a fresh copy verifies again")

	for _, tc := range []struct{ name, tamper, table, want string }{
		{"one character", "UPDATE records SET note = 'Zoe' WHERE id = 'r1'", "records", "different contents"},
		{"a microsecond", "UPDATE owners SET created_at = created_at + interval '1 microsecond' WHERE id = 2", "owners", "different contents"},
		{"NULL for empty", "UPDATE records SET note = NULL WHERE id = 'r3'", "records", "different contents"},
		{"a lost row", "DELETE FROM counters", "counters", "1 rows in the source, 0 in the target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := emptyPostgres(t)
			_, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: migrations(t)})
			require.NoError(t, err)
			_, err = dst.ExecContext(ctx, tc.tamper)
			require.NoError(t, err)
			rep, err := dbcopy.Verify(ctx, src, dst)
			require.NoError(t, err)
			assert.False(t, rep.OK())
			diffs := rep.Differences()
			require.Len(t, diffs, 1, diffs)
			assert.True(t, strings.HasPrefix(diffs[0], tc.table+": "), diffs[0])
			assert.Contains(t, diffs[0], tc.want)
			var out strings.Builder
			require.NoError(t, rep.Print(&out))
			assert.Contains(t, out.String(), "DIFFERENT")
		})
	}
}

// dialectMigrations is one migration, 00001, per dialect.
func dialectMigrations(mysql, sqlite, postgres string) fstest.MapFS {
	return fstest.MapFS{
		"mysql/00001_visits.sql":    {Data: []byte("-- +goose Up\n" + mysql)},
		"sqlite/00001_visits.sql":   {Data: []byte("-- +goose Up\n" + sqlite)},
		"postgres/00001_visits.sql": {Data: []byte("-- +goose Up\n" + postgres)},
	}
}

// A source's generated column the target does without holds nothing of its
// own and is not read; a table only the target's migrations make is left
// as they made it, seeded row included, and named in the report; a table
// only the source has is refused, its rows having nowhere to go. From
// either source, the target's sequence goes on from the source's counter.
func TestCopyAcrossDialectDifferences(t *testing.T) {
	migs := dialectMigrations(
		"CREATE TABLE visits (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, name_length INT AS (CHAR_LENGTH(name)) STORED);",
		"CREATE TABLE visits (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, name_length INTEGER GENERATED ALWAYS AS (length(name)) STORED);",
		`CREATE TABLE visits (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name VARCHAR(50) NOT NULL);
CREATE TABLE visit_locks (id BIGINT PRIMARY KEY);
CREATE TABLE visit_writer (id INT PRIMARY KEY, writes BIGINT NOT NULL);
INSERT INTO visit_writer (id, writes) VALUES (1, 0);`)
	for _, source := range []string{"sqlite", "mysql"} {
		t.Run(source, func(t *testing.T) {
			ctx := context.Background()
			var src *sqldb.DB
			if source == "sqlite" {
				src = sqltest.SQLite(t, migs)
			} else {
				src = sqltest.MySQL(t, migs)
			}
			for _, q := range []string{
				"INSERT INTO visits (name) VALUES ('Zoë'), ('Ada'), ('Gone')",
				"DELETE FROM visits WHERE name = 'Gone'",
			} {
				_, err := src.ExecContext(ctx, q)
				require.NoError(t, err)
			}
			dst := emptyPostgres(t)
			rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: migs})
			require.NoError(t, err)
			require.Len(t, rep.Tables, 1)
			assert.Equal(t, int64(2), rep.Tables[0].TargetRows)
			assert.Equal(t, []string{"visit_locks", "visit_writer"}, rep.TargetOnly)
			var writers int
			require.NoError(t, dst.QueryRowContext(ctx, "SELECT COUNT(*) FROM visit_writer").Scan(&writers))
			assert.Equal(t, 1, writers, "the target's seeded row stays")
			var out strings.Builder
			require.NoError(t, rep.Print(&out))
			assert.Contains(t, out.String(), "visit_writer: only in the target's migrations")

			var id int64
			require.NoError(t, dst.QueryRowContext(ctx, "INSERT INTO visits (name) VALUES ('New') RETURNING id").Scan(&id))
			assert.Equal(t, int64(4), id, "the source had handed out 3 before deleting it")

			again, err := dbcopy.Verify(ctx, src, dst)
			require.NoError(t, err)
			assert.Equal(t, []string{"visit_locks", "visit_writer"}, again.TargetOnly)
		})
	}

	t.Run("a table only the source has", func(t *testing.T) {
		migs := dialectMigrations(
			"CREATE TABLE visits (id BIGINT PRIMARY KEY);\nCREATE TABLE notes (id BIGINT PRIMARY KEY);",
			"CREATE TABLE visits (id INTEGER PRIMARY KEY);",
			"CREATE TABLE visits (id BIGINT PRIMARY KEY);")
		src := sqltest.MySQL(t, migs)
		_, err := dbcopy.Copy(context.Background(), src, emptyPostgres(t), dbcopy.Options{Migrations: migs})
		require.ErrorIs(t, err, dbcopy.ErrSchemaMismatch)
		assert.Contains(t, err.Error(), "notes")
	})
}
