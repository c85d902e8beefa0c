// Command appointment-load measures the appointment service on MariaDB/MySQL
// or PostgreSQL. It starts the appointment binary on a loopback address with a fresh
// database, serves it a JWKS of its own and stand-ins for the doctor and
// patient services (every doctor works around the clock in 30-minute slots;
// every token's user has an active patient profile), then books appointments
// with distinct slots through the HTTP API, measures a patient's list and a
// doctor's day with them all stored, lets 50 patients race for one slot, and
// cancels. Every request goes to 127.0.0.1 only; the run stops by itself.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/loadkit"
	"github.com/medisync/medisync/shared/loadkit/loaddb"
)

type options struct {
	bin          string
	mysqlServer  string
	pgServer     string
	database     string
	addr         string
	bookings     int
	doctors      int
	patients     int
	concurrency  int
	listRequests int
	cancels      int
	maxDuration  time.Duration
}

func main() {
	var o options
	fs := flag.NewFlagSet("appointment-load", flag.ExitOnError)
	fs.StringVar(&o.bin, "appointment-bin", "bin/appointment", "the appointment service binary to start")
	fs.StringVar(&o.mysqlServer, "mysql-server", "medisync:medisync@tcp(127.0.0.1:3306)/", "MySQL/MariaDB server DSN without database")
	fs.StringVar(&o.pgServer, "postgres-server", "", "PostgreSQL server DSN (postgres://user:pass@host:port/postgres?sslmode=disable) of a role that may create databases; when set, the run uses PostgreSQL instead of MySQL")
	fs.StringVar(&o.database, "database", "medisync_appointment_load", "database to (re)create for the run")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:18084", "loopback address the appointment service listens on")
	fs.IntVar(&o.bookings, "bookings", 100000, "appointments to book, each in a distinct slot")
	fs.IntVar(&o.doctors, "doctors", 500, "doctors the bookings are spread over")
	fs.IntVar(&o.patients, "patients", 2000, "patients who book")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent bookers and cancellers (enough to keep both cores busy: the database then flushes several commits per log write)")
	fs.IntVar(&o.listRequests, "list-requests", 5000, "measured list requests (patient's list, doctor's day)")
	fs.IntVar(&o.cancels, "cancels", 2000, "appointments to cancel")
	fs.DurationVar(&o.maxDuration, "max-duration", 10*time.Minute, "the whole run stops after this long")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.maxDuration)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "appointment-load:", err)
		os.Exit(1)
	}
}

// base is the start of the first slot: two days ahead, on the hour, so
// that every slot is bookable and far from the cancellation notice.
func base() time.Time { return time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour) }

