package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// Shared is a bucket store that several gateways share, so that a client
// gets one limit whichever gateway it reaches.
type Shared interface {
	// Take takes one token from key's bucket under policy p.
	Take(ctx context.Context, key string, p Policy) (Decision, error)
}

// gcra is the generic cell rate algorithm in one script, so that a decision
// is one round trip and atomic. The bucket is the theoretical arrival time
// (TAT) of the next request, in microseconds of the Redis server's clock, so
// that gateways with skewed clocks agree. A key expires once its bucket
// would be full again: memory is bounded by the clients active in the last
// window. ARGV: emission interval (µs per token), burst. Returns allowed
// (0/1), remaining whole tokens, and microseconds until the bucket is full
// (allowed) or the next token (refused).
var gcra = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), new_tat - now}
`)

// Redis keeps the buckets in Redis.
type Redis struct {
	client redis.Scripter
	prefix string
}

// NewRedis returns a store on client; keys are prefixed with prefix
// (e.g. "medisync:ratelimit:").
func NewRedis(client redis.Scripter, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// NewRedisClient opens a client for url (redis://host:port/db) tuned to
// fail fast: a rate-limit decision that waits on a dead Redis would hold
// every request, so timeouts are short and nothing is retried; the limiter
// falls back to its local buckets instead.
func NewRedisClient(url string) (*redis.Client, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		// The parser's message may quote the URL, password included.
		return nil, errors.New("invalid rate-limit Redis URL: want redis://[user:password@]host:port[/db], reserved characters of the password percent-encoded")
	}
	o.DialTimeout = 200 * time.Millisecond
	// DialerRetries counts every dial, the first included; 0 would mean
	// go-redis's default of 5, 100 ms apart, which made an unreachable
	// Redis cost 1.4 s a decision.
	o.DialerRetries = 1
	o.ReadTimeout = 100 * time.Millisecond
	o.WriteTimeout = 100 * time.Millisecond
	o.MaxRetries = -1
	o.PoolTimeout = 100 * time.Millisecond
	return redis.NewClient(o), nil
}

// Take runs the script once.
func (s *Redis) Take(ctx context.Context, key string, p Policy) (Decision, error) {
	interval := math.Max(1, math.Round(1e6/p.RPS))
	v, err := gcra.Run(ctx, s.client, []string{s.prefix + p.Name + ":" + key}, int64(interval), p.Burst).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit in Redis: %w", err)
	}
	if len(v) != 3 {
		return Decision{}, errors.New("rate limit in Redis: unexpected answer")
	}
	return Decision{Allowed: v[0] == 1, Remaining: int(v[1]), Reset: time.Duration(v[2]) * time.Microsecond}, nil
}
