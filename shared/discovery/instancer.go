package discovery

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Instancer follows one service through blocking queries and implements
// go-kit's sd.Instancer: subscribers receive the "host:port" of every UP
// instance at once on Register and again on every change, so go-kit's sd
// and lb packages can balance over it.
type Instancer struct {
	c       *Client
	service string
	logger  log.Logger

	mu        sync.Mutex
	state     sd.Event
	instances []Instance
	index     uint64
	// source is the server that gave index; only it may block on it.
	source  string
	subs    map[chan<- sd.Event]struct{}
	changed chan struct{}

	// answered is closed once the first lookup is done, whatever came of it.
	answered chan struct{}

	// Owned by the goroutine that queries (the first lookup, then loop):
	// run is the server run of the last answer (source and start);
	// listed holds the IDs that run has shown; carried the UP instances
	// seen before it began that it has not listed yet; recheck, when
	// above zero, is when the first of those is due to leave.
	run     string
	listed  map[string]bool
	carried []Instance
	recheck time.Duration

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

var _ sd.Instancer = (*Instancer)(nil)

// Instancer starts following service. It asks once before returning, so the
// first subscriber gets a real answer (or the error of a registry that could
// not be reached); call Stop to end it.
func (c *Client) Instancer(service string) *Instancer {
	in := c.startInstancer(service)
	<-in.answered
	return in
}

// startInstancer starts following service, its first lookup in the
// background, so that each caller waits for that answer (answered) only as
// long as its own deadline allows.
func (c *Client) startInstancer(service string) *Instancer {
	ctx, cancel := context.WithCancel(context.Background())
	in := &Instancer{
		c:        c,
		service:  service,
		logger:   log.With(c.logger, "component", "discovery", "watch", service),
		subs:     map[chan<- sd.Event]struct{}{},
		changed:  make(chan struct{}),
		answered: make(chan struct{}),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	go func() {
		index, ok := in.lookup(ctx)
		close(in.answered)
		in.loop(ctx, index, ok)
	}()
	return in
}

// lookup reads the service without blocking and publishes the answer.
func (in *Instancer) lookup(ctx context.Context) (uint64, bool) {
	ctx, cancel := context.WithTimeout(ctx, firstLookupTimeout(in.c))
	defer cancel()
	v, err := in.c.Lookup(ctx, in.service)
	if ctx.Err() != nil && err != nil {
		return 0, false
	}
	return in.apply(v, err)
}

func firstLookupTimeout(c *Client) time.Duration {
	if c.hc.Timeout > 0 {
		return c.hc.Timeout
	}
	return 5 * time.Second
}

// loop keeps one blocking query open at a time; after a failure it waits
// (growing pauses) and starts again with a plain read.
func (in *Instancer) loop(ctx context.Context, index uint64, ok bool) {
	defer close(in.done)
	backoff := in.c.retryMin
	for ctx.Err() == nil {
		if ok {
			began, prev := time.Now(), index
			// While instances are carried over a restart, the query must end
			// when the first of them is due to leave, change or not.
			wait := in.c.watchWait
			if in.recheck > 0 {
				wait = min(wait, max(in.recheck, in.c.retryMin))
			}
			v, err := in.c.watch(ctx, in.service, index, wait, in.lastSource())
			if ctx.Err() != nil {
				return
			}
			index, ok = in.apply(v, err)
			// A server answering at once without progress must not make
			// this loop spin.
			if ok && index <= prev && time.Since(began) < in.c.retryMin && !sleep(ctx, in.c.retryMin) {
				return
			}
		} else {
			index, ok = in.lookup(ctx)
			if ctx.Err() != nil {
				return
			}
		}
		if ok {
			backoff = in.c.retryMin
			continue
		}
		t := time.NewTimer(jitter(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, in.c.retryMax)
	}
}

// apply publishes the outcome of one query and returns the index to block
// on next, and false after an error. A server that restarted, or another
// server answering, may give a lower index than before; the server answers
// such a stale index at once, and carry keeps what it does not know yet.
func (in *Instancer) apply(v ServiceView, err error) (uint64, bool) {
	if err != nil {
		_ = level.Warn(in.logger).Log("msg", "discovery query failed", "err", err)
		in.update(sd.Event{Err: err}, nil, 0, "")
		return 0, false
	}
	up := in.carry(v, in.c.usable(in.service, v))
	hostports := make([]string, len(up))
	for i, u := range up {
		hostports[i] = u.HostPort()
	}
	in.update(sd.Event{Instances: hostports}, up, v.Index, v.Source)
	return v.Index, true
}

// defaultGrace is how long an instance is carried when its TTL is unknown:
// the registry's default lease.
const defaultGrace = 30 * time.Second

// carry adds to up, the usable instances of an answer, the UP instances
// seen before the answering server's run began that the run has not listed
// yet. A restarted server (or another server, itself restarted) starts
// empty and is filled again as instances heartbeat, each within a third of
// its TTL: until the server has been up for an instance's whole TTL, the
// lease the registry itself would have given it, its absence says nothing,
// and dropping it would empty every pool of the service at each restart.
// Once the run has listed an instance, or has been up that long, its view
// of the instance is the truth, so a dead instance still leaves within its
// TTL of the restart. An answer without a run (an older server) is taken
// as it is.
func (in *Instancer) carry(v ServiceView, up []Instance) []Instance {
	in.recheck = 0
	if v.Run == "" {
		in.run, in.listed, in.carried = "", nil, nil
		return up
	}
	if run := v.Source + " " + v.Run; run != in.run {
		in.run, in.listed = run, map[string]bool{}
		in.carried = in.Instances() // the last published, carried ones included
	}
	for _, i := range v.Instances {
		in.listed[i.ID] = true
	}
	kept := in.carried[:0:0]
	for _, i := range in.carried {
		grace := time.Duration(i.TTLSeconds) * time.Second
		if grace <= 0 {
			grace = defaultGrace
		}
		if in.listed[i.ID] || v.Uptime >= grace {
			continue
		}
		kept = append(kept, i)
		if left := grace - v.Uptime; in.recheck == 0 || left < in.recheck {
			in.recheck = left
		}
	}
	in.carried = kept
	if len(kept) == 0 {
		return up
	}
	return append(slices.Clip(up), kept...)
}

func (in *Instancer) update(ev sd.Event, up []Instance, index uint64, source string) {
	slices.Sort(ev.Instances)
	in.mu.Lock()
	defer in.mu.Unlock()
	in.index = index
	in.source = source
	// A failed query says nothing about the instances: the last ones seen
	// stay usable while discovery is unreachable, as go-kit's endpointer
	// keeps its endpoints on an error event.
	if ev.Err == nil {
		in.instances = up
	}
	if sameEvent(in.state, ev) {
		return
	}
	in.state = ev
	close(in.changed)
	in.changed = make(chan struct{})
	for ch := range in.subs {
		ch <- copyEvent(ev)
	}
}

func sameEvent(a, b sd.Event) bool {
	if (a.Err == nil) != (b.Err == nil) {
		return false
	}
	if a.Err != nil && a.Err.Error() != b.Err.Error() {
		return false
	}
	return slices.Equal(a.Instances, b.Instances) && (a.Instances == nil) == (b.Instances == nil)
}

func copyEvent(e sd.Event) sd.Event {
	if e.Instances != nil {
		e.Instances = slices.Clone(e.Instances)
	}
	return e
}

// Register implements sd.Instancer: ch receives the current state at once.
func (in *Instancer) Register(ch chan<- sd.Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.subs[ch] = struct{}{}
	ch <- copyEvent(in.state)
}

// Deregister implements sd.Instancer.
func (in *Instancer) Deregister(ch chan<- sd.Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.subs, ch)
}

// Stop implements sd.Instancer: the blocking query is abandoned.
func (in *Instancer) Stop() {
	in.once.Do(func() {
		in.cancel()
		<-in.done
	})
}

// State returns the latest event.
func (in *Instancer) State() sd.Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return copyEvent(in.state)
}

// Instances returns the UP instances last seen; an error since does not
// clear them.
func (in *Instancer) Instances() []Instance {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.instances)
}

// Changed returns a channel closed at the next change of State.
func (in *Instancer) Changed() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.changed
}

// Index returns the registry index of the latest answer (0 after an error).
func (in *Instancer) Index() uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.index
}

// lastSource returns the discovery URL of the latest answer ("" after an error).
func (in *Instancer) lastSource() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.source
}

// sleep pauses for d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
