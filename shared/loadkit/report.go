// Package loadkit holds what the load tools share: latency figures, a
// token minter whose JWKS a service under load can trust, the service
// process under load and a JSON client of its API.
package loadkit

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"
)

// Recorder collects request latencies and failures from concurrent
// clients. Busy clients may keep their own slices and Merge them once.
type Recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	errors int64
	first  error
	start  time.Time
}

// NewRecorder returns a recorder whose clock for requests/s starts now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Observe records one request: its latency and whether it failed.
func (r *Recorder) Observe(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat = append(r.lat, d)
	r.fail(err)
}

// Merge records a batch of latencies, errors of which failed, first being
// the first of those failures (or nil).
func (r *Recorder) Merge(lat []time.Duration, errors int64, first error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat = append(r.lat, lat...)
	r.errors += errors
	if r.first == nil {
		r.first = first
	}
}

func (r *Recorder) fail(err error) {
	if err == nil {
		return
	}
	r.errors++
	if r.first == nil {
		r.first = err
	}
}

// Summary returns the figures so far, with requests/s over the time since
// NewRecorder.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summarize(r.lat, r.errors, time.Since(r.start))
	s.FirstErr = r.first
	return s
}

// Summary holds the figures of one measured phase.
type Summary struct {
	Requests int
	Errors   int64
	Elapsed  time.Duration
	P50, P90 time.Duration
	P99, Max time.Duration
	FirstErr error // the first failure seen, if any
}

// Summarize computes the figures of the latencies lat (left unsorted)
// measured over elapsed, errors of them failed.
func Summarize(lat []time.Duration, errors int64, elapsed time.Duration) Summary {
	s := slices.Clone(lat)
	slices.Sort(s)
	return Summary{
		Requests: len(s), Errors: errors, Elapsed: elapsed,
		P50: Percentile(s, 0.50), P90: Percentile(s, 0.90), P99: Percentile(s, 0.99), Max: Percentile(s, 1),
	}
}

// Percentile is the nearest-rank percentile p (0 < p <= 1) of sorted: the
// smallest latency at least a share p of the requests did not exceed; 0
// for no requests.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// RPS is the requests per second over the elapsed time.
func (s Summary) RPS() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

// Line is the report line of the phase called name.
func (s Summary) Line(name string) string {
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("%-9s %6d requests  %4d errors  %7.1f req/s  p50 %-9s p90 %-9s p99 %-9s max %s",
		name, s.Requests, s.Errors, s.RPS(), r(s.P50), r(s.P90), r(s.P99), r(s.Max))
}

// Print writes the report line of the phase, and its first failure.
func (s Summary) Print(w io.Writer, name string) {
	fmt.Fprintln(w, s.Line(name))
	if s.FirstErr != nil {
		fmt.Fprintf(w, "          first error: %v\n", s.FirstErr)
	}
}

// Ms is d in milliseconds, for figures written as numbers.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
