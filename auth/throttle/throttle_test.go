package throttle_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/throttle"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

var policy = throttle.Policy{Free: 3, Base: time.Second, Max: 10 * time.Second, Forget: time.Hour}

func TestFreeFailuresThenDoublingBlocks(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := throttle.New(policy, c.Now)
	for i := 0; i < 3; i++ {
		_, ok := l.Check("a")
		assert.True(t, ok)
		assert.Zero(t, l.Fail("a"))
	}
	assert.Equal(t, time.Second, l.Fail("a"), "4th failure: 1 s")
	wait, ok := l.Check("a")
	assert.False(t, ok)
	assert.Equal(t, time.Second, wait)
	_, ok = l.Check("b")
	assert.True(t, ok, "other keys are unaffected")

	c.Advance(time.Second)
	_, ok = l.Check("a")
	assert.True(t, ok, "the block expires")
	assert.Equal(t, 2*time.Second, l.Fail("a"))
	c.Advance(2 * time.Second)
	assert.Equal(t, 4*time.Second, l.Fail("a"))
	c.Advance(4 * time.Second)
	assert.Equal(t, 8*time.Second, l.Fail("a"))
	c.Advance(8 * time.Second)
	assert.Equal(t, 10*time.Second, l.Fail("a"), "capped")
	c.Advance(10 * time.Second)
	assert.Equal(t, 10*time.Second, l.Fail("a"), "still capped: never a permanent lockout")
	c.Advance(10 * time.Second)
	_, ok = l.Check("a")
	assert.True(t, ok)
}

func TestResetAndForget(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := throttle.New(policy, c.Now)
	for i := 0; i < 4; i++ {
		l.Fail("a")
	}
	l.Reset("a")
	_, ok := l.Check("a")
	assert.True(t, ok, "a success clears the key")
	assert.Zero(t, l.Fail("a"), "counting starts over")

	for i := 0; i < 3; i++ {
		l.Fail("b")
	}
	c.Advance(time.Hour + time.Second)
	assert.Zero(t, l.Fail("b"), "failures an hour old are forgotten")

	c.Advance(2 * time.Hour)
	l.Fail("c") // triggers a sweep
	assert.Equal(t, 1, l.Len(), "quiet keys are swept")
}

func TestLoginThrottlesAccountAndClient(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(
		throttle.Policy{Free: 2, Base: time.Second, Max: time.Minute, Forget: time.Hour},
		throttle.Policy{Free: 4, Base: time.Second, Max: time.Minute, Forget: time.Hour},
		c.Now)
	for i := 0; i < 3; i++ {
		lt.Failed("victim@example.org", "10.0.0.1")
	}
	wait, ok := lt.Allow("victim@example.org", "10.0.0.1")
	assert.False(t, ok, "the guessing address is blocked on the account")
	assert.Equal(t, time.Second, wait)
	_, ok = lt.Allow("victim@example.org", "10.0.0.2")
	assert.False(t, ok, "so is an address the account never logged in from")

	_, ok = lt.Allow("other@example.org", "10.0.0.1")
	assert.True(t, ok, "3 failures from one address are below its limit")
	lt.Done("other@example.org", "10.0.0.1")
	lt.Failed("x@example.org", "10.0.0.1")
	lt.Failed("y@example.org", "10.0.0.1")
	_, ok = lt.Allow("fresh@example.org", "10.0.0.1")
	assert.False(t, ok, "credential stuffing from one address is blocked across accounts")

	c.Advance(time.Second)
	lt.Lift("victim@example.org")
	_, ok = lt.Allow("victim@example.org", "10.0.0.9")
	assert.True(t, ok)
}

// Once an account is blocked, every address it has not logged in from
// waits the block out, however many there are; the addresses it has
// logged in from pass, each still held to its own failures.
func TestBlockedAccountLetsOnlyItsKnownAddressesThrough(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	const victim, owner = "pat@example.org", "198.51.100.7"
	loggedIn(t, lt, victim, owner)
	for i := 0; i <= throttle.DefaultAccount.Free; i++ {
		_, ok := lt.Allow(victim, "10.0.0.1")
		require.True(t, ok, i)
		lt.Failed(victim, "10.0.0.1")
		lt.Done(victim, "10.0.0.1")
	}
	require.True(t, accountBlocked(lt, victim))

	wait, ok := lt.Allow(victim, "10.0.0.2")
	assert.False(t, ok, "an address the account never logged in from waits the block out")
	assert.Positive(t, wait)
	_, ok = lt.Allow(victim, owner)
	require.True(t, ok, "the owner's address passes")
	lt.Failed(victim, owner) // a typo
	lt.Done(victim, owner)
	_, ok = lt.Allow(victim, owner)
	require.True(t, ok, "and is held to its own failures only")
	lt.Done(victim, owner)

	lt.Lift(victim) // a password reset
	_, ok = lt.Allow(victim, "10.0.0.2")
	assert.True(t, ok, "a reset lifts the account's block")
	lt.Done(victim, "10.0.0.2")
}

