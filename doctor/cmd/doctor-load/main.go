// Command doctor-load measures the doctor service's search latency against
// MariaDB/MySQL or PostgreSQL. It starts the doctor binary on a loopback address with a
// fresh database, serves it a JWKS of its own, seeds doctors with their
// availability over the HTTP API, then sends a bounded number of searches
// with a mix of filters and reports latency percentiles. Every request goes
// to 127.0.0.1 only; the run stops by itself.
package main

import (
	"context"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/loadkit"
	"github.com/medisync/medisync/shared/loadkit/loaddb"
)

type options struct {
	doctorBin       string
	mysqlServer     string
	postgresServer  string
	database        string
	addr            string
	doctors         int
	requests        int
	warmup          int
	concurrency     int
	seedConcurrency int
	maxDuration     time.Duration
	failOverP99     time.Duration
	keepDB          bool
}

func main() {
	var o options
	fs := flag.NewFlagSet("doctor-load", flag.ExitOnError)
	fs.StringVar(&o.doctorBin, "doctor-bin", "bin/doctor", "the doctor service binary to start")
	fs.StringVar(&o.mysqlServer, "mysql-server", "medisync:medisync@tcp(127.0.0.1:3306)/", "MySQL/MariaDB server DSN without database")
	fs.StringVar(&o.postgresServer, "postgres-server", "", "PostgreSQL server DSN (postgres://user:pass@host:port/postgres?sslmode=disable) of a role that may create databases; when set, the run uses PostgreSQL instead of MySQL")
	fs.StringVar(&o.database, "database", "medisync_doctor_load", "database to (re)create for the run")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:18082", "loopback address the doctor service listens on")
	fs.IntVar(&o.doctors, "doctors", 10000, "doctors to seed")
	fs.IntVar(&o.requests, "requests", 6000, "measured search requests")
	fs.IntVar(&o.warmup, "warmup", 500, "search requests sent before measuring")
	fs.IntVar(&o.concurrency, "concurrency", 4, "concurrent searchers")
	fs.IntVar(&o.seedConcurrency, "seed-concurrency", 8, "concurrent writers while seeding")
	fs.DurationVar(&o.maxDuration, "max-duration", 5*time.Minute, "the whole run stops after this long")
	fs.DurationVar(&o.failOverP99, "fail-over-p99", 0, "exit 1 when the overall p99 exceeds this (0: report only)")
	fs.BoolVar(&o.keepDB, "keep-db", false, "reuse the database when it already holds the doctors (skips seeding)")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.maxDuration)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "doctor-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr must be a loopback address, not %q", o.addr)
	}
	minter, err := loadkit.NewMinter()
	if err != nil {
		return err
	}
	jwksURL, stopJWKS, err := minter.ServeJWKS()
	if err != nil {
		return err
	}
	defer stopJWKS()

	db := loaddb.Database{MySQLServer: o.mysqlServer, PostgresServer: o.postgresServer, Name: o.database}
	dsn, err := db.DSN()
	if err != nil {
		return err
	}
	fresh := true
	if o.keepDB {
		if n, err := db.Count(ctx, "doctors"); err == nil && n >= o.doctors {
			fmt.Printf("reusing %s with %d doctors\n", o.database, n)
			fresh = false
		}
	}
	if fresh {
		if err := db.Recreate(ctx); err != nil {
			return err
		}
	}
	svc, err := loadkit.Start(ctx, "doctor", exec.Command(o.doctorBin,
		"-http-addr", o.addr, "-db-dsn", dsn, "-discovery-urls", "", "-jwks-url", jwksURL, "-log-level", "warn"), o.addr)
	if err != nil {
		return err
	}
	defer svc.Stop()

	c := &loadkit.Client{Base: "http://" + o.addr, HTTP: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 64},
	}}
	// The tokens outlive the longest run.
	expires := time.Now().Add(min(o.maxDuration+time.Hour, authn.DefaultMaxLifetime))
	admin, err := minter.Sign(loadkit.Claims{Roles: []string{authn.RoleAdmin}, ExpiresAt: expires})
	if err != nil {
		return err
	}
	reader, err := minter.Sign(loadkit.Claims{Roles: []string{authn.RolePatient}, ExpiresAt: expires})
	if err != nil {
		return err
	}

	var specs []string
	if fresh {
		start := time.Now()
		if specs, err = seed(ctx, c, admin, o); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		fmt.Printf("seeded %d doctors with availability over HTTP in %s\n", o.doctors, time.Since(start).Round(time.Millisecond))
	} else if specs, err = listSpecializations(ctx, c, reader); err != nil {
		return err
	}

	queries := newQueryMix(specs)
	if _, err := measure(ctx, c, reader, queries, o.warmup, o.concurrency); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	start := time.Now()
	res, err := measure(ctx, c, reader, queries, o.requests, o.concurrency)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	p99 := report(res, elapsed, o)
	if o.failOverP99 > 0 && p99 > o.failOverP99 {
		return fmt.Errorf("p99 %s exceeds %s", p99, o.failOverP99)
	}
	return nil
}

