// Package auditlog records audit events that are not part of a write
// transaction (reads and denials) with group commit: concurrent requests'
// events are written together in one multi-row INSERT, and each request
// waits until its own event is stored before it answers. Batching saves a
// round trip and a log flush per request under load without ever answering
// before the event is durable, so a crash loses no event of an answered
// request (docs/adr/0005-patient-audit-group-commit.md).
package auditlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit log is closed")

// Appender stores events of type E; a service's SQL store is one.
type Appender[E any] interface {
	AppendAudit(ctx context.Context, evs ...E) error
}

// Options tune a Batcher; zero values take the defaults.
type Options struct {
	MaxBatch     int           // events per INSERT, default 256
	Writers      int           // concurrent INSERTs, default 2
	QueueSize    int           // events waiting for a writer, default 4096
	WriteTimeout time.Duration // bound on one INSERT, default 5 s
}

// Batcher records events of type E with group commit; it is a service's
// AuditRecorder.
type Batcher[E any] struct {
	store Appender[E]
	opts  Options
	queue chan *pending[E]
	pool  sync.Pool // *pending[E]
	wg    sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

type pending[E any] struct {
	ev   E
	done chan error
}

// New starts a Batcher writing to store; Close stops it.
func New[E any](store Appender[E], o Options) *Batcher[E] {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	b := &Batcher[E]{store: store, opts: o, queue: make(chan *pending[E], o.QueueSize)}
	b.pool.New = func() any { return &pending[E]{done: make(chan error, 1)} }
	b.wg.Add(o.Writers)
	for range o.Writers {
		go b.write()
	}
	return b
}

// Record queues ev and returns once it is stored, or with the error that
// kept it from being stored. When ctx ends first the event may still be
// written; the caller must treat the event as not recorded and fail.
func (b *Batcher[E]) Record(ctx context.Context, ev E) error {
	p := b.pool.Get().(*pending[E])
	p.ev = ev
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		b.pool.Put(p)
		return ErrClosed
	}
	select {
	case b.queue <- p:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		b.pool.Put(p)
		return fmt.Errorf("queue audit event: %w", ctx.Err())
	}
	select {
	case err := <-p.done:
		var zero E
		p.ev = zero
		b.pool.Put(p) // only once its answer is taken, so it is never reused early
		return err
	case <-ctx.Done():
		return fmt.Errorf("store audit event: %w", ctx.Err())
	}
}

// write takes whatever is queued, up to MaxBatch events, stores it in one
// INSERT and answers every waiting request, until the queue is closed.
func (b *Batcher[E]) write() {
	defer b.wg.Done()
	batch := make([]*pending[E], 0, b.opts.MaxBatch)
	evs := make([]E, 0, b.opts.MaxBatch)
	for first := range b.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < b.opts.MaxBatch {
			select {
			case p, ok := <-b.queue:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		evs = evs[:0]
		for _, p := range batch {
			evs = append(evs, p.ev)
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.WriteTimeout)
		err := b.store.AppendAudit(ctx, evs...)
		cancel()
		for _, p := range batch {
			p.done <- err
		}
	}
}

// Close refuses new events, writes every queued one and waits for the
// writers, or for ctx. Call it after the HTTP server has drained.
func (b *Batcher[E]) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush audit events: %w", ctx.Err())
	}
}
