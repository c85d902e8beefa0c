package sqldb

import (
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
)

// The server's refusal of a COMMIT means it was not applied; its word that
// it ended the session (killed, shutting down) does not, as it may come
// after the commit, so such a failure stays of unknown outcome.
func TestAServerEndingTheSessionLeavesTheCommitUnknown(t *testing.T) {
	for name, err := range map[string]error{
		"postgres shutting down":   &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"},
		"postgres crash shutdown":  &pgconn.PgError{Code: "57P02", Message: "terminating connection because of crash of another server process"},
		"postgres connection lost": &pgconn.PgError{Code: "08006", Message: "connection failure"},
		"mariadb session killed":   &mysql.MySQLError{Number: 1927, SQLState: [5]byte{'7', '0', '1', '0', '0'}, Message: "Connection was killed"},
		"mariadb shutting down":    &mysql.MySQLError{Number: 1053, SQLState: [5]byte{'0', '8', 'S', '0', '1'}, Message: "Server shutdown in progress"},
	} {
		assert.False(t, notApplied(fmt.Errorf("commit: %w", err)), name)
	}
	for name, err := range map[string]error{
		"postgres deferred constraint":  &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"},
		"postgres serialization":        &pgconn.PgError{Code: "40001", Message: "could not serialize access"},
		"mariadb refusal during commit": &mysql.MySQLError{Number: 1213, SQLState: [5]byte{'4', '0', '0', '0', '1'}, Message: "Deadlock found when trying to get lock"},
	} {
		assert.True(t, notApplied(fmt.Errorf("commit: %w", err)), name)
	}
}