// --- database and service process ---

// --- seeding ---

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Ken", "Dennis", "Tony", "John",
		"Frances", "Adele", "Radia", "Leslie", "Niklaus", "Margaret", "Katherine", "Hedy", "Claude", "Sophie",
		"Amir", "Priya", "Chen", "Yuki", "Olga", "Lars", "Fatima", "Diego", "Nia", "Mateo"}
	lastNames = []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Thompson", "Ritchie", "Hoare",
		"Backus", "Allen", "Goldberg", "Perlman", "Lamport", "Wirth", "Hamilton", "Johnson", "Lamarr", "Shannon",
		"Germain", "Nasser", "Sharma", "Wang", "Tanaka", "Ivanova", "Larsen", "Haddad", "Garcia", "Okafor", "Rossi",
		"Schmidt", "Dubois", "Kowalski", "Novak", "Silva", "Kim", "Nguyen", "Singh", "Cohen", "Murphy"}
	languages   = []string{"en", "fr", "de", "es", "it", "pt-BR", "hi", "zh", "ar", "ru"}
	zones       = []string{"America/New_York", "Europe/Berlin", "Asia/Kolkata", "Europe/London", "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney", "UTC"}
	specialties = []string{"Allergy", "Anesthesiology", "Cardiology", "Dermatology", "Endocrinology", "Gastroenterology",
		"General Practice", "Geriatrics", "Hematology", "Infectious Disease", "Nephrology", "Neurology", "Obstetrics",
		"Oncology", "Ophthalmology", "Orthopedics", "Pediatrics", "Psychiatry", "Pulmonology", "Radiology"}
	weekdays = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}
)

func seed(ctx context.Context, c *loadkit.Client, admin string, o options) ([]string, error) {
	var specs []string
	for _, name := range specialties {
		var out struct {
			ID string `json:"id"`
		}
		if _, err := c.Do(ctx, http.MethodPost, "/api/v1/specializations", admin, map[string]any{"name": name}, &out); err != nil {
			return nil, err
		}
		specs = append(specs, out.ID)
	}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		seedErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < o.seedConcurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), 42))
			for {
				i := int(next.Add(1)) - 1
				if i >= o.doctors || ctx.Err() != nil {
					return
				}
				if err := seedOne(ctx, c, admin, rng, i, specs); err != nil {
					errOnce.Do(func() { seedErr = err; cancel() })
					return
				}
				if (i+1)%2000 == 0 {
					fmt.Printf("  %d doctors\n", i+1)
				}
			}
		}()
	}
	wg.Wait()
	return specs, seedErr
}

func pick[T any](rng *mrand.Rand, xs []T, n int) []T {
	idx := rng.Perm(len(xs))[:n]
	out := make([]T, n)
	for i, k := range idx {
		out[i] = xs[k]
	}
	return out
}

func seedOne(ctx context.Context, c *loadkit.Client, admin string, rng *mrand.Rand, i int, specs []string) error {
	body := map[string]any{
		"firstName":          firstNames[rng.IntN(len(firstNames))],
		"lastName":           fmt.Sprintf("%s%s", lastNames[rng.IntN(len(lastNames))], suffix(i)),
		"email":              fmt.Sprintf("doctor%d@example.org", i),
		"licenseNumber":      fmt.Sprintf("LOAD-%06d", i),
		"specializationIds":  pick(rng, specs, 1+rng.IntN(2)),
		"languages":          pick(rng, languages, 1+rng.IntN(3)),
		"timeZone":           zones[rng.IntN(len(zones))],
		"appointmentMinutes": []int{15, 20, 30, 45, 60}[rng.IntN(5)],
		"userId":             uuid.NewString(),
	}
	var d struct {
		ID string `json:"id"`
	}
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/doctors", admin, body, &d); err != nil {
		return err
	}
	var weekly []map[string]string
	for _, day := range pick(rng, weekdays, 2+rng.IntN(4)) {
		weekly = append(weekly, map[string]string{"day": day, "start": "09:00", "end": "12:00"},
			map[string]string{"day": day, "start": "13:00", "end": fmt.Sprintf("%02d:00", 15+rng.IntN(4))})
	}
	var exceptions []map[string]any
	for k := 0; k < rng.IntN(4); k++ {
		date := time.Date(2027, time.January, 1+rng.IntN(60), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		if slices.ContainsFunc(exceptions, func(e map[string]any) bool { return e["date"] == date }) {
			continue
		}
		if rng.IntN(2) == 0 {
			exceptions = append(exceptions, map[string]any{"date": date, "available": false})
		} else {
			exceptions = append(exceptions, map[string]any{"date": date, "available": true,
				"intervals": []map[string]string{{"start": "08:00", "end": "11:00"}}})
		}
	}
	// Updates must name the version they replace: read it first.
	avail := "/api/v1/doctors/" + d.ID + "/availability"
	h, err := c.Do(ctx, http.MethodGet, avail, admin, nil, nil)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodPut, avail, admin,
		map[string]any{"weekly": weekly, "exceptions": exceptions}, nil, "If-Match", h.Get("ETag"))
	return err
}

