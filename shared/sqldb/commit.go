package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/medisync/medisync/shared/domainerr"
)

// Commit commits tx, begun with ctx. A failure that leaves unknown whether
// the database applied the transaction (the COMMIT was sent and no answer
// came back) has domainerr.ErrOutcomeUnknown in its chain, so that a
// caller undoes nothing a committed row may name; any other failure means
// it was not applied.
func Commit(ctx context.Context, tx *sql.Tx) error {
	// database/sql sends no COMMIT for a transaction whose context has
	// ended. Whether it had ended is asked before, not read from the error:
	// pgx reports a COMMIT it sent and then gave up on, when the context
	// ends while it waits for the answer, by the very same bare
	// context.Canceled. A context that ends just after this is taken for
	// one that ended during the COMMIT: unknown, the safe side.
	ended := ctx.Err() != nil
	err := tx.Commit()
	if err == nil {
		return nil
	}
	if ended || notApplied(err) {
		return fmt.Errorf("commit: %w", err)
	}
	return fmt.Errorf("commit: %w: %w", domainerr.ErrOutcomeUnknown, err)
}

// notApplied reports whether err, from a commit attempted with a context
// still live, shows that the database did not apply the transaction: the
// server answered with a refusal, or nothing was sent. Anything else (a
// connection broken or cut when the context ended, after the COMMIT went
// out) may have been applied.
func notApplied(err error) bool {
	// database/sql sends nothing for a transaction already ended.
	if errors.Is(err, sql.ErrTxDone) {
		return true
	}
	// A driver answers driver.ErrBadConn only when nothing reached the
	// server (its contract, so that database/sql may retry), pgconn says
	// so of its errors by SafeToRetry, and pgx reports a COMMIT that the
	// server answered with ROLLBACK.
	if errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err) || errors.Is(err, pgx.ErrTxCommitRollback) ||
		errors.Is(err, pgx.ErrTxClosed) {
		return true
	}
	// The server's own refusal (a deferred constraint, a serialization
	// failure at commit, a MariaDB error during COMMIT), but not its word
	// that it ended the session (killed, shutting down), which may come
	// after the commit; SQLite's commit is in the process, and it fails
	// whole.
	var me *mysql.MySQLError
	var pe *pgconn.PgError
	var se *sqlite.Error
	return (errors.As(err, &me) || errors.As(err, &pe) || errors.As(err, &se)) && !domainerr.Unreachable(err)
}
