package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
)

// readCommitted opens every MySQL connection at READ COMMITTED, the level
// PostgreSQL runs at by default, so that the stores see the same isolation
// on both servers and a transaction that wants it needs no SET TRANSACTION
// round trip of its own (docs/adr/0043-read-committed-sessions.md).
type readCommitted struct{ driver.Connector }

const setReadCommitted = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"

func (c readCommitted) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	execer, ok := conn.(driver.ExecerContext)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("mysql connection cannot execute statements")
	}
	if _, err := execer.ExecContext(ctx, setReadCommitted, nil); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("set session isolation: %w", err)
	}
	// The connection as it came, with no wrapper of its own: database/sql
	// keeps finding every interface it implements.
	return conn, nil
}