// The owner, who logged in before from their usual address, gets in every
// time, while an attacker takes a fresh IPv6 network (the throttle counts
// an IPv6 client by its /64) for every guess, as fast as it is let: the
// account's blocks pace the guesses whatever number of addresses they
// come from.
func TestAnAttackerCannotLockTheOwnerOutNorOutpaceTheAccount(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	const victim, owner = "pat@example.org", "198.51.100.7"
	loggedIn(t, lt, victim, owner)

	ip := 0
	attackerNext := c.Now()
	attackerGuesses, ownerAdmitted, ownerTries := 0, 0, 0
	ownerNext := c.Now().Add(7 * time.Minute)
	end := c.Now().Add(24 * time.Hour)
	for step := time.Second; c.Now().Before(end); c.Advance(step) {
		now := c.Now()
		if !now.Before(attackerNext) {
			ip++
			addr := fmt.Sprintf("2001:db8:66:%x::/64", ip)
			if wait, ok := lt.Allow(victim, addr); ok {
				attackerGuesses++
				lt.Failed(victim, addr)
				lt.Done(victim, addr)
			} else {
				attackerNext = now.Add(wait)
			}
		}
		if !now.Before(ownerNext) {
			ownerTries++
			if _, ok := lt.Allow(victim, owner); ok {
				ownerAdmitted++
				lt.Succeeded(victim, owner)
				lt.Done(victim, owner)
			}
			ownerNext = now.Add(7 * time.Minute)
		}
	}
	t.Logf("attacker: %d guesses from %d networks in 24 h; owner let through %d times of %d", attackerGuesses, ip, ownerAdmitted, ownerTries)
	assert.Equal(t, ownerTries, ownerAdmitted, "an attacker cannot lock the owner out")
	assert.Less(t, attackerGuesses, 200, "and the account's blocks pace the guesses, from however many addresses")
}

// loggedIn has account log in from client: the address becomes known to it.
func loggedIn(t *testing.T, lt *throttle.Login, account, client string) {
	t.Helper()
	_, ok := lt.Allow(account, client)
	require.True(t, ok)
	lt.Succeeded(account, client)
	lt.Done(account, client)
}

// failedFrom has account fail a login from the i-th of many addresses
// (IPv6 /64 networks), each new to it and let through.
func failedFrom(t *testing.T, lt *throttle.Login, account string, i int) {
	t.Helper()
	addr := fmt.Sprintf("2001:db8:66:%x::/64", i)
	_, ok := lt.Allow(account, addr)
	require.True(t, ok, i)
	lt.Failed(account, addr)
	lt.Done(account, addr)
}

func accountBlocked(lt *throttle.Login, account string) bool {
	_, ok := lt.Account.Check(account)
	return !ok
}

func TestAttemptsInFlightCannotOutrunTheBlock(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := throttle.New(policy, c.Now) // 3 free failures
	l.Fail("a")
	l.Fail("a")
	_, ok := l.Acquire("a")
	require.True(t, ok, "one attempt in flight")
	wait, ok := l.Acquire("a")
	assert.False(t, ok, "2 failures + 1 in flight reach the 3 free: a parallel guess waits")
	assert.Equal(t, time.Second, wait)
	l.Fail("a")
	l.Release("a")
	_, ok = l.Acquire("a")
	assert.True(t, ok, "the next attempt runs once the first has its outcome")
	l.Release("a")

	// A key without failures is bounded only under a strict policy.
	for i := 0; i < 10; i++ {
		_, ok := l.Acquire("clean")
		require.True(t, ok)
	}
	strict := policy
	strict.Strict = true
	s := throttle.New(strict, c.Now)
	for i := 0; i < 3; i++ {
		_, ok := s.Acquire("clean")
		require.True(t, ok, i)
	}
	_, ok = s.Acquire("clean")
	assert.False(t, ok, "a strict policy admits at most Free attempts at once")
	s.Release("clean")
	_, ok = s.Acquire("clean")
	assert.True(t, ok)
}

func TestLoginAllowHoldsBothKeysUntilDone(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	strict := throttle.Policy{Free: 1, Base: time.Second, Max: time.Minute, Forget: time.Hour, Strict: true}
	lt := throttle.NewLogin(strict, strict, c.Now)
	_, ok := lt.Allow("a@example.org", "10.0.0.1")
	require.True(t, ok)
	_, ok = lt.Allow("b@example.org", "10.0.0.1")
	assert.False(t, ok, "the client is busy")
	_, ok = lt.Allow("b@example.org", "10.0.0.2")
	assert.True(t, ok, "the account refused above was released again")
	lt.Done("b@example.org", "10.0.0.2")
	lt.Done("a@example.org", "10.0.0.1")
	_, ok = lt.Allow("a@example.org", "10.0.0.1")
	assert.True(t, ok)
}

