// Command gateway-load measures what the gateway adds to a request: the same
// authenticated GET is sent straight to a service and through the gateway,
// first closed-loop at saturation (requests per second), then open-loop at a
// fixed rate (latency percentiles, measured from each request's scheduled
// send time so that a stall is not hidden by the requests it delays).
//
// With -setup it first registers a user, logs in and creates that user's
// patient profile through the gateway, and then reads that profile.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medisync/medisync/shared/loadkit"
)

type options struct {
	gateway, direct string
	path, token     string
	setup           bool
	concurrency     int
	duration        time.Duration
	warmup          time.Duration
	rate            int
	rateDuration    time.Duration
	jsonOut         string
	rounds          int
	saturation      bool
}

func main() {
	var o options
	flag.StringVar(&o.gateway, "gateway", "http://127.0.0.1:8080", "gateway base URL")
	flag.StringVar(&o.direct, "direct", "http://127.0.0.1:8083", "the service's own base URL")
	flag.StringVar(&o.path, "path", "", "path to GET (default with -setup: the created patient profile)")
	flag.StringVar(&o.token, "token", "", "bearer token (default with -setup: the registered user's)")
	flag.BoolVar(&o.setup, "setup", true, "register a user, log in and create a patient profile through the gateway first")
	flag.IntVar(&o.concurrency, "concurrency", 32, "closed-loop workers for the saturation run")
	flag.DurationVar(&o.duration, "duration", time.Second, "length of each saturation block")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load on each target before the rounds")
	flag.IntVar(&o.rate, "rate", 2000, "requests per second of the fixed-rate run")
	flag.DurationVar(&o.rateDuration, "rate-duration", time.Second, "length of each fixed-rate block")
	flag.BoolVar(&o.saturation, "saturation", true, "measure requests/s at saturation (false: only the fixed-rate run)")
	flag.IntVar(&o.rounds, "rounds", 10, "rounds, each measuring both targets in short blocks; figures pool all rounds")
	flag.StringVar(&o.jsonOut, "json", "", "also write the figures to this file as JSON")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gateway-load:", err)
		os.Exit(1)
	}
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// Result holds one target's figures.
type Result struct {
	Target        string  `json:"target"`
	SaturationRPS float64 `json:"saturationRps"`
	RateRPS       int     `json:"rateRps"`
	P50ms         float64 `json:"p50Ms"`
	P90ms         float64 `json:"p90Ms"`
	P99ms         float64 `json:"p99Ms"`
	MaxMs         float64 `json:"maxMs"`
	Errors        int64   `json:"errors"`
}

// Report compares the two targets.
type Report struct {
	Path        string  `json:"path"`
	Concurrency int     `json:"concurrency"`
	Rounds      int     `json:"rounds"`
	Direct      Result  `json:"direct"`
	Gateway     Result  `json:"gateway"`
	AddedP50ms  float64 `json:"addedP50Ms"`
	AddedP99ms  float64 `json:"addedP99Ms"`
	Throughput  float64 `json:"gatewayShareOfDirectThroughput"`
	// Paired: the median over rounds of each round's gateway-minus-direct
	// difference (or ratio), which a burst of other work on the machine
	// during one round does not sway.
	PairedAddedP50ms float64 `json:"pairedAddedP50Ms"`
	PairedAddedP99ms float64 `json:"pairedAddedP99Ms"`
	PairedThroughput float64 `json:"pairedGatewayShareOfDirectThroughput"`
}

