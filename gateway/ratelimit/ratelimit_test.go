package ratelimit

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/clock/clocktest"
)

func newClock() *clocktest.Clock { return clocktest.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) }

func TestBucketAndHeaders(t *testing.T) {
	c := newClock()
	l := New(Policy{Name: "strict", RPS: 0.5, Burst: 3}, WithClock(c.Now))
	k := AddrKey(netip.MustParseAddr("198.51.100.1"))

	for i := 2; i >= 0; i-- {
		d := l.Allow(context.Background(), k)
		require.True(t, d.Allowed)
		assert.Equal(t, i, d.Remaining)
	}
	d := l.Allow(context.Background(), k)
	require.False(t, d.Allowed)
	assert.Equal(t, 0, d.Remaining)
	assert.Equal(t, 2*time.Second, d.Reset, "one token every 2 s")
	assert.Equal(t, 2, RetryAfterSeconds(d))

	h := http.Header{}
	l.SetHeaders(h, d)
	assert.Equal(t, `"strict";q=3;w=6`, h.Get("RateLimit-Policy"))
	assert.Equal(t, `"strict";r=0;t=2`, h.Get("RateLimit"))

	c.Advance(2 * time.Second)
	d = l.Allow(context.Background(), k)
	assert.True(t, d.Allowed, "refilled")
	assert.Equal(t, 6*time.Second, d.Reset, "full again in 6 s")

	other := AddrKey(netip.MustParseAddr("198.51.100.2"))
	assert.True(t, l.Allow(context.Background(), other).Allowed, "buckets are per client")
}

func TestUserAndAddressKeysAreDistinct(t *testing.T) {
	c := newClock()
	l := New(Policy{Name: "general", RPS: 1, Burst: 1}, WithClock(c.Now))
	assert.True(t, l.Allow(context.Background(), UserKey("u1")).Allowed)
	assert.False(t, l.Allow(context.Background(), UserKey("u1")).Allowed)
	assert.True(t, l.Allow(context.Background(), UserKey("u2")).Allowed)
	assert.True(t, l.Allow(context.Background(), AddrKey(netip.MustParseAddr("10.0.0.1"))).Allowed)
}

func TestIPv6GroupedBy64(t *testing.T) {
	a := AddrKey(netip.MustParseAddr("2001:db8:1:2::1"))
	b := AddrKey(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	c := AddrKey(netip.MustParseAddr("2001:db8:1:3::1"))
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	v4 := AddrKey(netip.MustParseAddr("192.0.2.1"))
	assert.Equal(t, "192.0.2.1", v4.Addr.String())
}

func TestIdleBucketsAreEvicted(t *testing.T) {
	c := newClock()
	l := New(Policy{Name: "general", RPS: 10, Burst: 20}, WithClock(c.Now))
	for i := range 1000 {
		l.Allow(context.Background(), AddrKey(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})))
	}
	assert.Equal(t, 1000, l.Len())
	c.Advance(time.Second)
	active := AddrKey(netip.MustParseAddr("192.0.2.1"))
	l.Allow(context.Background(), active)
	assert.Equal(t, 0, l.Sweep(), "not idle yet: the buckets are not full again")
	c.Advance(time.Second)
	assert.Equal(t, 1000, l.Sweep(), "full again after burst/rps = 2 s: dropped")
	assert.Equal(t, 1, l.Len(), "the recently seen bucket stays")
	assert.EqualValues(t, 1000, l.Evicted())
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	c := newClock()
	l := New(Policy{Name: "general", RPS: 1, Burst: 5}, WithClock(c.Now), WithMaxKeys(320))
	for i := range 10_000 {
		c.Advance(time.Millisecond)
		l.Allow(context.Background(), UserKey("user-"+strconv.Itoa(i)))
	}
	assert.LessOrEqual(t, l.Len(), 320+shardCount, "each shard holds at most its share")
	assert.Positive(t, l.Evicted())
}

func TestDisabledClass(t *testing.T) {
	l := New(Policy{Name: "general", RPS: 0, Burst: 10})
	assert.Nil(t, l)
	assert.True(t, l.Allow(context.Background(), UserKey("x")).Allowed)
	h := http.Header{}
	l.SetHeaders(h, Decision{})
	assert.Empty(t, h)
	assert.Zero(t, l.Sweep())
	assert.Zero(t, l.Len())
}

func BenchmarkAllow(b *testing.B) {
	l := New(Policy{Name: "general", RPS: 1e9, Burst: 1e9})
	k := UserKey("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(context.Background(), k)
	}
}
