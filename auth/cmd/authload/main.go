// Command authload drives a running auth service with concurrent clients:
// it registers accounts, then logs them in, and reports throughput, errors
// and latency percentiles for each phase. Every loop is bounded in count and
// time. It exits non-zero when any request failed.
//
//	authload -url http://127.0.0.1:18081 -clients 50 -users 500 -logins 2000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "authload:", err)
		os.Exit(1)
	}
}

type options struct {
	url      string
	clients  int
	users    int
	logins   int
	maxTime  time.Duration
	password string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("authload", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:18081", "base URL of the auth service")
	fs.IntVar(&o.clients, "clients", 50, "concurrent clients")
	fs.IntVar(&o.users, "users", 500, "accounts to register")
	fs.IntVar(&o.logins, "logins", 2000, "logins to perform")
	fs.DurationVar(&o.maxTime, "max-time", 5*time.Minute, "stop whatever remains after this long")
	fs.StringVar(&o.password, "password", "load test passphrase 7", "password of the registered accounts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.clients < 1 || o.users < 1 || o.logins < 0 {
		return errors.New("clients and users must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, o.maxTime)
	defer cancel()
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: o.clients * 2, MaxIdleConnsPerHost: o.clients * 2, IdleConnTimeout: 30 * time.Second,
		},
	}
	run := time.Now().UnixNano()
	email := func(i int) string { return fmt.Sprintf("load-%d-%d@example.org", run, i) }

	reg := phase(ctx, "register", o.clients, o.users, func(ctx context.Context, i int) error {
		return post(ctx, client, o.url+"/api/v1/auth/register", map[string]string{
			"email": email(i), "password": o.password, "fullName": fmt.Sprintf("Load User %d", i),
		}, http.StatusAccepted)
	})
	reg.print(out)
	login := phase(ctx, "login", o.clients, o.logins, func(ctx context.Context, i int) error {
		return post(ctx, client, o.url+"/api/v1/auth/login", map[string]string{
			"email": email(i % o.users), "password": o.password,
		}, http.StatusOK)
	})
	login.print(out)
	if reg.errors+login.errors > 0 || reg.done < o.users || login.done < o.logins {
		return fmt.Errorf("%d register and %d login errors; %d/%d and %d/%d done",
			reg.errors, login.errors, reg.done, o.users, login.done, o.logins)
	}
	return nil
}

func post(ctx context.Context, c *http.Client, url string, body any, want int) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != want {
		return fmt.Errorf("%s: status %d: %s", url, res.StatusCode, b)
	}
	return nil
}

type result struct {
	name      string
	done      int
	errors    int
	firstErr  error
	elapsed   time.Duration
	latencies []time.Duration
}

// phase runs n calls of fn on the given number of concurrent clients.
func phase(ctx context.Context, name string, clients, n int, fn func(ctx context.Context, i int) error) result {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		wg       sync.WaitGroup
		r        = result{name: name}
		perCli   = make([][]time.Duration, clients)
		errCount atomic.Int64
	)
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				err := fn(ctx, i)
				perCli[c] = append(perCli[c], time.Since(t))
				if err != nil {
					errCount.Add(1)
					mu.Lock()
					if r.firstErr == nil {
						r.firstErr = err
					}
					mu.Unlock()
				}
			}
		}(c)
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	for _, l := range perCli {
		r.latencies = append(r.latencies, l...)
	}
	r.errors = int(errCount.Load())
	r.done = len(r.latencies)
	slices.Sort(r.latencies)
	return r
}

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies)-1) * p)
	return r.latencies[i]
}

func (r result) print(w io.Writer) {
	rate := 0.0
	if r.elapsed > 0 {
		rate = float64(r.done) / r.elapsed.Seconds()
	}
	fmt.Fprintf(w, "%-9s %6d requests  %4d errors  %7.1f req/s  p50 %-9s p90 %-9s p99 %-9s max %s\n",
		r.name, r.done, r.errors, rate,
		r.pct(0.50).Round(time.Millisecond/10), r.pct(0.90).Round(time.Millisecond/10),
		r.pct(0.99).Round(time.Millisecond/10), r.pct(1).Round(time.Millisecond/10))
	if r.firstErr != nil {
		fmt.Fprintf(w, "          first error: %v\n", r.firstErr)
	}
}
