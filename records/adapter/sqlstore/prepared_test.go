package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// anonKB is the private (anonymous) memory of a local PostgreSQL backend.
func anonKB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("backend not local: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssAnon:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Skip("no RssAnon")
	return 0
}

// On PostgreSQL pgx's default exec mode (cache_statement) would prepare
// every text run through db.ExecContext: the audit batcher's multi-row
// INSERT of n rows (1..256) would leave one server-side statement per size
// on each pooled connection (32, for up to 30 min), each holding its parse
// and query trees: some 170 MB per connection.
func TestAuditBatchesLeaveNoStatementPerSizeOnPostgres(t *testing.T) {
	db := sqltest.Postgres(t, sqlstore.Migrations())
	db.SetMaxOpenConns(1)
	ctx, pid := context.Background(), ids.New()
	var backend int
	if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	before := anonKB(t, backend)
	s := sqlstore.New(db)
	defer s.Close()
	for n := 1; n <= 256; n++ {
		evs := make([]record.AuditEvent, n)
		for i := range evs {
			evs[i] = ev(pid)
		}
		if err := s.AppendAudit(ctx, evs...); err != nil {
			t.Fatal(err)
		}
	}
	var stmts int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO audit_events%'").Scan(&stmts); err != nil {
		t.Fatal(err)
	}
	grown := (anonKB(t, backend) - before) / 1024
	t.Logf("one connection: %d audit INSERT statements prepared, backend private memory +%d MB", stmts, grown)
	if stmts > 8 || grown > 32 {
		t.Errorf("audit batches of 1..256 rows left %d prepared INSERTs and +%d MB on ONE PostgreSQL connection (x32 pooled connections); want a handful and a few MB", stmts, grown)
	}
}
