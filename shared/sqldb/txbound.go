package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// MySQL's driver sends a transaction's COMMIT and ROLLBACK without a
// context (database/sql gives it none) and waits for the answer up to its
// read timeout, 30 s: a server that hangs there (a stalled disk, a stopped
// process, a network that drops the answer) held the request past its
// deadline and the gateway's. The driver leaves the commit uncut because
// only the server knows the outcome of a cut one; sqldb cuts it and says
// so. A transaction's COMMIT and ROLLBACK end with the context it began
// with, as pgx's do: when that context ends first, the connection's
// socket is closed, the driver's read fails at once, it gives the
// connection up and database/sql opens another; the server rolls back
// what it had not committed. The commit's error then says its outcome is
// unknown (Commit). A transaction whose context had already ended before
// its ROLLBACK (between statements, the common case) is given endGrace
// instead, so that a server that answers keeps its connection.

// boundConnector opens MySQL connections whose transactions end with
// their context. Its dialer keeps the socket of the connection being
// opened, through the context the driver passes it.
type boundConnector struct{ driver.Connector }

type socketKey struct{}

// dialKeepingSocket dials as the driver does and hands the socket to the
// Connect that asked for it.
func dialKeepingSocket(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if slot, ok := ctx.Value(socketKey{}).(*net.Conn); ok {
		*slot = c
	}
	return c, nil
}

func (c boundConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var sock net.Conn
	conn, err := c.Connector.Connect(context.WithValue(ctx, socketKey{}, &sock))
	if err != nil {
		return nil, err
	}
	mc, ok := conn.(mysqlConn)
	if !ok || sock == nil {
		_ = conn.Close()
		return nil, errors.New("mysql connection lacks what sqldb bounds its transactions with")
	}
	return &boundConn{mysqlConn: mc, sock: sock}, nil
}

// mysqlConn is every interface of the driver's connection that
// database/sql looks for, so that the wrapper keeps them all.
type mysqlConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// boundConn is the driver's connection with its socket. Once sqldb has
// closed the socket it is dead: the driver cannot tell until it next
// reads, so the pool is told here, and discards it rather than hand it to
// another user.
type boundConn struct {
	mysqlConn
	sock net.Conn
	dead atomic.Bool
}

func (c *boundConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.mysqlConn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &boundTx{tx: tx, ctx: ctx, conn: c}, nil
}

func (c *boundConn) IsValid() bool { return !c.dead.Load() && c.mysqlConn.IsValid() }

func (c *boundConn) ResetSession(ctx context.Context) error {
	if c.dead.Load() {
		return driver.ErrBadConn
	}
	return c.mysqlConn.ResetSession(ctx)
}

// kill closes the socket, the connection dead first.
func (c *boundConn) kill() {
	c.dead.Store(true)
	_ = c.sock.Close()
}

// boundTx is a transaction whose end is bounded by ctx, the one it began
// with.
type boundTx struct {
	tx   driver.Tx
	ctx  context.Context
	conn *boundConn
}

// endGrace bounds a ROLLBACK whose transaction's context had already ended
// (database/sql rolls back a transaction whose context ends between
// statements): a healthy server answers well within it, and the connection
// is kept instead of cut.
const endGrace = time.Second

func (t *boundTx) Commit() error   { return t.end("COMMIT", t.tx.Commit) }
func (t *boundTx) Rollback() error { return t.end("ROLLBACK", t.tx.Rollback) }

func (t *boundTx) end(stmt string, end func() error) error {
	bound := t.ctx
	if bound.Done() == nil { // a context that never ends
		return end()
	}
	if err := bound.Err(); err != nil {
		if stmt == "COMMIT" {
			// Never sent, as pgx does: Commit reads an ended context as
			// a COMMIT that did not go out, so none may.
			return err
		}
		var cancel context.CancelFunc
		bound, cancel = context.WithTimeout(context.WithoutCancel(t.ctx), endGrace)
		defer cancel()
	}
	closed := make(chan struct{})
	stop := context.AfterFunc(bound, func() {
		t.conn.kill()
		close(closed)
	})
	err := end()
	if stop() {
		return err
	}
	// The close has begun, in a goroutine of its own: it must be over
	// before the connection goes back to the pool, lest it land on the
	// statement of the connection's next user. The connection is dead,
	// and the pool discards it.
	<-closed
	if err == nil { // the answer came first
		return nil
	}
	// The socket was closed: the answer, if one came, came too late.
	return fmt.Errorf("%s got no answer before its context ended (%w): %w", stmt, bound.Err(), err)
}
