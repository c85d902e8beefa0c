package sqltest

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
)

// MySQLMigrationsRunAgain applies the mysql/ migrations of migrations one
// at a time to a fresh MariaDB database and runs each once more over
// itself, as the next start does after one cut short inside it: MariaDB
// commits every DDL statement as it goes, so a migration whose first
// statements were applied must still go through (docs/architecture.md,
// "Migrations"). It skips when no server answers, or fails under CI.
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
		if _, err := db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = ?", s.Version); err != nil {
			t.Fatalf("forget %d: %v", s.Version, err)
		}
		if _, err := p.ApplyVersion(ctx, s.Version, true); err != nil {
			t.Errorf("%s cannot run again over itself: %v", s.Path, err)
			return
		}
	}
}
