package sqltest

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
)

// MySQLMigrationsRunAgain applies the mysql/ migrations of migrations one
// at a time to a fresh MariaDB database and runs each once more over
// itself, as the next start does after one cut short inside it: MariaDB
// commits every DDL statement as it goes, so a migration whose first
// statements were applied must still go through (docs/architecture.md,
// "Migrations"). The second run must also leave the schema the first one
// left: every table as SHOW CREATE TABLE gives it, and every trigger. It
// skips when no server answers, or fails under CI.
func MySQLMigrationsRunAgain(t *testing.T, migrations fs.FS) {
	t.Helper()
	db := MySQL(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sub, err := fs.Sub(migrations, "mysql")
	if err != nil {
		t.Fatalf("mysql migrations: %v", err)
	}
	p, err := goose.NewProvider(goose.DialectMySQL, db.DB, sub)
	if err != nil {
		t.Fatalf("prepare migrations: %v", err)
	}
	for _, s := range p.ListSources() {
		if _, err := p.ApplyVersion(ctx, s.Version, true); err != nil {
			t.Fatalf("apply %d: %v", s.Version, err)
		}
		first, err := mysqlSchema(ctx, db.DB)
		if err != nil {
			t.Fatalf("schema after %d: %v", s.Version, err)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = ?", s.Version); err != nil {
			t.Fatalf("forget %d: %v", s.Version, err)
		}
		if _, err := p.ApplyVersion(ctx, s.Version, true); err != nil {
			t.Errorf("%s cannot run again over itself: %v", s.Path, err)
			return
		}
		again, err := mysqlSchema(ctx, db.DB)
		if err != nil {
			t.Fatalf("schema after %d again: %v", s.Version, err)
		}
		if again != first {
			t.Errorf("%s run again over itself leaves another schema than its first run\nfirst run:\n%s\nrun again:\n%s", s.Path, first, again)
			return
		}
	}
}

// autoIncrement is the table option SHOW CREATE TABLE prints for the next
// AUTO_INCREMENT value: a row written and removed again (goose's own
// version row) moves it without changing the schema.
var autoIncrement = regexp.MustCompile(` AUTO_INCREMENT=[0-9]+`)

// mysqlSchema describes the schema of the current database: SHOW CREATE
// TABLE of every table and view by name, then every trigger by table and
// name, with its timing, event, order and body.
func mysqlSchema(ctx context.Context, db *sql.DB) (string, error) {
	var b strings.Builder
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.TABLES
		WHERE table_schema = DATABASE() ORDER BY table_name`)
	if err != nil {
		return "", err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return "", err
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		return "", err
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	for _, table := range tables {
		// SHOW CREATE TABLE gives two columns for a table and four for a view.
		rows, err := db.QueryContext(ctx, "SHOW CREATE TABLE `"+strings.ReplaceAll(table, "`", "``")+"`")
		if err != nil {
			return "", err
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return "", err
		}
		for rows.Next() {
			values := make([]sql.NullString, len(cols))
			dest := make([]any, len(cols))
			for i := range values {
				dest[i] = &values[i]
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return "", err
			}
			fmt.Fprintf(&b, "%s;\n\n", autoIncrement.ReplaceAllString(values[1].String, ""))
		}
		if err := rows.Close(); err != nil {
			return "", err
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	rows, err = db.QueryContext(ctx, `SELECT event_object_table, trigger_name, action_timing,
		event_manipulation, action_order, action_statement FROM information_schema.TRIGGERS
		WHERE trigger_schema = DATABASE() ORDER BY event_object_table, trigger_name`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var table, name, timing, event, statement string
		var order int64
		if err := rows.Scan(&table, &name, &timing, &event, &order, &statement); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "TRIGGER %s %s %s ON %s (order %d): %s;\n\n", name, timing, event, table, order, statement)
	}
	return b.String(), rows.Err()
}