// A tracked key costs at most KeyCost bytes, so DefaultMaxKeys bounds what
// the throttle holds; names are as long as a login throttle's longest (an
// email of 40 characters with an IPv6 network).
func TestKeyMemory(t *testing.T) {
	const n = 50_000
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := throttle.New(throttle.Policy{Free: 5, Base: time.Second, Max: time.Minute, Forget: time.Hour}, c.Now)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("someone.with.a.long.name%06d@example.org\x002001:db8:%x:%x::/64", i, i>>16, i&0xffff)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, k := range keys {
		l.Fail(k)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, n, l.Len())
	keyBytes := 0
	for _, k := range keys {
		keyBytes += len(k)
	}
	// The names are counted in the heap: the limiter keeps its own copy.
	per := int(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d B per key (%d B of name)", per, keyBytes/n)
	assert.LessOrEqual(t, per, throttle.KeyCost)
	assert.Less(t, 4*throttle.DefaultMaxKeys*throttle.KeyCost, 128<<20,
		"a login throttle's three limiters and its known addresses stay within half of auth's 256 MiB pod limit")

	small := throttle.New(throttle.Policy{Free: 5, Base: time.Second, Max: time.Minute, Forget: time.Hour, MaxKeys: 3}, c.Now)
	for i := 0; i < 5; i++ {
		small.Fail(fmt.Sprint(i))
	}
	assert.Equal(t, 3, small.Len(), "MaxKeys bounds the keys tracked")

	lt := throttle.NewLogin(throttle.Policy{Free: 5, Base: time.Second, Max: time.Minute, Forget: time.Hour, MaxKeys: 2 * throttle.KnownPerAccount},
		throttle.DefaultClient, c.Now)
	for i := 0; i < 10; i++ {
		loggedIn(t, lt, "pat@example.org", fmt.Sprint("10.0.0.", i))
	}
	assert.Equal(t, throttle.KnownPerAccount, lt.Len(), "an account keeps its most recent addresses known")
	loggedIn(t, lt, "kim@example.org", "10.0.1.1")
	loggedIn(t, lt, "lee@example.org", "10.0.1.2")
	assert.Equal(t, 2, lt.Len(), "and the accounts, the least recent leaving first")
}

// The throttle keeps its own copy of each key: a key that is a slice of a
// far larger string (an address trimmed from a request) does not keep that
// string alive, so KeyCost holds whatever the caller passes.
func TestKeysAreCopiedNotPinned(t *testing.T) {
	const n, big = 200, 64 << 10
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	slice := func(s string) string {
		whole := strings.Repeat(" ", big) + s
		return whole[big:]
	}
	before := heap()
	for i := 0; i < n; i++ {
		account := slice(fmt.Sprintf("nobody%05d@example.org", i))
		client := slice(fmt.Sprintf("198.18.%d.%d", i/250, i%250+1))
		lt.Failed(account, client)
		lt.Succeeded(account, client) // known addresses too
	}
	per := int64(heap()-before) / n
	t.Logf("%d B kept per account", per)
	assert.Less(t, per, int64(8*throttle.KeyCost), "the keys pin the %d KiB strings they were sliced from", big>>10)
	assert.Equal(t, n, lt.Account.Len())
}

// One self-registered account logging in from DefaultMaxKeys IPv6 /64s
// keeps KnownPerAccount of them: an owner's new address is still
// remembered, and the attacker's guesses do not lock the owner out.
func TestOneAccountCannotCrowdOthersOutOfTheKnownAddresses(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	const mallory = "mallory@example.org"
	for i := 0; i < throttle.DefaultMaxKeys; i++ {
		addr := fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff)
		_, ok := lt.Allow(mallory, addr)
		require.True(t, ok)
		lt.Succeeded(mallory, addr)
		lt.Done(mallory, addr)
	}
	c.Advance(time.Hour)

	const victim, owner = "pat@example.org", "198.51.100.7"
	loggedIn(t, lt, victim, owner) // the owner's phone, right password

	for i := 0; i <= throttle.DefaultAccount.Free; i++ {
		failedFrom(t, lt, victim, i)
	}
	_, ok := lt.Allow(victim, owner)
	assert.True(t, ok, "the owner's usual devices keep getting in however many addresses guess")
}

