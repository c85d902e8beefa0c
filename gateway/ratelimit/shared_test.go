package ratelimit_test

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/gateway/ratelimit"
)

// ctxStore is a healthy shared store that, as go-redis does, fails a call
// whose context is already done, and can be made to fail as an outage.
type ctxStore struct {
	calls atomic.Int64
	down  atomic.Bool
}

func (s *ctxStore) Take(ctx context.Context, _ string, _ ratelimit.Policy) (ratelimit.Decision, error) {
	if err := ctx.Err(); err != nil {
		return ratelimit.Decision{}, err
	}
	if s.down.Load() {
		return ratelimit.Decision{}, errors.New("connection refused")
	}
	s.calls.Add(1)
	return ratelimit.Decision{Allowed: true, Remaining: 7}, nil
}

// A client that hung up is not an outage of the shared store: the other
// clients' decisions stay shared, and the outage log and metric stay quiet.
func TestCallerGoneLeavesTheSharedStoreUp(t *testing.T) {
	store := &ctxStore{}
	var downs, fallbacks atomic.Int64
	l := ratelimit.New(ratelimit.Policy{Name: "general", RPS: 1, Burst: 1}, ratelimit.WithShared(store, ratelimit.SharedObserver{
		Down: func(error) { downs.Add(1) }, Fallback: func() { fallbacks.Add(1) },
	}))
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	d := l.Allow(gone, ratelimit.AddrKey(netip.MustParseAddr("198.51.100.1")))
	assert.True(t, d.Allowed, "nothing to limit: the request goes nowhere")

	other := ratelimit.AddrKey(netip.MustParseAddr("203.0.113.7"))
	for i := 0; i < 5; i++ {
		d := l.Allow(context.Background(), other)
		assert.Equal(t, 7, d.Remaining, "decided by the shared store")
	}
	assert.EqualValues(t, 5, store.calls.Load())
	assert.Zero(t, downs.Load(), "a caller that went away is not an outage")
	assert.Zero(t, fallbacks.Load())

	// A real outage is still one.
	store.down.Store(true)
	l.Allow(context.Background(), other)
	assert.EqualValues(t, 1, downs.Load())
	assert.EqualValues(t, 1, fallbacks.Load())
}
