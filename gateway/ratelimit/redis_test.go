package ratelimit_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/runtest"
)

// sharedRedis is the Redis of scripts/redis-up.sh; the tests skip without
// it, except under CI=true where a skipped infrastructure test fails.
func sharedRedis(t *testing.T) string {
	t.Helper()
	const url = "redis://127.0.0.1:6379/0"
	c, err := ratelimit.NewRedisClient(url)
	require.NoError(t, err)
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis on 127.0.0.1:6379 is required under CI (scripts/redis-up.sh): %v", err)
		}
		t.Skipf("no Redis on 127.0.0.1:6379 (scripts/redis-up.sh): %v", err)
	}
	return url
}

// gateway is one gateway's limiter on its own Redis client.
func gateway(t *testing.T, url, prefix string, p ratelimit.Policy, obs ratelimit.SharedObserver, opts ...ratelimit.Option) *ratelimit.Limiter {
	t.Helper()
	c, err := ratelimit.NewRedisClient(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	opts = append(opts, ratelimit.WithShared(ratelimit.NewRedis(c, prefix), obs))
	return ratelimit.New(p, opts...)
}

func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("medisync:test:%s:%d:", t.Name(), time.Now().UnixNano())
}

func TestTwoGatewaysShareOneLimit(t *testing.T) {
	url := sharedRedis(t)
	prefix := uniquePrefix(t)
	p := ratelimit.Policy{Name: "general", RPS: 0.01, Burst: 5}
	a := gateway(t, url, prefix, p, ratelimit.SharedObserver{})
	b := gateway(t, url, prefix, p, ratelimit.SharedObserver{})
	key := ratelimit.UserKey("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")
	ctx := context.Background()

	allowed := 0
	for i := 0; i < 10; i++ {
		for _, l := range []*ratelimit.Limiter{a, b} {
			if l.Allow(ctx, key).Allowed {
				allowed++
			}
		}
	}

	assert.Equal(t, 5, allowed, "the limit holds across both gateways, not once per gateway")
	d := b.Allow(ctx, key)
	assert.False(t, d.Allowed)
	assert.Zero(t, d.Remaining)
	assert.InDelta(t, 100*time.Second, d.Reset, float64(2*time.Second), "the next token is one interval away")
	other := a.Allow(ctx, ratelimit.AddrKey(netip.MustParseAddr("192.0.2.7")))
	assert.True(t, other.Allowed, "another client has its own bucket")
	assert.Equal(t, 4, other.Remaining)
}

func TestSharedBucketRefillsAndExpires(t *testing.T) {
	url := sharedRedis(t)
	prefix := uniquePrefix(t)
	// A token every 500 ms, a bucket full again 1 s after the last take:
	// Redis's clock runs on between the calls below, so the intervals must
	// dwarf the round trips of a loaded machine (at 50 RPS a 20 ms stall
	// refilled a token, a 40 ms one expired the key before PTTL).
	p := ratelimit.Policy{Name: "fast", RPS: 2, Burst: 2}
	l := gateway(t, url, prefix, p, ratelimit.SharedObserver{})
	key := ratelimit.UserKey("u1")
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer c.Close()
	require.NoError(t, c.Ping(ctx).Err(), "connected before the bucket's clock starts")

	assert.True(t, l.Allow(ctx, key).Allowed)
	assert.True(t, l.Allow(ctx, key).Allowed)
	assert.False(t, l.Allow(ctx, key).Allowed)
	ttl, err := c.PTTL(ctx, prefix+"fast:u:u1").Result()
	require.NoError(t, err)
	assert.Positive(t, ttl, "a bucket expires once it would be full again")
	assert.LessOrEqual(t, ttl, time.Second)
	require.Eventually(t, func() bool { return l.Allow(ctx, key).Allowed }, 5*time.Second, 10*time.Millisecond, "tokens come back")
}

