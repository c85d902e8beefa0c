package throttle_test

import (
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
	wait, ok := lt.Allow("victim@example.org", "10.0.0.2")
	assert.False(t, ok, "the account is blocked whatever the address")
	assert.Equal(t, time.Second, wait)

	_, ok = lt.Allow("other@example.org", "10.0.0.1")
	assert.True(t, ok, "3 failures from one address are below its limit")
	lt.Failed("x@example.org", "10.0.0.1")
	lt.Failed("y@example.org", "10.0.0.1")
	_, ok = lt.Allow("fresh@example.org", "10.0.0.1")
	assert.False(t, ok, "credential stuffing from one address is blocked across accounts")

	c.Advance(time.Second)
	lt.Succeeded("victim@example.org")
	_, ok = lt.Allow("victim@example.org", "10.0.0.9")
	assert.True(t, ok)
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
