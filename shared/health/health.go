// Package health serves /health/live and /health/ready. Live says the process
// runs; ready says it can serve: its dependencies answer and it is not
// shutting down.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Check reports whether one dependency works.
type Check func(ctx context.Context) error

// Checker holds the readiness checks of a service. The zero value is ready
// with no checks.
type Checker struct {
	mu       sync.RWMutex
	checks   map[string]Check
	draining atomic.Bool
}

// Add registers a named readiness check.
func (c *Checker) Add(name string, check Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checks == nil {
		c.checks = make(map[string]Check)
	}
	c.checks[name] = check
}

// SetDraining marks the service as shutting down: readiness fails from then
// on, so balancers stop sending new work while in-flight requests finish.
func (c *Checker) SetDraining() { c.draining.Store(true) }

type report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// Live answers 200 while the process runs.
func (c *Checker) Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, report{Status: "UP"})
	})
}

// Ready runs every check (2 s at most) and answers 200 or 503.
func (c *Checker) Ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		rep := report{Status: "UP", Checks: map[string]string{}}
		status := http.StatusOK
		if c.draining.Load() {
			rep.Status, status = "DOWN", http.StatusServiceUnavailable
			rep.Checks["shutdown"] = "draining"
		}
		c.mu.RLock()
		names := make([]string, 0, len(c.checks))
		for n := range c.checks {
			names = append(names, n)
		}
		sort.Strings(names)
		checks := make([]Check, len(names))
		for i, n := range names {
			checks[i] = c.checks[n]
		}
		c.mu.RUnlock()
		for i, n := range names {
			if err := checks[i](ctx); err != nil {
				// The reason stays generic: readiness is public and must not leak internals.
				rep.Checks[n] = "DOWN"
				rep.Status, status = "DOWN", http.StatusServiceUnavailable
				continue
			}
			rep.Checks[n] = "UP"
		}
		write(w, status, rep)
	})
}

func write(w http.ResponseWriter, status int, rep report) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rep)
}
