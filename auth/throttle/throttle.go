// Package throttle slows down password guessing: after a number of free
// failures, each further failure blocks a key (an account, an account from
// one client address, or a client address) for a window that doubles up
// to a cap. Windows expire and quiet keys are forgotten, and an account's
// own block never stops an address the account logged in from before, so
// its owner is not locked out by others' guesses.
package throttle

import (
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
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
	// bounded.
	Strict bool
	// MaxKeys bounds memory (0 is DefaultMaxKeys): beyond it new keys are
	// not tracked until a sweep frees room. Throttling then fails open
	// rather than growing without bound under an attack from very many
	// addresses.
	MaxKeys int
}

// DefaultMaxKeys is the most keys one limiter tracks. A key costs about
// 160–180 bytes with its name (TestKeyMemory; at most KeyCost), so the
// three limiters of a login throttle and its known addresses hold at most
// 4 × 100,000 × 250 B = 100 MB, inside auth's 256 MiB pod limit beside the
// hashing workers (19 MiB each) and the rest of the service.
const DefaultMaxKeys = 100_000

// KeyCost bounds the heap a tracked key costs, its name included, with
// names as long as a login throttle's longest (an email and an IPv6
// network); the map's growth is the headroom above the measured figure.
const KeyCost = 250

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
	if p.MaxKeys <= 0 {
		p.MaxKeys = DefaultMaxKeys
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
	return l.acquire(key, false)
}

// acquire is Acquire; pass admits the attempt whatever key's block and
// attempts in flight (an address known to the account), counting it in
// flight all the same, so that Release stays paired. l.mu is not held.
func (l *Limiter) acquire(key string, pass bool) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if pass {
		l.inflight[key]++
		return 0, true
	}
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
		if len(l.entries) >= l.policy.MaxKeys {
			return 0
		}
		e = &entry{}
		// Its own copy: a caller's key may be a slice of a far larger
		// string (a request body), which the map would otherwise pin.
		l.entries[strings.Clone(key)] = e
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

// resetPrefix forgets every key starting with prefix.
func (l *Limiter) resetPrefix(prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.entries {
		if strings.HasPrefix(k, prefix) {
			delete(l.entries, k)
		}
	}
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

// Login throttles failed logins per account, per account and client
// address together, and per client address.
//
// An address is refused while its own failures on the account (Pair) or
// across accounts (Client) block it. The account's failures from every
// address (Account) block every address but those the account has logged
// in from before (known, for KnownFor): the owner's usual devices keep
// getting in however many addresses guess, while guesses from anywhere
// else keep to the account's pace, whatever number of addresses they come
// from. An owner at a new address during an attack waits with the
// attacker; a password reset lifts every block of the account.
type Login struct {
	Account *Limiter
	Pair    *Limiter
	Client  *Limiter
	known   *known
}

// DefaultAccount allows 5 free failures per account (and per account from
// one address), then blocks for 1 s, 2 s, 4 s... up to 15 minutes; a day
// without failures forgets them: forgotten after an hour, they let a
// patient guesser start afresh with 5 free guesses and short blocks every
// hour, about 300 a day instead of 110. The owner's own addresses pass the
// account's block (Login), so the longer memory costs them nothing. An
// account rarely logs in in parallel, so beyond 5 attempts at once the
// others wait.
var DefaultAccount = Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour, Strict: true}

// DefaultClient allows 20 free failures per client address (across
// accounts, against credential stuffing), then backs off the same way. At
// most 20 attempts of one address are in flight at once, so that a burst
// sent before any outcome is recorded cannot outrun the allowance; a NAT
// rarely has that many logins hashing at once, and one refused retries
// after a second.
var DefaultClient = Policy{Free: 20, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour, Strict: true}

// KnownFor is how long an address the account logged in from stays known
// to it (passing the account's block) after its last success.
const KnownFor = 30 * 24 * time.Hour

// NewLogin returns a login throttle with the given policies; the account
// policy serves the account and client pairs as well, and bounds the
// known addresses.
func NewLogin(account, client Policy, now func() time.Time) *Login {
	a := New(account, now)
	return &Login{Account: a, Pair: New(account, now), Client: New(client, now),
		known: newKnown(max(1, a.policy.MaxKeys/KnownPerAccount), a.now)}
}

