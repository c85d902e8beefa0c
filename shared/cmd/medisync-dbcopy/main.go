// Command medisync-dbcopy moves one service's data from its MariaDB/MySQL or
// SQLite database into an empty PostgreSQL database and verifies the copy
// table by table; with -verify-only it compares the two without writing.
// See docs/moving-to-postgres.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
)

func main() {
	app.Main("medisync-dbcopy", func(ctx context.Context, args []string) error { return run(ctx, args, os.Stdout, os.Stderr) })
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("medisync-dbcopy", flag.ContinueOnError)
	fset.SetOutput(stderr)
	from := fset.String("from", "", "source database: mysql://user:pass@tcp(host:port)/db?parseTime=true or sqlite:<path> (env MEDISYNC_DBCOPY_FROM)")
	to := fset.String("to", "", "target PostgreSQL database, empty: postgres://owner:pass@host:port/db?sslmode=disable (env MEDISYNC_DBCOPY_TO)")
	migrations := fset.String("migrations", "", "the service's migrations folder (holding postgres/) or its postgres/ folder itself: the source must be at these migrations; a target with no table is migrated first, one with tables is accepted unmigrated only with exactly these migrations applied and rows only in the tables they seed (as a failed run leaves it), and otherwise refused untouched (drop and create again one an interrupted run left part-migrated); without it the target must already be migrated and empty")
	batch := fset.Int("batch", 500, "rows per INSERT")
	perTable := fset.Bool("per-table", false, "commit each table on its own instead of the whole copy in one transaction")
	verifyOnly := fset.Bool("verify-only", false, "only compare the two databases, table by table; write nothing")
	timeout := fset.Duration("timeout", 2*time.Hour, "give up after this long")
	fset.Usage = func() {
		fmt.Fprintln(fset.Output(), "usage: medisync-dbcopy -from DSN -to DSN [-migrations DIR] [-per-table] [-verify-only]")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		return err
	}
	// DSNs carry passwords: the environment keeps them out of the process list.
	if *from == "" {
		*from = os.Getenv("MEDISYNC_DBCOPY_FROM")
	}
	if *to == "" {
		*to = os.Getenv("MEDISYNC_DBCOPY_TO")
	}
	if *from == "" || *to == "" {
		fset.Usage()
		return errors.New("-from and -to are required")
	}
	if *batch <= 0 {
		return errors.New("-batch must be positive")
	}
	var fsys fs.FS
	if *migrations != "" {
		var err error
		if fsys, err = migrationsFS(*migrations); err != nil {
			return err
		}
		if *verifyOnly {
			return errors.New("-migrations and -verify-only do not go together")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	src, err := sqldb.Open(ctx, *from)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	dst, err := sqldb.Open(ctx, *to)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	if src.Dialect == sqldb.Postgres && !*verifyOnly {
		fmt.Fprintln(stderr, "medisync-dbcopy: the source is PostgreSQL too; copying anyway")
	}

	var rep dbcopy.Report
	if *verifyOnly {
		rep, err = dbcopy.Verify(ctx, src, dst)
		if err == nil && !rep.OK() {
			err = dbcopy.ErrMismatch
		}
	} else {
		start := time.Now()
		rep, err = dbcopy.Copy(ctx, src, dst, dbcopy.Options{
			Migrations: fsys, BatchRows: *batch, PerTable: *perTable,
			Progress: func(table string, rows int64) {
				fmt.Fprintf(stderr, "copied %-32s %9d rows  (%s)\n", table, rows, time.Since(start).Round(time.Millisecond))
			},
		})
	}
	if len(rep.Tables) > 0 {
		if perr := rep.Print(stdout); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return err
	}
	if *verifyOnly {
		fmt.Fprintf(stdout, "verified: %d tables agree\n", len(rep.Tables))
	} else {
		fmt.Fprintf(stdout, "copied and verified: %d tables agree\n", len(rep.Tables))
	}
	return nil
}

// migrationsFS accepts the service's migrations folder (with a postgres/
// folder inside) or the postgres/ folder itself.
func migrationsFS(dir string) (fs.FS, error) {
	if info, err := os.Stat(filepath.Join(dir, "postgres")); err == nil && info.IsDir() {
		return os.DirFS(dir), nil
	}
	sqls, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	if len(sqls) == 0 {
		return nil, fmt.Errorf("-migrations %s holds neither a postgres/ folder nor .sql files", dir)
	}
	return postgresFolder{os.DirFS(dir)}, nil
}

// postgresFolder shows a folder of PostgreSQL migrations as the postgres/
// folder sqldb.Migrate looks for.
type postgresFolder struct{ fs.FS }

func (p postgresFolder) Open(name string) (fs.File, error) {
	if name == "postgres" {
		return p.FS.Open(".")
	}
	if rest, ok := strings.CutPrefix(name, "postgres/"); ok {
		return p.FS.Open(rest)
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