func run(ctx context.Context, o options) error {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr must be a loopback address, not %q", o.addr)
	}
	if o.doctors < 1 || o.patients < 1 || o.bookings < o.patients {
		return errors.New("-doctors and -patients must be positive and -bookings at least -patients")
	}
	// Booking i is patient i % patients at slot i / doctors: with fewer
	// patients than doctors one patient would be booked twice at one time,
	// which the service refuses.
	if o.patients < o.doctors {
		return errors.New("-patients must be at least -doctors, so that no patient is booked at two overlapping times")
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
	doctorIDs := make([]string, o.doctors)
	doctorUsers := make([]string, o.doctors)
	for i := range doctorIDs {
		doctorIDs[i], doctorUsers[i] = ids.New(), ids.New()
	}
	peersURL, stopPeers, err := servePeers(doctorIDs, doctorUsers)
	if err != nil {
		return err
	}
	defer stopPeers()

	db := loaddb.Database{MySQLServer: o.mysqlServer, PostgresServer: o.pgServer, Name: o.database}
	dsn, err := db.DSN()
	if err != nil {
		return err
	}
	if err := db.Recreate(ctx); err != nil {
		return err
	}
	// Each patient books about bookings/patients appointments, and may win
	// the race: the cap on a patient's active appointments is raised past
	// that, so that it is checked on every booking but refuses none.
	maxActive := (o.bookings+o.patients-1)/o.patients + 1
	svc, err := loadkit.Start(ctx, "appointment", exec.Command(o.bin, "-http-addr", o.addr, "-db-dsn", dsn,
		"-discovery-urls", "", "-jwks-url", jwksURL, "-doctor-url", peersURL, "-patient-url", peersURL,
		"-log-level", "warn", "-max-active-per-patient", strconv.Itoa(maxActive)), o.addr)
	if err != nil {
		return err
	}
	defer svc.Stop()

	c := &loadkit.Client{Base: "http://" + o.addr, HTTP: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxIdleConns: 128},
	}}
	expires := time.Now().Add(min(o.maxDuration+time.Hour, authn.DefaultMaxLifetime))
	patientTokens := make([]string, o.patients)
	for i := range patientTokens {
		if patientTokens[i], err = minter.Sign(loadkit.Claims{Roles: []string{authn.RolePatient}, ExpiresAt: expires}); err != nil {
			return err
		}
	}
	doctorToken, err := minter.Sign(loadkit.Claims{UserID: doctorUsers[0], Roles: []string{authn.RoleDoctor}, ExpiresAt: expires})
	if err != nil {
		return err
	}

	t0 := base()
	slot := func(k int) (string, string) {
		s := t0.Add(time.Duration(k) * 30 * time.Minute)
		return s.Format(time.RFC3339), s.Add(30 * time.Minute).Format(time.RFC3339)
	}

	// 1. Bookings, each in a distinct slot: doctor i % doctors, slot i / doctors.
	fmt.Printf("booking %d appointments (%d doctors, %d patients, %d clients)\n", o.bookings, o.doctors, o.patients, o.concurrency)
	var (
		next   atomic.Int64
		booked = make([]string, o.bookings)
		rec    = loadkit.NewRecorder()
	)
	// The rate of each tenth of the bookings shows whether it falls as the
	// tables grow.
	tenth := max(o.bookings/10, 1)
	var lastMark atomic.Int64
	lastMark.Store(time.Now().UnixNano())
	parallel(o.concurrency, func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= o.bookings || ctx.Err() != nil {
				return
			}
			if i > 0 && i%tenth == 0 {
				now := time.Now().UnixNano()
				prev := lastMark.Swap(now)
				fmt.Printf("  %7d booked: %.0f/s over the last %d\n", i, float64(tenth)/time.Duration(now-prev).Seconds(), tenth)
			}
			s, e := slot(i / o.doctors)
			var out struct{ ID string }
			began := time.Now()
			_, err := c.Do(ctx, http.MethodPost, "/api/v1/appointments", patientTokens[i%o.patients],
				map[string]any{"doctorId": doctorIDs[i%o.doctors], "start": s, "end": e, "reason": "Load test"}, &out)
			rec.Observe(time.Since(began), err)
			booked[i] = out.ID
		}
	})
	book := rec.Summary()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// 2. A patient's list (upcoming and past) and a doctor's day, with
	// everything stored.
	listRec := loadkit.NewRecorder()
	next.Store(0)
	parallel(4, func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= o.listRequests || ctx.Err() != nil {
				return
			}
			q := "?limit=20"
			if i%2 == 1 {
				q += "&when=past"
			}
			began := time.Now()
			var out struct{ Items []json.RawMessage }
			_, err := c.Do(ctx, http.MethodGet, "/api/v1/appointments"+q, patientTokens[i%o.patients], nil, &out)
			if err == nil && i%2 == 0 && len(out.Items) == 0 {
				err = errors.New("a patient's upcoming list is empty")
			}
			listRec.Observe(time.Since(began), err)
		}
	})
	list := listRec.Summary()
	dayRec := loadkit.NewRecorder()
	day := t0.Format("2006-01-02")
	for i := 0; i < o.listRequests/5 && ctx.Err() == nil; i++ {
		began := time.Now()
		var out struct{ Items []json.RawMessage }
		_, err := c.Do(ctx, http.MethodGet, "/api/v1/appointments?limit=100&date="+day, doctorToken, nil, &out)
		if err == nil && len(out.Items) == 0 {
			err = errors.New("the doctor's day is empty")
		}
		dayRec.Observe(time.Since(began), err)
	}
	agenda := dayRec.Summary()

	// 3. Fifty patients race for one free slot.
	s, e := slot(o.bookings/o.doctors + 2)
	var won, lost, other atomic.Int64
	began := time.Now()
	parallel(50, func() {
		i := int(next.Add(1)) % o.patients
		_, err := c.Do(ctx, http.MethodPost, "/api/v1/appointments", patientTokens[i],
			map[string]any{"doctorId": doctorIDs[0], "start": s, "end": e}, nil)
		var se *loadkit.StatusError
		switch {
		case err == nil:
			won.Add(1)
		case errors.As(err, &se) && se.Status == http.StatusConflict:
			lost.Add(1)
		default:
			other.Add(1)
		}
	})
	race := time.Since(began)

	// 4. Cancellations.
	cancelRec := loadkit.NewRecorder()
	next.Store(0)
	n := min(o.cancels, o.bookings)
	parallel(o.concurrency, func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= n || ctx.Err() != nil {
				return
			}
			if booked[i] == "" {
				continue
			}
			began := time.Now()
			_, err := c.Do(ctx, http.MethodPost, "/api/v1/appointments/"+booked[i]+"/cancel", patientTokens[i%o.patients],
				map[string]any{"cancellationReason": "patient-request"}, nil)
			cancelRec.Observe(time.Since(began), err)
		}
	})
	cancels := cancelRec.Summary()

	fmt.Println()
	book.Print(os.Stdout, "book")
	list.Print(os.Stdout, "list")
	agenda.Print(os.Stdout, "day")
	cancels.Print(os.Stdout, "cancel")
	fmt.Printf("race      50 bookers for one slot: %d booked, %d conflicts, %d other, answered in %s\n",
		won.Load(), lost.Load(), other.Load(), race.Round(time.Millisecond))
	fmt.Printf("\nbookings/s %.0f (target >= 1,000); patient list p99 %s with %d appointments stored (target < 20ms); race %s (target < 1s)\n",
		book.RPS(), list.P99.Round(10*time.Microsecond), o.bookings, race.Round(time.Millisecond))
	if book.Errors > 0 || list.Errors > 0 || agenda.Errors > 0 || cancels.Errors > 0 || won.Load() != 1 || lost.Load() != 49 {
		return errors.New("some requests failed or the race did not end with one booking and 49 conflicts")
	}
	return nil
}

