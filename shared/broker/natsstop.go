package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// drainFirst stands between watermill-nats and the router so that a
// consumer's end cannot crash the process. The library closes its output
// channels as soon as the context it subscribed with ends, while a delivery
// callback may still be about to send on them: a data race, and a "send on
// closed channel" panic when the send wins. Here the library's context ends
// only once the consumer's own connection is drained, when no callback runs
// any more. What arrives meanwhile is nacked, so it is delivered again.
type drainFirst struct {
	sub message.Subscriber
	nc  *nats.Conn // the consumer's own connection: drained, then closed

	libCtx   context.Context
	libStop  context.CancelFunc
	once     sync.Once
	mu       sync.Mutex // a drain never starts inside the library's Subscribe
	draining bool
	wg       sync.WaitGroup // the forwarders
}

func newDrainFirst(sub message.Subscriber, nc *nats.Conn) *drainFirst {
	ctx, stop := context.WithCancel(context.Background())
	return &drainFirst{sub: sub, nc: nc, libCtx: ctx, libStop: stop}
}

// Subscribe is refused once the drain started (the router subscribes on
// after its context ended): the library's Subscribe failing half way on a
// draining connection would leave subscriptions no forwarder reads, and the
// drain would wait on their callbacks until its timeout.
func (d *drainFirst) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	d.mu.Lock()
	if d.draining || ctx.Err() != nil {
		d.mu.Unlock()
		return nil, errors.New("broker: consumer stopping")
	}
	in, err := d.sub.Subscribe(d.libCtx, topic)
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(out)
		for {
			select {
			case m, ok := <-in:
				if !ok {
					return
				}
				// The handler's context ends with the consumer (the
				// router's), or when the library gives up on the message.
				mctx, cancel := context.WithCancel(ctx)
				context.AfterFunc(m.Context(), cancel)
				m.SetContext(mctx)
				select {
				case out <- m:
				case <-ctx.Done():
					m.Nack()
				}
			case <-ctx.Done():
				d.once.Do(func() { go d.drain() })
				// Until the library closes in, after the drain.
				for m := range in {
					m.Nack()
				}
				return
			}
		}
	}()
	return out, nil
}

// callbackSettle is what a callback in hand gets to pass its message on
// when a connection is closed without a drain: the moments an unmarshal and
// a channel send take, many times over.
const callbackSettle = 250 * time.Millisecond

// drain stops the deliveries and waits until the last callback returned:
// a drained subscription counts its last message after its callback. A
// connection away from its server, or whose drain timed out, is closed
// instead; its callbacks stop after the one in hand, which is nacked within
// moments.
func (d *drainFirst) drain() {
	d.mu.Lock()
	d.draining = true
	d.mu.Unlock()
	defer d.libStop()
	if err := d.nc.Drain(); err != nil {
		d.nc.Close()
		time.Sleep(callbackSettle)
		return
	}
	for !d.nc.IsClosed() {
		time.Sleep(10 * time.Millisecond)
	}
	if errors.Is(d.nc.LastError(), nats.ErrDrainTimeout) {
		time.Sleep(callbackSettle)
	}
}

// Close is called by the router as it stops: the drain, which the end of
// the router's context starts, does the closing.
func (d *drainFirst) Close() error { return nil }

// wait drains the connection, if the end of a subscription has not already
// started it, and returns once every output is closed.
func (d *drainFirst) wait() {
	d.once.Do(func() { go d.drain() })
	d.wg.Wait()
}