func run(ctx context.Context, o options, out io.Writer) error {
	client := newClient(max(o.concurrency, 256))
	if o.setup {
		path, token, err := setup(ctx, client, o.gateway)
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if o.path == "" {
			o.path = path
		}
		if o.token == "" {
			o.token = token
		}
	}
	if o.path == "" || o.token == "" {
		return errors.New("-path and -token are required without -setup")
	}
	targets := []struct{ name, base string }{{"direct", o.direct}, {"gateway", o.gateway}}
	for _, t := range targets {
		if code, err := get(ctx, client, t.base+o.path, o.token); err != nil || code != http.StatusOK {
			return fmt.Errorf("%s GET %s: status %d, %v", t.name, o.path, code, err)
		}
	}
	rep := Report{Path: o.path, Concurrency: o.concurrency, Rounds: o.rounds}
	results := map[string]*Result{"direct": &rep.Direct, "gateway": &rep.Gateway}
	for _, t := range targets {
		if o.saturation {
			saturate(ctx, client, t.base+o.path, o.token, o.concurrency, o.warmup)
		}
		paced(ctx, client, t.base+o.path, o.token, o.rate, o.warmup)
	}
	// Many short blocks alternate the targets (in turns of order), so that
	// other work on the machine weighs on both alike; the figures pool every
	// block of a target.
	type totals struct {
		done    int64
		elapsed time.Duration
		lat     []time.Duration
		errs    int64
	}
	tot := map[string]*totals{"direct": {}, "gateway": {}}
	var addP50, addP99, share []float64
	for round := 1; round <= o.rounds; round++ {
		rps := map[string]float64{}
		lats := map[string]loadkit.Summary{}
		order := targets
		if round%2 == 0 {
			order = []struct{ name, base string }{targets[1], targets[0]}
		}
		if o.saturation {
			for _, t := range order {
				done, elapsed, errs := saturate(ctx, client, t.base+o.path, o.token, o.concurrency, o.duration)
				tt := tot[t.name]
				tt.done, tt.elapsed, tt.errs = tt.done+done, tt.elapsed+elapsed, tt.errs+errs
				rps[t.name] = float64(done) / elapsed.Seconds()
				fmt.Fprintf(out, "round %2d %-8s saturation: %6.0f requests/s\n", round, t.name, rps[t.name])
			}
			if rps["direct"] > 0 {
				share = append(share, rps["gateway"]/rps["direct"])
			}
		}
		for _, t := range order {
			lat, errs := paced(ctx, client, t.base+o.path, o.token, o.rate, o.rateDuration)
			tt := tot[t.name]
			tt.lat, tt.errs = append(tt.lat, lat...), tt.errs+errs
			sum := loadkit.Summarize(lat, errs, o.rateDuration)
			lats[t.name] = sum
			fmt.Fprintf(out, "round %2d %-8s at %d/s: p50 %.3f ms  p99 %.3f ms\n", round, t.name, o.rate, loadkit.Ms(sum.P50), loadkit.Ms(sum.P99))
		}
		addP50 = append(addP50, loadkit.Ms(lats["gateway"].P50)-loadkit.Ms(lats["direct"].P50))
		addP99 = append(addP99, loadkit.Ms(lats["gateway"].P99)-loadkit.Ms(lats["direct"].P99))
	}
	for _, t := range targets {
		tt, res := tot[t.name], results[t.name]
		res.Target, res.RateRPS, res.Errors = t.base, o.rate, tt.errs
		if tt.elapsed > 0 {
			res.SaturationRPS = float64(tt.done) / tt.elapsed.Seconds()
		}
		sum := loadkit.Summarize(tt.lat, tt.errs, 0)
		res.P50ms, res.P90ms, res.P99ms, res.MaxMs = loadkit.Ms(sum.P50), loadkit.Ms(sum.P90), loadkit.Ms(sum.P99), loadkit.Ms(sum.Max)
		fmt.Fprintf(out, "%-8s %6.0f requests/s at saturation (%d workers); at %d/s: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms; %d errors\n",
			t.name, res.SaturationRPS, o.concurrency, o.rate, res.P50ms, res.P90ms, res.P99ms, res.MaxMs, res.Errors)
	}
	rep.AddedP50ms = rep.Gateway.P50ms - rep.Direct.P50ms
	rep.AddedP99ms = rep.Gateway.P99ms - rep.Direct.P99ms
	if rep.Direct.SaturationRPS > 0 {
		rep.Throughput = rep.Gateway.SaturationRPS / rep.Direct.SaturationRPS
	}
	rep.PairedAddedP50ms, rep.PairedAddedP99ms, rep.PairedThroughput = median(addP50), median(addP99), median(share)
	fmt.Fprintf(out, "added by the gateway, all rounds pooled: p50 %+.3f ms, p99 %+.3f ms; throughput %.0f%% of direct\n",
		rep.AddedP50ms, rep.AddedP99ms, rep.Throughput*100)
	fmt.Fprintf(out, "added by the gateway, median of the rounds' differences: p50 %+.3f ms, p99 %+.3f ms; throughput %.0f%% of direct\n",
		rep.PairedAddedP50ms, rep.PairedAddedP99ms, rep.PairedThroughput*100)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if rep.Direct.Errors+rep.Gateway.Errors > 0 {
		return fmt.Errorf("%d requests failed", rep.Direct.Errors+rep.Gateway.Errors)
	}
	return nil
}

