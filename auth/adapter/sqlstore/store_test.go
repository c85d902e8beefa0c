package sqlstore_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/service/servicetest"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/auth/signing/signingtest"
	"github.com/medisync/medisync/shared/authn"
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

// Refresh tokens stored before sessions kept their start count their
// session from the migration that brought it: it runs -session-max-age
// from then, not from a login nobody recorded.
func TestSessionStartMigrationStartsTheOpenSessionsAtItsTime(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := sqlstore.New(db)
		u := account.User{ID: ids.New(), Email: "pat@example.org", FullName: "Pat", PasswordHash: "x",
			Roles: []string{authn.RolePatient}, Version: 1, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		require.NoError(t, st.Users().Create(ctx, u))
		_, err := db.ExecContext(ctx, "ALTER TABLE refresh_tokens DROP COLUMN session_started_at")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id >= 11")
		require.NoError(t, err)
		issued := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second)
		hash := service.HashToken(ids.New())
		_, err = db.ExecContext(ctx, `INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, issued_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, ids.New(), hash, ids.New(), u.ID, issued, issued.Add(7*24*time.Hour))
		require.NoError(t, err)

		before := time.Now().Add(-time.Second)
		require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
		after := time.Now().Add(time.Second)
		got, err := st.RefreshTokens().ByHash(ctx, hash)
		require.NoError(t, err)
		assert.True(t, !got.SessionStartedAt.Before(before) && !got.SessionStartedAt.After(after),
			"session started at %v, not at the migration (%v to %v)", got.SessionStartedAt, before, after)
		assert.Equal(t, issued, got.IssuedAt)
	})
}

// On a MariaDB database created with latin1 as its default, no column is
// left in latin1: the tables name their character set.
func TestSchemaDoesNotDependOnTheDatabaseCharset(t *testing.T) {
	db := sqltest.MySQLLatin1(t, sqlstore.Migrations())
	assert.Empty(t, sqltest.MySQLColumnsIn(t, db, "latin1"))
}

// During a rolling upgrade an instance of the previous release keeps
// running on the migrated database and stores refresh tokens without their
// session's start. Its logins and refreshes still succeed, and this
// release reads those tokens as starting their session at their issue.
func TestRefreshTokensStoredWithoutTheSessionStartAreRead(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st := sqlstore.New(db)
		u := account.User{ID: ids.New(), Email: "pat@example.org", FullName: "Pat", PasswordHash: "x",
			Roles: []string{authn.RolePatient}, Version: 1, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		require.NoError(t, st.Users().Create(ctx, u))

		now := time.Now().UTC().Truncate(time.Microsecond)
		hash := service.HashToken(ids.New())
		// The previous release's statement, verbatim.
		_, err := db.ExecContext(ctx, `INSERT INTO refresh_tokens
		(id, token_hash, family_id, user_id, issued_at, expires_at, used_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ids.New(), hash, ids.New(), u.ID, now, now.Add(7*24*time.Hour), nil, nil)
		require.NoError(t, err, "the previous release stores a refresh token")

		got, err := st.RefreshTokens().ByHash(ctx, hash)
		require.NoError(t, err, "this release reads it")
		assert.True(t, got.SessionStartedAt.IsZero())
		assert.Equal(t, now, got.SessionStart(), "its session starts at its issue")
	})
}