// ownRedis starts a redis-server of the test's own on port, so that the
// test can kill it.
func ownRedis(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--protected-mode", "yes")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, 5*time.Second, 10*time.Millisecond)
	return cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestRedisKilledMidRunFallsBackToLocalAndReturns(t *testing.T) {
	sharedRedis(t) // the same requirement: redis-server is installed
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found: %v", err)
	}
	port := freePort(t)
	srv := ownRedis(t, port)
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	clk := clocktest.New(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
	var downs, ups, fallbacks atomic.Int64
	obs := ratelimit.SharedObserver{
		Down:     func(error) { downs.Add(1) },
		Up:       func() { ups.Add(1) },
		Fallback: func() { fallbacks.Add(1) },
	}
	p := ratelimit.Policy{Name: "general", RPS: 0.01, Burst: 3}
	prefix := uniquePrefix(t)
	a := gateway(t, url, prefix, p, obs, ratelimit.WithClock(clk.Now))
	b := gateway(t, url, prefix, p, ratelimit.SharedObserver{})
	key := ratelimit.UserKey("u1")
	ctx := context.Background()

	// Shared: b spends the whole bucket, so a is refused.
	for i := 0; i < 3; i++ {
		require.True(t, b.Allow(ctx, key).Allowed)
	}
	require.False(t, a.Allow(ctx, key).Allowed, "shared limit in force")

	// Redis dies: a decides with its local bucket, which lets the client
	// through up to its own limit and then refuses: neither all refused nor
	// all let through.
	require.NoError(t, srv.Process.Kill())
	_ = srv.Wait()
	local := 0
	for i := 0; i < 10; i++ {
		if a.Allow(ctx, key).Allowed {
			local++
		}
	}
	assert.Equal(t, 3, local, "local buckets hold the limit while Redis is away")
	assert.Equal(t, int64(1), downs.Load(), "the outage is reported once")
	assert.Equal(t, int64(10), fallbacks.Load(), "every local decision is counted")

	// Redis comes back (empty): after the retry pause a uses it again.
	ownRedis(t, port)
	clk.Advance(ratelimit.SharedRetry + time.Millisecond)
	require.Eventually(t, func() bool { return a.Allow(ctx, key).Allowed }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(1), ups.Load(), "the return is reported once")
	for i := 0; i < 2; i++ {
		require.True(t, b.Allow(ctx, key).Allowed)
	}
	assert.False(t, a.Allow(ctx, key).Allowed, "shared limit in force again: b spent what a left")
	assert.False(t, b.Allow(ctx, key).Allowed)
}

// A Redis whose port refuses connections fails its one dial at once: the
// decision that finds the outage comes back well within the documented
// 200 ms to connect and no retry (go-redis would otherwise dial five
// times, 100 ms apart).
func TestARefusedRedisIsDialledOnce(t *testing.T) {
	addr := runtest.RefusedAddr(t)
	var downs atomic.Int64
	l := gateway(t, "redis://"+addr+"/0", uniquePrefix(t), ratelimit.Policy{Name: "strict", RPS: 0.2, Burst: 10},
		ratelimit.SharedObserver{Down: func(error) { downs.Add(1) }})

	start := time.Now()
	d := l.Allow(context.Background(), ratelimit.AddrKey(netip.MustParseAddr("203.0.113.9")))
	took := time.Since(start)

	assert.True(t, d.Allowed, "decided by the local bucket")
	assert.EqualValues(t, 1, downs.Load(), "the outage was noticed")
	assert.Less(t, took, 250*time.Millisecond, "one refused dial, no retry")
}

// blackhole listens with a full accept queue: further connection attempts
// get no answer, as from a Redis host that is down or cut off by a firewall.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue (never accepted).
	for i := 0; i < 4; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	return addr
}

// A Redis that does not answer costs a decision its one 200 ms dial, not
// five of them with pauses between.
func TestAnUnreachableRedisCostsOneDialTimeout(t *testing.T) {
	addr := blackhole(t)
	l := gateway(t, "redis://"+addr+"/0", uniquePrefix(t), ratelimit.Policy{Name: "strict", RPS: 0.2, Burst: 10},
		ratelimit.SharedObserver{})
	start := time.Now()
	d := l.Allow(context.Background(), ratelimit.AddrKey(netip.MustParseAddr("203.0.113.9")))
	took := time.Since(start)
	assert.True(t, d.Allowed, "decided by the local bucket")
	assert.Less(t, took, 350*time.Millisecond, "200 ms to connect, no retry")
}