// setup makes a patient through the gateway and returns its path and token.
func setup(ctx context.Context, c *http.Client, gw string) (string, string, error) {
	email := fmt.Sprintf("load-%d@medisync.example", time.Now().UnixNano())
	password := "Load-test-passw0rd!"
	if _, err := call(ctx, c, http.MethodPost, gw+"/api/v1/auth/register", "",
		// 202 whether or not the address was new: auth tells no one which
		// addresses hold accounts.
		map[string]string{"email": email, "password": password, "fullName": "Load Tester"}, http.StatusAccepted); err != nil {
		return "", "", err
	}
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	b, err := call(ctx, c, http.MethodPost, gw+"/api/v1/auth/login", "",
		map[string]string{"email": email, "password": password}, http.StatusOK)
	if err != nil {
		return "", "", err
	}
	if err := json.Unmarshal(b, &login); err != nil || login.AccessToken == "" {
		return "", "", fmt.Errorf("login answer: %v", err)
	}
	var profile struct {
		ID string `json:"id"`
	}
	b, err = call(ctx, c, http.MethodPost, gw+"/api/v1/patients", login.AccessToken, map[string]any{
		"firstName": "Load", "lastName": "Tester", "dateOfBirth": "1980-01-01", "sex": "other", "email": email,
	}, http.StatusCreated)
	if err != nil {
		return "", "", err
	}
	if err := json.Unmarshal(b, &profile); err != nil || profile.ID == "" {
		return "", "", fmt.Errorf("profile answer: %v", err)
	}
	return "/api/v1/patients/" + profile.ID, login.AccessToken, nil
}

func call(ctx context.Context, c *http.Client, method, url, token string, body any, want int) ([]byte, error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func get(ctx context.Context, c *http.Client, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header["Authorization"] = []string{"Bearer " + token}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// saturate runs workers back to back for d and returns the requests done,
// the time taken and the failures.
func saturate(ctx context.Context, c *http.Client, url, token string, workers int, d time.Duration) (int64, time.Duration, int64) {
	var done, errs atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				code, err := get(ctx, c, url, token)
				if err != nil || code != http.StatusOK {
					errs.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return done.Load(), time.Since(start), errs.Load()
}

// paced sends rate requests per second for d, each in its own goroutine at
// its scheduled time, and returns the latencies from the scheduled times.
func paced(ctx context.Context, c *http.Client, url, token string, rate int, d time.Duration) ([]time.Duration, int64) {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func(i int, at time.Time) {
			defer wg.Done()
			code, err := get(ctx, c, url, token)
			lat[i] = time.Since(at)
			if err != nil || code != http.StatusOK {
				errs.Add(1)
			}
		}(i, at)
	}
	wg.Wait()
	return lat, errs.Load()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
