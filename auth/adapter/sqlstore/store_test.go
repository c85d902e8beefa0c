package sqlstore_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/service/servicetest"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/auth/signing/signingtest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestStoreContract(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		servicetest.RunStoreContract(t, func(*testing.T) service.Store { return sqlstore.New(db) })
	})
}

func TestKeysContract(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		signingtest.RunRepositoryContract(t, func(*testing.T) signing.Repository { return sqlstore.NewKeys(db) })
	})
}

// The service serves with a role that may read and write rows and nothing
// more: every repository works within those rights (the revocation feed's
// lock row and identity included).
func TestStoreContractAsRuntimeRole(t *testing.T) {
	for name, open := range map[string]func(testing.TB, fs.FS) (*sqldb.DB, *sqldb.DB){
		"mysql":    sqltest.MySQLWithRuntimeUser,
		"postgres": sqltest.PostgresWithRuntimeUser,
	} {
		t.Run(name, func(t *testing.T) {
			_, runtime := open(t, sqlstore.Migrations())
			servicetest.RunStoreContract(t, func(*testing.T) service.Store { return sqlstore.New(runtime) })
			signingtest.RunRepositoryContract(t, func(*testing.T) signing.Repository { return sqlstore.NewKeys(runtime) })
		})
	}
}

// On PostgreSQL the schema itself holds emails to their normalized form and
// compares them without regard to case (citext).
func TestPostgresEmails(t *testing.T) {
	ctx := context.Background()
	db := sqltest.Postgres(t, sqlstore.Migrations())
	insert := func(id, email string) error {
		_, err := db.ExecContext(ctx, `INSERT INTO users (id, email, full_name, password_hash, disabled, version, created_at, updated_at)
			VALUES (?, ?, 'Zoë', 'x', false, 1, now(), now())`, id, email)
		return err
	}
	require.NoError(t, insert(ids.New(), "zoe@example.org"))
	err := insert(ids.New(), "Zoe@Example.org")
	require.Error(t, err, "a stored email is lower case")
	assert.False(t, sqldb.IsUniqueViolation(err), "refused by the check, before uniqueness: %v", err)

	// Past the check (as if it were dropped), citext still sees one address.
	_, err = db.ExecContext(ctx, `ALTER TABLE users DROP CONSTRAINT users_email_normalized`)
	require.NoError(t, err)
	assert.True(t, sqldb.IsUniqueViolation(insert(ids.New(), "ZOE@example.org")))
	var n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE email = ?`, "Zoe@EXAMPLE.org").Scan(&n))
	assert.Equal(t, 1, n)
}
