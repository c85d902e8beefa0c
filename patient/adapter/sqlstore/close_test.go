package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// Shutdown closes the store after the requests drain (patient's
// closers: recorder.Close, store.Close, then the database). With
// PostgreSQL hung, closing the store must not wait for the server: pgx
// waits a fixed 5 s for each statement's deallocation, one pooled
// connection after another, whatever the shutdown's deadline, so that a
// pool of idle connections made the shutdown take 5 s per connection.
func TestCloseWithPostgresHungIsBounded(t *testing.T) {
	dsn := sqltest.PostgresDSN(t, sqlstore.Migrations())
	proxy := sqltest.NewProxy(t, sqltest.PostgresAddr(dsn))
	db, err := sqldb.Open(context.Background(), sqltest.PostgresVia(dsn, proxy.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := sqlstore.New(db)
	// Traffic leaves several pooled connections with the statement prepared.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := store.PatientByID(context.Background(), ids.New()); err != nil && !errors.Is(err, patient.ErrNotFound) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("idle connections: %d", db.Stats().Idle)

	proxy.Hang()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- store.Close() }()
	select {
	case <-done:
		t.Logf("store.Close took %s", time.Since(start))
		if took := time.Since(start); took > 6*time.Second {
			t.Fatalf("closing the store with PostgreSQL hung took %s (%d idle connections)", took.Round(100*time.Millisecond), 8)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("closing the store with PostgreSQL hung did not end within 90s")
	}
}
