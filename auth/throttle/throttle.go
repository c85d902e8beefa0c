// Package throttle slows down password guessing: after a number of free
// failures, each further failure blocks a key (an account or a client
// address) for a window that doubles up to a cap. Windows expire and quiet
// keys are forgotten, so nobody is locked out for good.
package throttle

import (
	"sync"
	"time"
)

// Policy describes how a key is throttled.
type Policy struct {
	// Free is how many failures pass before any block.
	Free int
	// Base is the first block; each further failure doubles it.
	Base time.Duration
	// Max caps a block.
	Max time.Duration
	// Forget drops a key whose last failure is older than this.
	Forget time.Duration
	// Strict bounds attempts in flight even for a key without failures
	// (at most Free at once). Without it only a key with failures is
	// bounded, which suits client addresses: one may be a busy NAT.
	Strict bool
}

// maxEntries bounds memory: beyond it new keys are not tracked until a
// sweep frees room. Throttling then fails open rather than growing without
// bound under an attack from very many addresses.
const maxEntries = 1_000_000

// Limiter tracks failures per key, in memory. Safe for concurrent use.
type Limiter struct {
	policy    Policy
	now       func() time.Time
	mu        sync.Mutex
	entries   map[string]*entry
	inflight  map[string]int // attempts admitted by Acquire, not yet released
	lastSweep time.Time
}

type entry struct {
	failures     int
	lastFailure  time.Time
	blockedUntil time.Time
}

// New returns a limiter; now is the clock (nil means time.Now).
func New(p Policy, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{policy: p, now: now, entries: map[string]*entry{}, inflight: map[string]int{}}
}

// Check reports whether key may try now, and if not, how long it must wait.
func (l *Limiter) Check(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, wait, ok := l.check(key, l.now())
	return wait, ok
}

// check returns key's live entry (nil if none) and whether it is blocked;
// l.mu is held.
func (l *Limiter) check(key string, now time.Time) (*entry, time.Duration, bool) {
	e := l.entries[key]
	if e == nil {
		return nil, 0, true
	}
	if now.Sub(e.lastFailure) > l.policy.Forget && !now.Before(e.blockedUntil) {
		delete(l.entries, key)
		return nil, 0, true
	}
	if now.Before(e.blockedUntil) {
		return e, e.blockedUntil.Sub(now), false
	}
	return e, 0, true
}

// Acquire is Check for an attempt about to run; an admitted attempt holds
// its key until Release. Attempts decided in parallel would all pass a check
// made before the first of them fails, so a burst of guesses would outrun
// the blocks: once failures plus attempts in flight reach Free, a further
// attempt waits until the one in flight has its outcome recorded.
func (l *Limiter) Acquire(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, wait, ok := l.check(key, l.now())
	if !ok {
		return wait, false
	}
	n := l.inflight[key]
	failures := 0
	if e != nil {
		failures = e.failures
	}
	if n > 0 && (e != nil || l.policy.Strict) && failures+n >= l.policy.Free {
		return max(l.policy.Base, time.Second), false
	}
	l.inflight[key] = n + 1
	return 0, true
}

// Release ends an attempt admitted by Acquire; record its failure (Fail)
// before releasing it.
func (l *Limiter) Release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.inflight[key]; n > 1 {
		l.inflight[key] = n - 1
	} else {
		delete(l.inflight, key)
	}
}

// Fail records a failure of key and returns the block it now has (0 if none).
func (l *Limiter) Fail(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	e := l.entries[key]
	if e != nil && now.Sub(e.lastFailure) > l.policy.Forget && !now.Before(e.blockedUntil) {
		e = nil
	}
	if e == nil {
		if len(l.entries) >= maxEntries {
			return 0
		}
		e = &entry{}
		l.entries[key] = e
	}
	e.failures++
	e.lastFailure = now
	over := e.failures - l.policy.Free
	if over <= 0 {
		return 0
	}
	block := l.policy.Base
	for i := 1; i < over && block < l.policy.Max; i++ {
		block *= 2
	}
	if block > l.policy.Max {
		block = l.policy.Max
	}
	e.blockedUntil = now.Add(block)
	return block
}

// Reset forgets key, after a success.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// Len returns how many keys are tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// sweep drops forgotten keys at most once a minute; l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for k, e := range l.entries {
		if now.Sub(e.lastFailure) > l.policy.Forget && !now.Before(e.blockedUntil) {
			delete(l.entries, k)
		}
	}
}

// Login throttles failed logins per account and per client address.
type Login struct {
	Account *Limiter
	Client  *Limiter
}

// DefaultAccount allows 5 free failures per account, then blocks for 1 s,
// 2 s, 4 s... up to 15 minutes; an hour without failures forgets them. An
// account rarely logs in in parallel, so beyond 5 attempts at once the
// others wait.
var DefaultAccount = Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour, Strict: true}

// DefaultClient allows 20 free failures per client address (across
// accounts, against credential stuffing), then backs off the same way.
var DefaultClient = Policy{Free: 20, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}

// NewLogin returns a login throttle with the given policies.
func NewLogin(account, client Policy, now func() time.Time) *Login {
	return &Login{Account: New(account, now), Client: New(client, now)}
}

// Allow reports whether a login for account from client may be tried now,
// and otherwise how long to wait. An allowed attempt must be ended with
// Done, after Failed or Succeeded.
func (t *Login) Allow(account, client string) (time.Duration, bool) {
	wa, okA := t.Account.Acquire(account)
	if !okA {
		wc, _ := t.Client.Check(client)
		return max(wa, wc), false
	}
	wc, okC := t.Client.Acquire(client)
	if !okC {
		t.Account.Release(account)
		return wc, false
	}
	return 0, true
}

// Done ends an attempt that Allow admitted.
func (t *Login) Done(account, client string) {
	t.Account.Release(account)
	t.Client.Release(client)
}

// Failed records a failed login.
func (t *Login) Failed(account, client string) {
	t.Account.Fail(account)
	t.Client.Fail(client)
}

// Succeeded clears the account's failures. The client's stay: one success
// among many failures is what credential stuffing looks like.
func (t *Login) Succeeded(account string) { t.Account.Reset(account) }
