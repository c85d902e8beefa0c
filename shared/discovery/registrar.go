package discovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/shared/logging"
)

// DefaultTTL is the lease asked for when a Registration names none.
const DefaultTTL = 30 * time.Second

// MinTTL and MaxTTL bound the lease a discovery server grants unless its
// -ttl-min and -ttl-max say otherwise; it refuses a registration asking for
// another, so an instance asking for one would never be registered.
const (
	MinTTL = 5 * time.Second
	MaxTTL = 5 * time.Minute
)

// CheckTTL refuses a lease outside MinTTL..MaxTTL, as sent: in whole
// seconds, rounded up.
func CheckTTL(ttl time.Duration) error {
	if sent := ttlSeconds(ttl); sent < int(MinTTL/time.Second) || sent > int(MaxTTL/time.Second) {
		return fmt.Errorf("lease %s must be between %s and %s, the range discovery servers grant", ttl, MinTTL, MaxTTL)
	}
	return nil
}

// ttlSeconds is the lease in whole seconds, rounded up, as a registration
// carries it.
func ttlSeconds(ttl time.Duration) int {
	return int((ttl + time.Second - 1) / time.Second)
}

// Registration describes this instance to the registry.
type Registration struct {
	Service    string
	InstanceID string
	Address    string
	Port       int
	// TTL is the lease; 0 means DefaultTTL. The server bounds it.
	TTL      time.Duration
	Metadata map[string]string
	// HeartbeatEvery is the pause between heartbeats; 0 means TTL/3, so two
	// heartbeats may be lost before the lease lapses.
	HeartbeatEvery time.Duration
}

func (r Registration) ttl() time.Duration {
	if r.TTL <= 0 {
		return DefaultTTL
	}
	return r.TTL
}

func (r Registration) interval() time.Duration {
	if r.HeartbeatEvery > 0 {
		return r.HeartbeatEvery
	}
	return r.ttl() / 3
}

// Registrar keeps one instance registered with every discovery server of a
// client. Each server is served by its own loop, so a server that is down
// or was restarted empty does not hold back the others: the loop retries
// until the server answers and registers again when a heartbeat gets a 404.
type Registrar struct {
	c      *Client
	reg    Registration
	logger log.Logger

	mu      sync.Mutex
	status  string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running bool
}

// NewRegistrar returns a registrar for reg; nothing happens before Start.
func NewRegistrar(c *Client, reg Registration, logger log.Logger) *Registrar {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	if reg.TTL <= 0 {
		reg.TTL = DefaultTTL
	}
	return &Registrar{
		c:      c,
		reg:    reg,
		logger: log.With(logger, "component", "discovery", "instance", reg.InstanceID),
		status: StatusUp,
	}
}

// Start registers with every server and keeps the lease alive in the
// background until ctx ends or Stop is called. Ending ctx without Stop
// leaves the registration to lapse at the end of its lease, as a crash would.
func (r *Registrar) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	r.running = true
	for _, base := range r.c.urls {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.loop(ctx, base)
		}()
	}
}

// SetStatus changes the status with every server and remembers it for later
// registrations.
func (r *Registrar) SetStatus(ctx context.Context, status string) error {
	r.mu.Lock()
	r.status = status
	r.mu.Unlock()
	return r.c.all(ctx, func(ctx context.Context, base string) error {
		return r.c.SetStatusAt(ctx, base, r.reg.Service, r.reg.InstanceID, status)
	})
}

func (r *Registrar) currentStatus() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Stop ends the heartbeats and deregisters from every server, so readers see
// the instance gone at once. It fails only when no server could be told.
func (r *Registrar) Stop(ctx context.Context) error {
	r.mu.Lock()
	if r.cancel != nil {
		r.cancel()
	}
	r.running = false
	r.mu.Unlock()

	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// A server that cannot be reached now lets the lease lapse instead; only
	// when no server took the deregistration is it an error.
	err := r.c.all(ctx, func(ctx context.Context, base string) error {
		err := r.c.DeregisterAt(ctx, base, r.reg.Service, r.reg.InstanceID)
		if err != nil {
			_ = level.Warn(r.logger).Log("msg", "deregistration failed; the lease will lapse", "discoveryUrl", base, "err", err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("deregister %s/%s: %w", r.reg.Service, r.reg.InstanceID, err)
	}
	// The logger names the instance; its service is the writer's own.
	_ = level.Info(r.logger).Log("msg", "deregistered")
	return nil
}

func (r *Registrar) loop(ctx context.Context, base string) {
	logger := log.With(r.logger, "discoveryUrl", base)
	interval := r.reg.interval()
	backoff := r.c.retryMin
	registered := false
	failing := false
	for {
		// One attempt may take at most one interval, so a hung server cannot
		// stall the heartbeats to it for longer than that.
		actx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		var err error
		if !registered {
			err = r.c.RegisterAt(actx, base, r.reg, r.currentStatus())
			if err == nil {
				registered = true
				_ = level.Info(logger).Log("msg", "registered",
					"address", r.reg.Address, "port", r.reg.Port, "ttlMs", logging.Millis(r.reg.TTL))
			}
		} else {
			err = r.c.HeartbeatAt(actx, base, r.reg.Service, r.reg.InstanceID)
			if errors.Is(err, ErrUnknownInstance) {
				// The server lost us (restarted, or our lease lapsed): register
				// again right away rather than waiting another interval.
				_ = level.Info(logger).Log("msg", "unknown to discovery server, registering again")
				cancel()
				registered = false
				continue
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		wait := interval
		var serr *StatusError
		if err != nil {
			switch {
			case !registered && errors.As(err, &serr) && serr.Code == http.StatusBadRequest:
				// The server refuses what this instance sends, and will on
				// every retry: said at error level each time, since the
				// instance gets no traffic until its settings change.
				_ = level.Error(logger).Log("msg", "discovery server refuses this registration; it will not be registered until its settings change", "err", err)
			case !failing:
				_ = level.Warn(logger).Log("msg", "discovery server unreachable or refusing; retrying", "err", err)
			}
			failing = true
			wait = min(backoff, interval)
			backoff = min(backoff*2, r.c.retryMax)
		} else {
			if failing {
				_ = level.Info(logger).Log("msg", "discovery server answering again")
			}
			failing = false
			backoff = r.c.retryMin
		}
		t := time.NewTimer(jitter(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// jitter spreads d by ±10% so that many instances started together do not
// heartbeat in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread))
}
