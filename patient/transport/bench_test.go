package transport_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/seed"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// Benchmarks run against MariaDB holding MEDISYNC_BENCH_PATIENTS patients
// (default 100,000) in the database medisync_patient_bench, seeded once
// with a fixed seed and reused by later runs.

const benchSeed = 20260615

func benchPatients() int {
	if n, err := strconv.Atoi(os.Getenv("MEDISYNC_BENCH_PATIENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

func benchDB(b *testing.B) (*sqldb.DB, []patient.Patient) {
	b.Helper()
	ctx := context.Background()
	server := sqltest.MySQLServer()
	admin, err := sqldb.Open(ctx, "mysql://"+server+"?parseTime=true")
	if err != nil {
		b.Skipf("MariaDB does not answer (run scripts/mariadb-up.sh): %v", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS medisync_patient_bench CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		b.Fatal(err)
	}
	db, err := sqldb.Open(ctx, "mysql://"+server+"medisync_patient_bench?parseTime=true")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx, sqlstore.Migrations()); err != nil {
		b.Fatal(err)
	}
	s := sqlstore.New(db)
	defer s.Close()
	start := time.Now()
	ps, seeded, err := seed.Ensure(ctx, s, benchPatients(), benchSeed)
	if err != nil {
		b.Fatal(err)
	}
	if seeded {
		b.Logf("seeded %d patients in %s", len(ps), time.Since(start).Round(time.Millisecond))
	}
	return db, ps
}

// latencies collects per-request durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return
	}
	q := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkGetPatient reads random patients by id through the whole HTTP
// handler (token check, service, MariaDB, audit event) from 16 clients.
func BenchmarkGetPatient(b *testing.B) {
	db, ps := benchDB(b)
	h := newHarness(b, db)
	doc := h.user(roles.doctor)
	var lat latencies
	b.SetParallelism(8) // 8 x GOMAXPROCS concurrent requests
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := int(time.Now().UnixNano())
		for pb.Next() {
			i = (i*1103515245 + 12345) & 0x7fffffff
			start := time.Now()
			r := h.do(http.MethodGet, "/api/v1/patients/"+ps[i%len(ps)].ID, doc.token, "")
			mine = append(mine, time.Since(start))
			if r.Status != http.StatusOK {
				b.Errorf("status %d: %s", r.Status, r.Body)
				return
			}
		}
		lat.add(mine)
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	lat.report(b)
}

// BenchmarkSearch runs name-prefix searches (one to three letters, on last
// and first names, with and without filters and cursors) one at a time
// through the HTTP handler.
func BenchmarkSearch(b *testing.B) {
	db, ps := benchDB(b)
	h := newHarness(b, db)
	doc := h.user(roles.doctor)
	queries := []string{"?q=s", "?q=smi", "?q=bar", "?q=jo", "?q=a&limit=100", "?q=zim", "?q=leo", "?q=m",
		"?q=ros&dateOfBirth=" + ps[7].DateOfBirth.String(), "?dateOfBirth=" + ps[9].DateOfBirth.String(),
		"?email=" + ps[11].Email, "?limit=50", "?q=x"}
	// Second pages: a cursor from each first page.
	for _, q := range queries[:8] {
		r := h.do(http.MethodGet, "/api/v1/patients"+q, doc.token, "")
		if next, ok := r.JSON(b)["nextCursor"].(string); ok {
			queries = append(queries, q+"&cursor="+next)
		}
	}
	var lat latencies
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := h.do(http.MethodGet, "/api/v1/patients"+queries[i%len(queries)], doc.token, "")
		d = append(d, time.Since(start))
		if r.Status != http.StatusOK {
			b.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
	b.StopTimer()
	lat.add(d)
	lat.report(b)
}

// BenchmarkSearchQuery runs the same searches on the store alone: the
// database's share of a search, without HTTP, tokens or the audit event.
func BenchmarkSearchQuery(b *testing.B) {
	db, ps := benchDB(b)
	s := sqlstore.New(db)
	defer s.Close()
	ctx := context.Background()
	queries := []patient.SearchQuery{{Query: "s"}, {Query: "smi"}, {Query: "bar"}, {Query: "jo"}, {Query: "a", Limit: 100},
		{Query: "zim"}, {Query: "leo"}, {Query: "m"}, {Query: "ros", DateOfBirth: ps[7].DateOfBirth},
		{DateOfBirth: ps[9].DateOfBirth}, {Email: ps[11].Email}, {Limit: 50}, {Query: "x"}}
	for _, q := range queries[:8] {
		page, err := s.SearchPatients(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if page.NextCursor != "" {
			q.Cursor = page.NextCursor
			queries = append(queries, q)
		}
	}
	var lat latencies
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := s.SearchPatients(ctx, queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	lat.add(d)
	lat.report(b)
}
