package sqldb_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// restartingPG stands in front of a real PostgreSQL: it pipes connections
// through until starting is set, then answers every new connection as a
// PostgreSQL that is starting up again (FATAL 57P03), the way a restarting
// server answers until its recovery ends.
type restartingPG struct {
	target   string
	ln       net.Listener
	starting atomic.Bool
	mu       sync.Mutex
	conns    []net.Conn
	clients  []net.Conn
}

func (p *restartingPG) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.starting.Load() {
			go startingUp(c)
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.clients = append(p.clients, c)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// restart ends every session (the server went down) and answers new ones
// as a server starting up.
func (p *restartingPG) restart() {
	p.starting.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	// A fast shutdown (pg_ctl's default, the image's SIGINT) tells every
	// session why before it closes it.
	for _, c := range p.clients {
		msg, _ := (&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01",
			Message: "terminating connection due to administrator command"}).Encode(nil)
		_, _ = c.Write(msg)
	}
	p.clients = nil
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func startingUp(c net.Conn) {
	defer c.Close()
	be := pgproto3.NewBackend(c, c)
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		if _, ok := msg.(*pgproto3.SSLRequest); ok {
			_, _ = c.Write([]byte("N"))
			continue
		}
		break
	}
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P03", Message: "the database system is starting up"})
	_ = be.Flush()
}

// A PostgreSQL restarting answers "the database system is starting up"
// (57P03) until it has recovered: a fault that passes. The broker's promise
// (ADR 0025, docs/events/README.md) is that such an event goes back to the
// broker, and the HTTP rule is a 503 with Retry-After.
func TestPostgresStartingUpIsTransient(t *testing.T) {
	dsn := sqltest.PostgresDSN(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	p := &restartingPG{target: sqltest.PostgresAddr(dsn), ln: ln}
	go p.serve()

	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqltest.PostgresVia(dsn, ln.Addr().String()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	var one int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT 1").Scan(&one))

	p.restart()
	// The first query finds its pooled session ended by the shutdown.
	err = db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	require.Error(t, err)
	t.Logf("error on a session the shutdown ended: %v", err)
	assert.True(t, domainerr.Transient(err), "a session ended by a restart is a fault that passes")
	// The next ones open new sessions while the server starts up.
	err = db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	require.Error(t, err)
	t.Logf("error while PostgreSQL starts up: %v", err)
	assert.True(t, domainerr.Transient(err), "a database starting up is a fault that passes: the broker must hand the event back, not dead-letter it")
	assert.Equal(t, 503, problem.From(err).Status, "a database starting up is a 503, not a 500")
}

// The same with the real server: pg_terminate_backend ends a session as a
// fast shutdown does (57P01).
func TestPostgresSessionEndedIsTransient(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	var pid int
	require.NoError(t, c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
	var ok bool
	require.NoError(t, db.QueryRowContext(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok))
	require.True(t, ok)
	var one int
	err = c.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	require.Error(t, err)
	t.Logf("error on the ended session: %v", err)
	assert.True(t, domainerr.Transient(err), "a session the server ended is a fault that passes")
	assert.Equal(t, 503, problem.From(err).Status)
}

// MariaDB ends the sessions as it shuts down; KILL does the same to one.
func TestMariaDBSessionKilledIsTransient(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqltest.MySQLDSN(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	var id int64
	require.NoError(t, c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id))
	errc := make(chan error, 1)
	go func() {
		var n int
		errc <- c.QueryRowContext(ctx, "SELECT SLEEP(5)").Scan(&n)
	}()
	time.Sleep(300 * time.Millisecond)
	_, err = db.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatInt(id, 10))
	require.NoError(t, err)
	err = <-errc
	require.Error(t, err)
	t.Logf("error of the killed session: %v", err)
	assert.True(t, domainerr.Transient(err), "a session the server ended is a fault that passes")
	assert.Equal(t, 503, problem.From(err).Status)
}
