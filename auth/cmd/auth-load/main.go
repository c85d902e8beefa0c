// Command auth-load drives a running auth service with concurrent clients:
// it registers accounts, then logs them in, and reports throughput, errors
// and latency percentiles for each phase. Every loop is bounded in count and
// time. It exits non-zero when any request failed.
//
//	auth-load -url http://127.0.0.1:18081 -clients 50 -users 500 -logins 2000
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/medisync/medisync/shared/loadkit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "auth-load:", err)
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
	fs := flag.NewFlagSet("auth-load", flag.ContinueOnError)
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

	reg := phase(ctx, o.clients, o.users, func(ctx context.Context, i int) error {
		return post(ctx, client, o.url+"/api/v1/auth/register", map[string]string{
			"email": email(i), "password": o.password, "fullName": fmt.Sprintf("Load User %d", i),
		}, http.StatusAccepted)
	})
	reg.Print(out, "register")
	login := phase(ctx, o.clients, o.logins, func(ctx context.Context, i int) error {
		return post(ctx, client, o.url+"/api/v1/auth/login", map[string]string{
			"email": email(i % o.users), "password": o.password,
		}, http.StatusOK)
	})
	login.Print(out, "login")
	if reg.Errors+login.Errors > 0 || reg.Requests < o.users || login.Requests < o.logins {
		return fmt.Errorf("%d register and %d login errors; %d/%d and %d/%d done",
			reg.Errors, login.Errors, reg.Requests, o.users, login.Requests, o.logins)
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

// phase runs n calls of fn on the given number of concurrent clients.
func phase(ctx context.Context, clients, n int, fn func(ctx context.Context, i int) error) loadkit.Summary {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		rec  = loadkit.NewRecorder()
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				err := fn(ctx, i)
				rec.Observe(time.Since(t), err)
			}
		}()
	}
	wg.Wait()
	return rec.Summary()
}
