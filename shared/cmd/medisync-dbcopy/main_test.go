package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

const testMigrations = "../../sqldb/testdata/migrations"

func TestCopyThenVerifyFromTheCommandLine(t *testing.T) {
	ctx := context.Background()
	src := sqltest.SQLite(t, os.DirFS(testMigrations))
	_, err := src.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES ('a', 'Ünïcode', ?), ('b', 'plain', ?)", time.Now(), time.Now())
	require.NoError(t, err)
	_, err = src.ExecContext(ctx, "INSERT INTO links (id, item_id) VALUES ('l', 'b')")
	require.NoError(t, err)
	var path string
	require.NoError(t, src.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path))
	from := "sqlite:" + path
	to := sqltest.PostgresDSN(t, nil)

	// The postgres/ folder itself, as an operator points at it on disk.
	var out, errOut strings.Builder
	err = run(ctx, []string{"-from", from, "-to", to, "-migrations", filepath.Join(testMigrations, "postgres")}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	assert.Contains(t, out.String(), "copied and verified: 2 tables agree")
	assert.Contains(t, errOut.String(), "copied items")

	out.Reset()
	t.Setenv("MEDISYNC_DBCOPY_FROM", from)
	t.Setenv("MEDISYNC_DBCOPY_TO", to)
	require.NoError(t, run(ctx, []string{"-verify-only"}, &out, &errOut))
	assert.Contains(t, out.String(), "verified: 2 tables agree")

	// A second copy into the now filled target is refused, and says why.
	out.Reset()
	err = run(ctx, []string{"-from", from, "-to", to}, &out, &errOut)
	require.ErrorIs(t, err, dbcopy.ErrTargetNotEmpty)
	err = run(ctx, []string{"-from", from, "-to", to, "-migrations", testMigrations}, &out, &errOut)
	require.ErrorIs(t, err, dbcopy.ErrTargetNotEmpty)
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-from", "sqlite:x.db"},
		{"-from", "sqlite:x.db", "-to", "postgres://h/db", "-migrations", t.TempDir()},
		{"-from", "sqlite:x.db", "-to", "postgres://h/db", "-batch", "0"},
	} {
		var out, errOut strings.Builder
		t.Setenv("MEDISYNC_DBCOPY_FROM", "")
		t.Setenv("MEDISYNC_DBCOPY_TO", "")
		assert.Error(t, run(context.Background(), args, &out, &errOut), args)
	}
}
