package sqlstore_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// mysqlUpTo is the service's MySQL migrations up to version max.
func mysqlUpTo(t *testing.T, max string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(sqlstore.Migrations(), "mysql")
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() > max {
			continue
		}
		b, err := fs.ReadFile(sqlstore.Migrations(), "mysql/"+e.Name())
		require.NoError(t, err)
		out["mysql/"+e.Name()] = &fstest.MapFile{Data: b}
	}
	return out
}

// upStatements are the statements of a migration's Up section.
func upStatements(t *testing.T, name string) []string {
	t.Helper()
	b, err := fs.ReadFile(sqlstore.Migrations(), "mysql/"+name)
	require.NoError(t, err)
	up, _, _ := strings.Cut(string(b), "-- +goose Down")
	var out []string
	for _, s := range strings.Split(up, ";\n") {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		if q := strings.TrimSpace(strings.Join(lines, "\n")); q != "" {
			out = append(out, q)
		}
	}
	return out
}

// On a database created as the deployment documents say (utf8mb4,
// utf8mb4_unicode_ci: docker/mariadb-init.sql, scripts/mariadb-up.sh),
// nothing needs converting, and 00003 rebuilds no table: a copy row by row
// (a change of type, TEXT to MEDIUMTEXT, would make one) holds writes back
// for as long as the tables are big, and a start has 30 s to migrate.
func TestUTF8MB4MigrationCopiesNoTableOfAUTF8MB4Database(t *testing.T) {
	ctx := context.Background()
	dsn := sqltest.MySQLDSN(t, mysqlUpTo(t, "00002_reminder_withdrawal.sql"))
	db, err := sqldb.Open(ctx, dsn)
	require.NoError(t, err)
	defer db.Close()
	now := time.Now().UTC()
	for range 200 {
		_, err := db.ExecContext(ctx, `INSERT INTO notifications (id, user_id, kind, title, body, created_at) VALUES (?, ?, 'k', 't', 'b', ?)`, ids.New(), ids.New(), now)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO deliveries (id, kind, recipient, subject, body_text, body_html, status, next_attempt_at, created_at, updated_at)
			VALUES (?, 'k', 'r@example.org', 's', '', '', 'sent', ?, ?, ?)`, ids.New(), now, now, now)
		require.NoError(t, err)
	}
	copied := map[string]int64{}
	for _, q := range upStatements(t, "00003_utf8mb4.sql") {
		res, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		if n > 0 {
			copied[strings.Fields(q)[2]] = n
		}
	}
	assert.Empty(t, copied, "tables 00003 rebuilt row by row on a database already in utf8mb4_unicode_ci")
}