// Guesses from other addresses keep to the account's pace (about 110 a day
// at the longest blocks) also for an attacker who waits for the account's
// count to be forgotten instead of sitting through the longest blocks: it
// is kept a day.
func TestAPatientGuesserKeepsToTheAccountsPace(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	const victim = "pat@example.org"
	ip, guesses := 0, 0
	var last time.Time
	end := c.Now().Add(24 * time.Hour)
	for c.Now().Before(end) {
		ip++
		addr := fmt.Sprintf("2001:db8:66:%x::/64", ip)
		wait, ok := lt.Allow(victim, addr)
		if ok {
			guesses++
			lt.Failed(victim, addr)
			lt.Done(victim, addr)
			last = c.Now()
			continue
		}
		if wait <= 512*time.Second {
			c.Advance(wait)
		} else {
			// wait for the account's failures to be forgotten, were it an hour
			c.Advance(last.Add(time.Hour + time.Second).Sub(c.Now()))
		}
	}
	t.Logf("%d guesses in 24 h from %d addresses", guesses, ip)
	assert.LessOrEqual(t, guesses, 130, "about 110 a day")
}

// A password reset after a takeover lifts every block and leaves no
// address known: the thief's no longer passes the account's block while it
// guesses the new password.
func TestAResetForgetsTheAddressesThatKnewTheOldPassword(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	const victim, thief = "pat@example.org", "203.0.113.66"
	loggedIn(t, lt, victim, thief) // stolen password
	lt.Lift(victim)                // the owner resets the password
	for i := 0; i <= throttle.DefaultAccount.Free; i++ {
		failedFrom(t, lt, victim, i)
	}
	require.True(t, accountBlocked(lt, victim))
	_, ok := lt.Allow(victim, thief)
	assert.False(t, ok, "the thief's address no longer passes the account's block")
}

// An address stays known to the account for KnownFor after its last
// successful login, no longer: one the owner stopped using (a hotel's, a
// sold phone's) does not pass the account's block for ever.
func TestAKnownAddressPassesTheAccountsBlockForKnownForOnly(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	const victim, owner = "pat@example.org", "198.51.100.7"
	loggedIn(t, lt, victim, owner)

	c.Advance(throttle.KnownFor - time.Minute)
	for i := 0; i <= throttle.DefaultAccount.Free; i++ {
		failedFrom(t, lt, victim, i)
	}
	require.True(t, accountBlocked(lt, victim))
	_, ok := lt.Allow(victim, owner)
	require.True(t, ok, "known a minute before KnownFor ends")
	lt.Done(victim, owner)

	c.Advance(time.Minute)
	failedFrom(t, lt, victim, 100)
	require.True(t, accountBlocked(lt, victim))
	_, ok = lt.Allow(victim, owner)
	assert.False(t, ok, "an address last used KnownFor ago waits the account's block out like any other")
}

// A successful login clears the failures of its address on the account:
// the owner's typos before it do not add up with those after it into a
// block of their own address.
func TestASuccessClearsTheFailuresOfItsAddressOnTheAccount(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	const owner, home = "pat@example.org", "198.51.100.7"
	typo := func() {
		t.Helper()
		_, ok := lt.Allow(owner, home)
		require.True(t, ok)
		lt.Failed(owner, home)
		lt.Done(owner, home)
	}
	loggedIn(t, lt, owner, home)
	for i := 0; i < throttle.DefaultAccount.Free; i++ {
		typo()
	}
	loggedIn(t, lt, owner, home)
	typo()
	_, ok := lt.Allow(owner, home)
	assert.True(t, ok, "the failures before the success still count against the owner's address")
	lt.Done(owner, home)
}

// An attempt the account's block refuses holds nothing: once the block
// expires, an address refused any number of times meanwhile tries again.
func TestAttemptsRefusedByTheAccountsBlockHoldNothing(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	lt := throttle.NewLogin(throttle.DefaultAccount, throttle.DefaultClient, c.Now)
	const victim, other = "pat@example.org", "198.51.100.7"
	for i := 0; i <= throttle.DefaultAccount.Free; i++ {
		failedFrom(t, lt, victim, i)
	}
	var wait time.Duration
	for i := 0; i < 2*throttle.DefaultAccount.Free; i++ {
		w, ok := lt.Allow(victim, other)
		require.False(t, ok, "the account is blocked")
		wait = w
	}
	c.Advance(wait)
	_, ok := lt.Allow(victim, other)
	assert.True(t, ok, "the refused attempts kept the address busy on the account")
	lt.Done(victim, other)
}

// A key whose failures are forgotten is a fresh key for the attempts in
// flight too: its old failures no longer make parallel attempts wait.
func TestForgottenFailuresNoLongerBoundTheAttemptsInFlight(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	l := throttle.New(policy, c.Now) // 3 free failures, forgotten after an hour
	for i := 0; i < 3; i++ {
		l.Fail("a")
	}
	c.Advance(time.Hour + time.Second)
	for i := 0; i < 3; i++ {
		_, ok := l.Acquire("a")
		assert.True(t, ok, "attempt %d at once, an hour after the last failure", i)
	}
}
