package sqldb

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// lateClose is the socket boundTx closes when its context ends, whose
// close is late: the goroutine context.AfterFunc starts for it is
// scheduled late, as on a busy process.
type lateClose struct {
	net.Conn
	late time.Duration
}

func (c *lateClose) Close() error {
	time.Sleep(c.late)
	return c.Conn.Close()
}

// hookWrite is the driver's socket, which calls once its hook when a
// statement is written, before the answer comes back.
type hookWrite struct {
	net.Conn
	mu   sync.Mutex
	stmt []byte
	hook func()
}

func (c *hookWrite) on(stmt string, hook func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stmt, c.hook = []byte(stmt), hook
}

func (c *hookWrite) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	var hook func()
	if c.hook != nil && bytes.Contains(b, c.stmt) {
		hook, c.hook = c.hook, nil
	}
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return n, err
}

// openHooked opens MySQL as openMySQL does (boundConnector under
// readCommitted), one connection at most, whose socket closes late and
// calls a hook on a statement written.
func openHooked(t *testing.T) (*sql.DB, *hookWrite) {
	t.Helper()
	server := os.Getenv("MEDISYNC_TEST_MYSQL_DSN")
	if server == "" {
		server = "medisync:medisync@tcp(127.0.0.1:3306)/"
	}
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReadTimeout, cfg.WriteTimeout = 30*time.Second, 30*time.Second
	var hook *hookWrite
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialKeepingSocket(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if slot, ok := ctx.Value(socketKey{}).(*net.Conn); ok {
			*slot = &lateClose{Conn: c, late: 200 * time.Millisecond}
		}
		hook = &hookWrite{Conn: c}
		return hook, nil
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(readCommitted{boundConnector{connector}})
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	if err := db.PingContext(context.Background()); err != nil {
		t.Skipf("no MariaDB: %v", err)
	}
	return db, hook
}

// A transaction whose context ends once its COMMIT or ROLLBACK is out, and
// whose answer comes back before the socket's close runs, leaves no close
// to land on the next user of its connection: a query of another request,
// whose context never ended, runs.
func TestTransactionEndingAsItsContextEndsLeavesTheNextUserAlone(t *testing.T) {
	for stmt, end := range map[string]func(*sql.Tx) error{
		"COMMIT":   (*sql.Tx).Commit,
		"ROLLBACK": (*sql.Tx).Rollback,
	} {
		t.Run(stmt, func(t *testing.T) {
			db, hook := openHooked(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var one int
			if err := tx.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
				t.Fatal(err)
			}
			hook.on("\x03"+stmt, cancel) // the deadline passes once the statement is out
			t.Logf("%s: %v", stmt, end(tx))

			var v int
			if err := db.QueryRowContext(context.Background(), "SELECT SLEEP(0.5)").Scan(&v); err != nil {
				t.Fatalf("a query of another request, whose context never ended, failed on the connection "+
					"the transaction's late close cut: %v", err)
			}
		})
	}
}

// A COMMIT whose transaction's context has already ended is never sent, as
// with pgx: Commit reads an ended context as a COMMIT that did not go out,
// and database/sql, which checks a child of that context, can let one
// through in the moment between the parent's end and its child's.
func TestACommitWhoseContextHasEndedIsNeverSent(t *testing.T) {
	db, hook := openHooked(t)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var sent atomic.Bool
	hook.on("\x03COMMIT", func() { sent.Store(true) })
	err = conn.Raw(func(dc any) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tx, err := dc.(driver.ConnBeginTx).BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return err
		}
		cancel()
		if err := tx.Commit(); !errors.Is(err, context.Canceled) {
			t.Errorf("commit after the context ended: %v, want context.Canceled", err)
		}
		return tx.Rollback()
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent.Load() {
		t.Error("a COMMIT was sent after its context ended")
	}
}
