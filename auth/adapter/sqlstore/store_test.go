package sqlstore_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/service/servicetest"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/auth/signing/signingtest"
	"github.com/medisync/medisync/shared/events"
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

// AfterEvents runs after a commit that wrote events, and only then.
func TestAfterEventsFollowsCommitsThatWroteEvents(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		calls := 0
		s.AfterEvents(func() { calls++ })
		ev := func() events.Event {
			e, err := events.New("auth.user_registered", 1, ids.New(), map[string]string{}, time.Now())
			require.NoError(t, err)
			return e
		}
		require.NoError(t, s.InTx(ctx, func(tx service.Store) error {
			require.NoError(t, tx.Outbox().Write(ctx, ev()))
			assert.Zero(t, calls, "not before the commit")
			return tx.Outbox().Write(ctx, ev())
		}))
		assert.Equal(t, 1, calls, "once per commit")
		require.Error(t, s.InTx(ctx, func(tx service.Store) error {
			require.NoError(t, tx.Outbox().Write(ctx, ev()))
			return errors.New("rolled back")
		}))
		assert.Equal(t, 1, calls, "a rollback wrote nothing")
		require.NoError(t, s.InTx(ctx, func(service.Store) error { return nil }))
		assert.Equal(t, 1, calls, "no events, no call")
		require.NoError(t, s.Outbox().Write(ctx, ev()))
		assert.Equal(t, 2, calls, "a write outside a transaction commits at once")
	})
}
