package sqlstore_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A start cut short inside a MySQL migration leaves its first statements
// applied (MariaDB commits DDL as it goes): the next start runs it again.
func TestMySQLMigrationsCanRunAgainOverThemselves(t *testing.T) {
	sqltest.MySQLMigrationsRunAgain(t, sqlstore.Migrations())
}

// 00011 adds a column, then fills it for every refresh token: a start
// stopped during the fill (its start budget spent on a large table) leaves
// the column added and the version unrecorded, and the next start goes on.
func TestInterruptedSessionStartMigrationResumesOnMariaDB(t *testing.T) {
	ctx := context.Background()
	db := sqltest.MySQL(t, nil)
	sub, err := fs.Sub(sqlstore.Migrations(), "mysql")
	require.NoError(t, err)
	p, err := goose.NewProvider(goose.DialectMySQL, db.DB, sub)
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 10)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "ALTER TABLE refresh_tokens ADD COLUMN session_started_at DATETIME(6) NULL")
	require.NoError(t, err)

	require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()), "the next start migrates")
}