// suffix makes last names varied enough for prefix searches: Turing, Turingab...
func suffix(i int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	if i%3 == 0 {
		return ""
	}
	return string([]byte{letters[i%26], letters[(i/26)%26]})
}

func listSpecializations(ctx context.Context, c *loadkit.Client, token string) ([]string, error) {
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/specializations?limit=100", token, nil, &page); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range page.Items {
		out = append(out, s.ID)
	}
	return out, nil
}

// --- load ---

type query struct {
	kind string
	make func(rng *mrand.Rand) url.Values
}

func newQueryMix(specs []string) []query {
	date := func(rng *mrand.Rand) string {
		return time.Date(2027, time.January, 1+rng.IntN(60), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	}
	prefix := func(rng *mrand.Rand) string {
		n := lastNames[rng.IntN(len(lastNames))]
		if rng.IntN(2) == 0 {
			n = firstNames[rng.IntN(len(firstNames))]
		}
		return strings.ToLower(n[:min(len(n), 2+rng.IntN(3))])
	}
	return []query{
		{"all, first page", func(*mrand.Rand) url.Values { return url.Values{} }},
		{"name prefix", func(rng *mrand.Rand) url.Values { return url.Values{"q": {prefix(rng)}} }},
		{"first and last name", func(rng *mrand.Rand) url.Values {
			return url.Values{"q": {strings.ToLower(firstNames[rng.IntN(len(firstNames))][:3] + " " + lastNames[rng.IntN(len(lastNames))][:3])}}
		}},
		{"no match", func(rng *mrand.Rand) url.Values { return url.Values{"q": {"zzq"}} }},
		{"specialization", func(rng *mrand.Rand) url.Values { return url.Values{"specialization": {specs[rng.IntN(len(specs))]}} }},
		{"language", func(rng *mrand.Rand) url.Values { return url.Values{"language": {languages[rng.IntN(len(languages))]}} }},
		{"available on", func(rng *mrand.Rand) url.Values { return url.Values{"availableOn": {date(rng)}} }},
		{"all filters", func(rng *mrand.Rand) url.Values {
			return url.Values{"specialization": {specs[rng.IntN(len(specs))]}, "language": {languages[rng.IntN(len(languages))]},
				"availableOn": {date(rng)}, "q": {prefix(rng)[:2]}}
		}},
		{"specialization, 100 per page", func(rng *mrand.Rand) url.Values {
			return url.Values{"specialization": {specs[rng.IntN(len(specs))]}, "limit": {"100"}}
		}},
		{"next page", nil}, // follows the cursor of an earlier page
	}
}

type sample struct {
	kind string
	d    time.Duration
}

func measure(ctx context.Context, c *loadkit.Client, token string, queries []query, n, conc int) ([]sample, error) {
	var (
		next    atomic.Int64
		mu      sync.Mutex
		out     = make([]sample, 0, n)
		wg      sync.WaitGroup
		errOnce sync.Once
		runErr  error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), 7))
			var cursor string
			local := make([]sample, 0, n/conc+1)
			defer func() { mu.Lock(); out = append(out, local...); mu.Unlock() }()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				q := queries[i%len(queries)]
				v := url.Values{}
				if q.make != nil {
					v = q.make(rng)
				} else if cursor != "" {
					v.Set("cursor", cursor)
				}
				var page struct {
					NextCursor *string `json:"nextCursor"`
				}
				start := time.Now()
				_, err := c.Do(ctx, http.MethodGet, "/api/v1/doctors?"+v.Encode(), token, nil, &page)
				d := time.Since(start)
				if err != nil {
					errOnce.Do(func() { runErr = err; cancel() })
					return
				}
				if page.NextCursor != nil {
					cursor = *page.NextCursor
				}
				local = append(local, sample{kind: q.kind, d: d})
			}
		}()
	}
	wg.Wait()
	return out, runErr
}

func report(res []sample, elapsed time.Duration, o options) time.Duration {
	byKind := map[string][]time.Duration{}
	var all []time.Duration
	for _, s := range res {
		byKind[s.kind] = append(byKind[s.kind], s.d)
		all = append(all, s.d)
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", loadkit.Ms(d)) }
	fmt.Printf("\n%d searches over %d doctors, %d concurrent, in %s (%.0f req/s), client-side latency in ms:\n",
		len(all), o.doctors, o.concurrency, elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tn\tp50\tp90\tp99\tmax\t")
	line := func(name string, ds []time.Duration) {
		s := loadkit.Summarize(ds, 0, elapsed)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", name, s.Requests, ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max))
	}
	for _, k := range kinds {
		line(k, byKind[k])
	}
	line("ALL", all)
	_ = tw.Flush()
	return loadkit.Summarize(all, 0, elapsed).P99
}
