package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// Transactions whose contexts end around their COMMIT and ROLLBACK share a
// small pool with queries whose contexts never end: those queries never
// fail, whatever connection a transaction gave up.
func TestQueriesSharingThePoolWithTransactionsCutByTheirContextNeverFail(t *testing.T) {
	db := sqltest.MySQL(t, migrations)
	db.SetMaxOpenConns(3)
	stop := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	var failed, txs atomic.Int64
	var firstErr atomic.Value
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(i)))
			for n := 0; time.Now().Before(stop); n++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.Intn(3000))*time.Microsecond)
				_ = db.InTx(ctx, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", fmt.Sprint(i, "-", n), "s", time.Now())
					return err
				})
				cancel()
				txs.Add(1)
			}
		}(i)
	}
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				var v int
				if err := db.QueryRowContext(context.Background(), "SELECT 1").Scan(&v); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("transactions: %d", txs.Load())
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d queries whose context never ended failed, first: %v", n, firstErr.Load())
	}
}

// A request that ends between the statements of its transaction (a client
// gone, a deadline passed while another dependency answered) has its
// transaction rolled back by a ROLLBACK and its connection kept: no socket
// cut, which the server counts as an aborted client (and MariaDB logs as
// "Aborted connection"), and no new connection dialed.
func TestContextEndingBetweenStatementsKeepsTheConnection(t *testing.T) {
	db := sqltest.MySQL(t, migrations)
	bg := context.Background()
	status := func() (aborted int) {
		var name string
		require.NoError(t, db.QueryRowContext(bg, "SHOW GLOBAL STATUS LIKE 'Aborted_clients'").Scan(&name, &aborted))
		return aborted
	}
	var before int
	require.NoError(t, db.QueryRowContext(bg, "SELECT CONNECTION_ID()").Scan(&before))
	abortedBefore := status()
	const n = 20
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithCancel(bg)
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES (?, ?, ?)", i, i, time.Now())
		require.NoError(t, err)
		cancel()
		require.Eventually(t, func() bool { return db.Stats().InUse == 0 }, time.Second, time.Millisecond)
	}
	aborted := status() - abortedBefore
	var after int
	require.NoError(t, db.QueryRowContext(bg, "SELECT CONNECTION_ID()").Scan(&after))
	t.Logf("connection id before %d, after %d; aborted clients +%d", before, after, aborted)
	require.Less(t, aborted, n/2, "each transaction ended by its context aborted its connection")
}
