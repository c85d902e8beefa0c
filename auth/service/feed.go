package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock"
)

// FeedOptions tune a Feed; zero fields take the defaults.
type FeedOptions struct {
	// Poll is how often a held request reads the database again, for the
	// revocations other instances write; default 1 s.
	Poll time.Duration
	// MaxWaiting bounds the requests held at once; beyond it a request is
	// answered at once. Default 1,000.
	MaxWaiting int
	// PageSize bounds the entries of one answer; default 1,000.
	PageSize int
	// Margin is how long before the request's deadline a held request is
	// answered, so that it ends with an answer; default 500 ms.
	Margin time.Duration
}

// Feed serves the revocation feed as a blocking query: a request that has
// seen everything is held until a revocation is written or its wait ends.
// It is the RevocationListener that wakes the held requests.
type Feed struct {
	store Store
	clock clock.Clock
	o     FeedOptions
	slots chan struct{}

	mu      sync.Mutex
	changed chan struct{} // closed, and replaced, at each revocation
	closed  chan struct{}
	once    sync.Once
}

// NewFeed returns the feed over st; clk tells which entries expired (nil
// is clock.System).
func NewFeed(st Store, clk clock.Clock, o FeedOptions) *Feed {
	if clk == nil {
		clk = clock.System{}
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MaxWaiting <= 0 {
		o.MaxWaiting = 1000
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.Margin <= 0 {
		o.Margin = 500 * time.Millisecond
	}
	return &Feed{
		store: st, clock: clk, o: o, slots: make(chan struct{}, o.MaxWaiting),
		changed: make(chan struct{}), closed: make(chan struct{}),
	}
}

var _ RevocationListener = (*Feed)(nil)

// Revoked wakes the held requests.
func (f *Feed) Revoked([]authn.Revocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.changed)
	f.changed = make(chan struct{})
}

// Close answers the held requests at once, and every later one without
// holding it; for shutdown.
func (f *Feed) Close() { f.once.Do(func() { close(f.closed) }) }

func (f *Feed) signal() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Page returns the unexpired entries after index after. When there is none
// it waits up to wait (and not past shortly before ctx's deadline) for one.
func (f *Feed) Page(ctx context.Context, after uint64, wait time.Duration) (authn.RevocationPage, error) {
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Add(-f.o.Margin).Before(deadline) {
		deadline = d.Add(-f.o.Margin)
	}
	held := false
	defer func() {
		if held {
			<-f.slots
		}
	}()
	for {
		// Taken before the read: a revocation committed after it closes
		// this channel, so none is missed between the read and the wait.
		changed := f.signal()
		rs, index, err := f.store.Revocations().After(ctx, after, f.clock.Now(), f.o.PageSize)
		if err != nil {
			return authn.RevocationPage{}, fmt.Errorf("read revocations: %w", err)
		}
		page := authn.RevocationPage{Index: index, Revocations: rs}
		if page.Revocations == nil {
			page.Revocations = []authn.Revocation{}
		}
		left := time.Until(deadline)
		if index != after || left <= 0 {
			return page, nil
		}
		if !held {
			select {
			case f.slots <- struct{}{}:
				held = true
			default:
				return page, nil // too many held already: the client asks again
			}
		}
		timer := time.NewTimer(min(left, f.o.Poll))
		select {
		case <-changed:
		case <-timer.C:
		case <-f.closed:
			timer.Stop()
			return page, nil
		case <-ctx.Done():
			timer.Stop()
			return page, nil
		}
		timer.Stop()
	}
}
