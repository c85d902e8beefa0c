// Package ratelimit keeps one token bucket per client for a rate-limit
// class, evicts idle buckets so that memory stays bounded under many
// clients, and formats the RateLimit and RateLimit-Policy headers of the
// IETF httpapi draft.
package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/medisync/medisync/shared/clock"
)

// Policy is one class: a bucket of Burst tokens refilled at RPS per second.
type Policy struct {
	Name  string
	RPS   float64
	Burst int
}

// Key identifies a client: the user when the request carries a verified
// token, else the client address.
type Key struct {
	User string
	Addr netip.Addr
}

// AddrKey keys a client by address; IPv6 clients are grouped by /64, the
// block one subscriber usually holds, so that rotating addresses inside it
// does not earn fresh buckets.
func AddrKey(a netip.Addr) Key {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return Key{Addr: a}
}

// UserKey keys a client by user ID.
func UserKey(id string) Key { return Key{User: id} }

// Decision is the outcome of one request.
type Decision struct {
	Allowed bool
	// Remaining is the whole tokens left after this request.
	Remaining int
	// Reset is when the bucket is full again, or, when refused, when the
	// next token arrives.
	Reset time.Duration
}

const shardCount = 32

// DefaultMaxKeys bounds the buckets held by one limiter.
const DefaultMaxKeys = 100_000

type bucket struct {
	lim      *rate.Limiter
	lastSeen atomic.Int64 // unix nanoseconds
}

type shard struct {
	mu      sync.Mutex
	buckets map[Key]*bucket
}

// Limiter holds the buckets of one class.
type Limiter struct {
	policy  Policy
	now     func() time.Time
	idle    time.Duration
	maxKeys int
	seed    maphash.Seed
	shards  [shardCount]shard
	header  string
	// policyHeader is the RateLimit-Policy value, shared by every answer
	// and never modified.
	policyHeader []string
	evicted      atomic.Int64

	shared   Shared
	observer SharedObserver
	// sharedDownUntil is when the shared store is tried again after a
	// failure (unix nanoseconds); until then decisions are local.
	sharedDownUntil atomic.Int64
	sharedDown      atomic.Bool
}

// SharedObserver is told when the shared store fails and the limiter falls
// back to its local buckets, and when it answers again.
type SharedObserver struct {
	// Down is called once per outage, with the error that began it.
	Down func(err error)
	// Up is called when the store answers again after an outage.
	Up func()
	// Fallback is called for every decision taken locally during an outage.
	Fallback func()
}

// SharedRetry is how long the limiter decides locally after the shared
// store failed before it tries the store again: a dead store then costs one
// failed round trip a second, not one per request.
const SharedRetry = time.Second

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithMaxKeys bounds the number of buckets; at the bound the least useful
// bucket of a shard is dropped, which can only ever let a client through
// more often, never less.
func WithMaxKeys(n int) Option { return func(l *Limiter) { l.maxKeys = n } }

// WithShared keeps the buckets in s, shared with other gateways. When s
// fails, the limiter decides with its own local buckets (as if it were
// alone) and tries s again after SharedRetry; obs hears of it.
func WithShared(s Shared, obs SharedObserver) Option {
	return func(l *Limiter) { l.shared, l.observer = s, obs }
}

// New returns a limiter for p, or nil when p.RPS is not positive (the class
// is off). A nil *Limiter allows everything.
func New(p Policy, opts ...Option) *Limiter {
	if p.RPS <= 0 {
		return nil
	}
	if p.Burst < 1 {
		p.Burst = 1
	}
	l := &Limiter{policy: p, now: time.Now, maxKeys: DefaultMaxKeys, seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(l)
	}
	// A bucket left alone this long is full again, and a new one starts
	// full, so evicting it never changes a decision.
	l.idle = time.Duration(float64(p.Burst) / p.RPS * float64(time.Second))
	if l.idle < time.Second {
		l.idle = time.Second
	}
	for i := range l.shards {
		l.shards[i].buckets = make(map[Key]*bucket)
	}
	window := int(math.Ceil(float64(p.Burst) / p.RPS))
	l.header = `"` + p.Name + `";q=` + strconv.Itoa(p.Burst) + ";w=" + strconv.Itoa(window)
	l.policyHeader = []string{l.header}
	return l
}

// Policy returns the class's policy.
func (l *Limiter) Policy() Policy { return l.policy }

func (l *Limiter) shard(k Key) *shard {
	var h maphash.Hash
	h.SetSeed(l.seed)
	if k.User != "" {
		h.WriteString(k.User)
	} else {
		b := k.Addr.As16()
		h.Write(b[:])
	}
	return &l.shards[h.Sum64()%shardCount]
}

