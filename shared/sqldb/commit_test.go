package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// proxiedServers open a fresh database of each real server through a
// fault-injecting proxy, with the statement that commits on its protocol.
var proxiedServers = map[string]func(t *testing.T) (*sqldb.DB, *sqltest.Proxy, []byte){
	"mysql": func(t *testing.T) (*sqldb.DB, *sqltest.Proxy, []byte) {
		dsn := sqltest.MySQLDSN(t, migrations)
		addr := dsn[strings.Index(dsn, "tcp(")+4 : strings.Index(dsn, ")/")]
		proxy := sqltest.NewProxy(t, addr)
		return openVia(t, strings.Replace(dsn, addr, proxy.Addr(), 1)), proxy, sqltest.MySQLCommit
	},
	"postgres": func(t *testing.T) (*sqldb.DB, *sqltest.Proxy, []byte) {
		dsn := sqltest.PostgresDSN(t, migrations)
		proxy := sqltest.NewProxy(t, sqltest.PostgresAddr(dsn))
		return openVia(t, sqltest.PostgresVia(dsn, proxy.Addr())), proxy, sqltest.PostgresCommit
	},
}

func openVia(t *testing.T, dsn string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func insertItem(id string) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.ExecContext(context.Background(), "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", id, id, time.Now())
		return err
	}
}

// A commit the server applied but whose answer was lost is an error that
// says its outcome is unknown, a fault that passes (503); the row is there.
func TestCommitWhoseAnswerIsLostIsOfUnknownOutcome(t *testing.T) {
	for name, open := range proxiedServers {
		t.Run(name, func(t *testing.T) {
			db, proxy, commit := open(t)
			ctx := context.Background()
			proxy.LoseAnswerTo(commit)
			err := db.InTx(ctx, insertItem("lost"))
			require.Error(t, err)
			t.Logf("commit whose answer was lost: %v", err)
			assert.ErrorIs(t, err, domainerr.ErrOutcomeUnknown)
			assert.True(t, domainerr.Transient(err), "%v", err)
			assert.Equal(t, 503, problem.From(err).Status)

			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM items WHERE id = 'lost'").Scan(&n))
			assert.Equal(t, 1, n, "the server committed")
		})
	}
}

// A commit the server refused, or one never sent, was not applied: its
// error says nothing of an unknown outcome.
func TestCommitRefusedIsNotOfUnknownOutcome(t *testing.T) {
	t.Run("postgres deferred constraint", func(t *testing.T) {
		db := sqltest.Postgres(t, migrations)
		ctx := context.Background()
		_, err := db.ExecContext(ctx, "CREATE TABLE pairs (a INT, CONSTRAINT pairs_a UNIQUE (a) DEFERRABLE INITIALLY DEFERRED)")
		require.NoError(t, err)
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO pairs (a) VALUES (1), (1)")
			return err
		})
		require.Error(t, err)
		assert.True(t, sqldb.IsUniqueViolation(err), "%v", err)
		assert.NotErrorIs(t, err, domainerr.ErrOutcomeUnknown)
	})
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, insertItem("ended")(tx))
		cancel() // the transaction's context ends before its commit
		err = sqldb.Commit(ctx, tx)
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.Canceled) || errors.Is(err, sql.ErrTxDone), "%v", err)
		assert.NotErrorIs(t, err, domainerr.ErrOutcomeUnknown)
	})
}

// A server that hangs at a transaction's COMMIT or ROLLBACK holds it only
// until the context it began with ends, on every server: MySQL's driver,
// left alone, waits out its 30 s read timeout. The commit's outcome is
// unknown, a fault that passes; the connection is given up and the next
// transaction runs.
func TestTransactionEndsWithItsContextWhenTheServerHangs(t *testing.T) {
	rollbacks := map[string][]byte{"mysql": []byte("\x03ROLLBACK"), "postgres": []byte("rollback\x00")}
	for name, open := range proxiedServers {
		t.Run(name, func(t *testing.T) {
			db, proxy, commit := open(t)
			const bound = 500 * time.Millisecond
			inTx := func(stmt []byte, fn func(tx *sql.Tx) error) (time.Duration, error) {
				ctx, cancel := context.WithTimeout(context.Background(), bound)
				defer cancel()
				proxy.HangAt(stmt)
				start := time.Now()
				err := db.InTx(ctx, fn)
				return time.Since(start), err
			}

			took, err := inTx(commit, insertItem("hung"))
			t.Logf("commit hung: %v after %s", err, took)
			assert.Less(t, took, bound+time.Second)
			assert.ErrorIs(t, err, domainerr.ErrOutcomeUnknown)
			assert.Equal(t, 503, problem.From(err).Status)

			refused := errors.New("refused")
			took, err = inTx(rollbacks[name], func(tx *sql.Tx) error { return refused })
			t.Logf("rollback hung: %v after %s", err, took)
			assert.Less(t, took, bound+time.Second)
			assert.ErrorIs(t, err, refused)

			require.NoError(t, proxy.Up())
			assert.Eventually(t, func() bool { return db.Stats().InUse == 0 }, time.Second, 10*time.Millisecond)
			require.NoError(t, db.InTx(context.Background(), insertItem("after")))
		})
	}
}

// A PostgreSQL COMMIT that went out and whose context is then canceled (the
// client of the request went away) may well be applied: here the server
// takes a second to commit (a deferred trigger) and applies it. pgx reports
// the cut read by a bare context.Canceled, the error database/sql gives for
// a commit it never sent; the commit's outcome is unknown all the same.
func TestPostgresCommitCanceledAfterItWentOutIsOfUnknownOutcome(t *testing.T) {
	db := sqltest.Postgres(t, migrations)
	bg := context.Background()
	for _, stmt := range []string{
		// pgx sends a cancel request as it gives the connection up; one that
		// comes past the commit's point of no return (its WAL flush, a wait
		// for a synchronous standby) stops nothing: the trigger plays that.
		`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			BEGIN PERFORM pg_sleep(1); EXCEPTION WHEN query_canceled THEN PERFORM pg_sleep(0.2); END;
			RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON items DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`,
	} {
		_, err := db.ExecContext(bg, stmt)
		require.NoError(t, err)
	}

	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES ('c', 'c', ?)", time.Now())
		// The client goes away while the COMMIT runs, however slow the
		// machine was to get here.
		time.AfterFunc(200*time.Millisecond, cancel)
		return err
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, domainerr.ErrOutcomeUnknown, "a commit canceled after it went out is reported as not applied: %v", err)

	// The server may finish the commit or heed the cancel: either way the
	// outcome was unknown when Commit answered.
	time.Sleep(1500 * time.Millisecond)
	var n int
	require.NoError(t, db.QueryRowContext(bg, "SELECT COUNT(*) FROM items WHERE id = 'c'").Scan(&n))
	t.Logf("rows the server committed: %d", n)
}