func parallel(n int, fn func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	wg.Wait()
}

// servePeers answers as the doctor and patient services would for the
// calls the appointment service makes.
func servePeers(doctorIDs, doctorUsers []string) (string, func(), error) {
	users := make(map[string]string, len(doctorIDs))
	byUser := make(map[string]string, len(doctorIDs))
	for i, id := range doctorIDs {
		users[id] = doctorUsers[i]
		byUser[doctorUsers[i]] = id
	}
	doctor := func(w http.ResponseWriter, id string, onGrid bool) {
		uid, ok := users[id]
		if !ok {
			http.Error(w, `{"status":404}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "doctorId": id, "userId": uid, "firstName": "Load",
			"lastName": "Doctor", "timeZone": "UTC", "active": true, "onGrid": onGrid})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/doctors/me", func(w http.ResponseWriter, r *http.Request) {
		doctor(w, byUser[subject(r)], false)
	})
	mux.HandleFunc("GET /api/v1/doctors/{id}", func(w http.ResponseWriter, r *http.Request) {
		doctor(w, r.PathValue("id"), false)
	})
	mux.HandleFunc("GET /api/v1/doctors/{id}/slot-check", func(w http.ResponseWriter, r *http.Request) {
		s, err1 := time.Parse(time.RFC3339, r.URL.Query().Get("start"))
		e, err2 := time.Parse(time.RFC3339, r.URL.Query().Get("end"))
		on := err1 == nil && err2 == nil && s.Minute()%30 == 0 && s.Second() == 0 && e.Sub(s) == 30*time.Minute
		doctor(w, r.PathValue("id"), on)
	})
	mux.HandleFunc("GET /api/v1/patients/me", func(w http.ResponseWriter, r *http.Request) {
		sub := subject(r)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": sub, "userId": sub, "active": true})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// subject reads the user id of the bearer token, which the service under
// load has already verified.
func subject(r *http.Request) string {
	parts := strings.Split(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.Sub
}