// pairKey names an account tried from one client address.
func pairKey(account, client string) string { return account + "\x00" + client }

// Allow reports whether a login for account from client may be tried now,
// and otherwise how long to wait. An allowed attempt must be ended with
// Done, after Failed or Succeeded.
func (t *Login) Allow(account, client string) (time.Duration, bool) {
	pair := pairKey(account, client)
	wp, okP := t.Pair.Acquire(pair)
	if !okP {
		return wp, false
	}
	// The account's block is not for an address it logged in from before.
	wa, okA := t.Account.acquire(account, t.known.has(account, client))
	if !okA {
		t.Pair.Release(pair)
		wc, _ := t.Client.Check(client)
		return max(wa, wc), false
	}
	wc, okC := t.Client.Acquire(client)
	if !okC {
		t.Account.Release(account)
		t.Pair.Release(pair)
		return wc, false
	}
	return 0, true
}

// Done ends an attempt that Allow admitted.
func (t *Login) Done(account, client string) {
	t.Account.Release(account)
	t.Pair.Release(pairKey(account, client))
	t.Client.Release(client)
}

// Failed records a failed login.
func (t *Login) Failed(account, client string) {
	t.Account.Fail(account)
	t.Pair.Fail(pairKey(account, client))
	t.Client.Fail(client)
}

// Succeeded clears the failures of the address on the account and makes
// it known to the account. The account's count stays, as the ceiling on
// the other addresses, which an owner's frequent logins would otherwise
// keep lifting. The address's failures on other accounts stay: one success
// among many failures is what credential stuffing looks like.
func (t *Login) Succeeded(account, client string) {
	t.Pair.Reset(pairKey(account, client))
	t.known.add(account, client)
}

// Lift lifts every block on the account, each address's included, and
// leaves no address known to it: a password reset (which proves control of
// the mailbox, from an address not known here) or change, after which an
// address that knew the old password may be a thief's.
func (t *Login) Lift(account string) {
	t.Account.Reset(account)
	t.Pair.resetPrefix(pairKey(account, ""))
	t.known.forget(account)
}

// known holds the addresses each account logged in from, each until
// KnownFor after its last success: at most KnownPerAccount an account (the
// most recent), and at most max accounts, the least recently successful
// leaving first. Only a correct password adds to it, and a reset or a
// password change empties the account's: an address that knew the old
// password is no longer the owner's.
type known struct {
	accounts *lru.Cache[string, []knownAddr]
	now      func() time.Time
}

type knownAddr struct {
	client string
	at     time.Time
}

// KnownPerAccount is how many addresses an account keeps known: the
// devices and networks of one person, not an attacker's thousands.
const KnownPerAccount = 8

func newKnown(maxAccounts int, now func() time.Time) *known {
	c, _ := lru.New[string, []knownAddr](maxAccounts) // errors only for a size < 1
	return &known{accounts: c, now: now}
}

func (k *known) has(account, client string) bool {
	addrs, _ := k.accounts.Peek(account)
	for _, a := range addrs {
		if a.client == client {
			return k.now().Sub(a.at) < KnownFor
		}
	}
	return false
}

func (k *known) add(account, client string) {
	now := k.now()
	old, _ := k.accounts.Peek(account)
	addrs := make([]knownAddr, 0, KnownPerAccount)
	addrs = append(addrs, knownAddr{client: strings.Clone(client), at: now})
	for _, a := range old {
		if a.client != client && now.Sub(a.at) < KnownFor && len(addrs) < KnownPerAccount {
			addrs = append(addrs, a)
		}
	}
	// Own copies, as in Limiter.Fail.
	k.accounts.Add(strings.Clone(account), addrs)
}

func (k *known) forget(account string) { k.accounts.Remove(account) }

func (k *known) len() int {
	n := 0
	for _, addrs := range k.accounts.Values() {
		n += len(addrs)
	}
	return n
}

// Len returns how many keys the three limiters and the known addresses
// hold.
func (t *Login) Len() int {
	return t.Account.Len() + t.Pair.Len() + t.Client.Len() + t.known.len()
}