// Allow takes one token from k's bucket.
func (l *Limiter) Allow(ctx context.Context, k Key) Decision {
	if l == nil {
		return Decision{Allowed: true}
	}
	now := l.now()
	if l.shared != nil {
		if d, ok := l.allowShared(ctx, k, now); ok {
			return d
		}
	}
	s := l.shard(k)
	s.mu.Lock()
	b, ok := s.buckets[k]
	if !ok {
		if len(s.buckets) >= l.maxKeys/shardCount+1 {
			l.makeRoom(s, now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.policy.RPS), l.policy.Burst)}
		s.buckets[k] = b
	}
	b.lastSeen.Store(now.UnixNano())
	s.mu.Unlock()

	allowed := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	d := Decision{Allowed: allowed, Remaining: int(math.Max(0, math.Floor(tokens)))}
	if allowed {
		d.Reset = l.seconds(float64(l.policy.Burst) - tokens)
	} else {
		d.Reset = l.seconds(1 - tokens)
	}
	return d
}

// allowShared asks the shared store unless it is resting after a failure;
// false means the decision is to be taken locally.
func (l *Limiter) allowShared(ctx context.Context, k Key, now time.Time) (Decision, bool) {
	if now.UnixNano() < l.sharedDownUntil.Load() {
		if l.observer.Fallback != nil {
			l.observer.Fallback()
		}
		return Decision{}, false
	}
	d, err := l.shared.Take(ctx, k.String(), l.policy)
	if err != nil && ctx.Err() != nil {
		// The caller went away (the client hung up): that is no outage of
		// the store, and marking it down would send every client to local
		// buckets. The request goes nowhere (forwarding a cancelled request
		// fails at once), so it is allowed, spending nobody's budget.
		return Decision{Allowed: true}, true
	}
	if err != nil {
		l.sharedDownUntil.Store(now.Add(SharedRetry).UnixNano())
		if !l.sharedDown.Swap(true) && l.observer.Down != nil {
			l.observer.Down(err)
		}
		if l.observer.Fallback != nil {
			l.observer.Fallback()
		}
		return Decision{}, false
	}
	if l.sharedDown.Swap(false) && l.observer.Up != nil {
		l.observer.Up()
	}
	return d, true
}

// String is the key's name in a shared store: "u:" and the user ID, or
// "a:" and the address.
func (k Key) String() string {
	if k.User != "" {
		return "u:" + k.User
	}
	return "a:" + k.Addr.String()
}

// seconds is how long n tokens take to arrive.
func (l *Limiter) seconds(n float64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(n / l.policy.RPS * float64(time.Second))
}

// makeRoom drops idle buckets of a full shard, or, if none is idle, the one
// seen longest ago. Called with s.mu held.
func (l *Limiter) makeRoom(s *shard, now time.Time) {
	if n := l.sweepShard(s, now); n > 0 {
		return
	}
	var oldest Key
	var oldestSeen int64 = math.MaxInt64
	for k, b := range s.buckets {
		if seen := b.lastSeen.Load(); seen < oldestSeen {
			oldest, oldestSeen = k, seen
		}
	}
	delete(s.buckets, oldest)
	l.evicted.Add(1)
}

func (l *Limiter) sweepShard(s *shard, now time.Time) int {
	cutoff := now.Add(-l.idle).UnixNano()
	n := 0
	for k, b := range s.buckets {
		if b.lastSeen.Load() <= cutoff {
			delete(s.buckets, k)
			n++
		}
	}
	l.evicted.Add(int64(n))
	return n
}

// Sweep evicts every idle bucket and returns how many it dropped.
func (l *Limiter) Sweep() int {
	if l == nil {
		return 0
	}
	now := l.now()
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += l.sweepShard(s, now)
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// Evicted returns how many buckets were dropped so far.
func (l *Limiter) Evicted() int64 {
	if l == nil {
		return 0
	}
	return l.evicted.Load()
}

// Run sweeps idle buckets every interval until ctx ends.
func (l *Limiter) Run(ctx context.Context, interval time.Duration) {
	if l == nil {
		return
	}
	clock.Every(ctx, interval, func() { l.Sweep() })
}

// SetHeaders writes RateLimit-Policy and RateLimit for d; a refusal's
// Retry-After comes with its problem (see RetryAfterSeconds).
func (l *Limiter) SetHeaders(h http.Header, d Decision) {
	if l == nil {
		return
	}
	reset := int64(math.Ceil(d.Reset.Seconds()))
	var buf [96]byte
	b := append(buf[:0], '"')
	b = append(b, l.policy.Name...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, reset, 10)
	h["Ratelimit-Policy"] = l.policyHeader
	h["Ratelimit"] = []string{string(b)}
}

// RetryAfterSeconds is the whole seconds a refused client should wait.
func RetryAfterSeconds(d Decision) int {
	s := int(math.Ceil(d.Reset.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
