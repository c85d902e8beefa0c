// Package service holds the discovery use cases behind the Service
// interface: registration, heartbeats, status changes, lookups that may
// block until the registry changes, and eviction of lapsed leases.
package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/shared/clock"
)

// Waits of blocking queries.
const (
	// DefaultWait applies when a query names an index but no wait.
	DefaultWait = 30 * time.Second
	// MaxWait caps any wait; longer ones are shortened to it.
	MaxWait = 5 * time.Minute
)

// Query asks for a view, optionally blocking: with a Wait above zero the
// answer comes once the view's index passes Index, or when Wait has passed.
type Query struct {
	Index uint64
	Wait  time.Duration
}

// Service is what the discovery server does.
type Service interface {
	Register(ctx context.Context, reg registry.Registration) (inst registry.Instance, created bool, err error)
	Heartbeat(ctx context.Context, service, id string) (registry.Lease, error)
	SetStatus(ctx context.Context, service, id string, status registry.Status) (registry.Instance, error)
	// Update changes one instance atomically (registry.Registry.Update):
	// f gets the instance as it is, nil when absent, and returns what it is
	// to become.
	Update(ctx context.Context, service, id string, renew bool, f UpdateFunc) (inst registry.Instance, created bool, err error)
	Deregister(ctx context.Context, service, id string) error
	Service(ctx context.Context, name string, q Query) (registry.ServiceView, error)
	Registry(ctx context.Context, q Query) (registry.View, error)
	// Instance returns one instance, whatever its status.
	Instance(ctx context.Context, service, id string) (registry.Instance, error)
	// Recent returns the changes of the last few minutes (the Eureka delta).
	Recent(ctx context.Context) (registry.Delta, error)
	// Version returns what Registry's and Recent's answers depend on,
	// without copying them.
	Version(ctx context.Context) (registry.Version, error)
	// Evict removes the instances whose lease has lapsed.
	Evict(ctx context.Context) ([]registry.Instance, error)
}

// UpdateFunc turns an instance as it is (nil when absent) into the
// registration it is to become.
type UpdateFunc = func(cur *registry.Instance) (registry.Registration, error)

type discovery struct {
	reg   *registry.Registry
	clock clock.Clock
}

// New returns the service over reg; c nil means the system clock.
func New(reg *registry.Registry, c clock.Clock) Service {
	if c == nil {
		c = clock.System{}
	}
	return &discovery{reg: reg, clock: c}
}

func (d *discovery) Register(_ context.Context, r registry.Registration) (registry.Instance, bool, error) {
	return d.reg.Register(d.clock.Now(), r)
}

func (d *discovery) Heartbeat(_ context.Context, service, id string) (registry.Lease, error) {
	if err := registry.CheckKey(service, id); err != nil {
		return registry.Lease{}, err
	}
	l, err := d.reg.Heartbeat(d.clock.Now(), service, id)
	return l, notFound(err, service, id)
}

// notFound names the instance in a not-found error, for the client's sake.
func notFound(err error, service, id string) error {
	if errors.Is(err, registry.ErrNotFound) {
		return fmt.Errorf("instance %q of service %q: %w", id, service, err)
	}
	return err
}

func (d *discovery) SetStatus(_ context.Context, service, id string, status registry.Status) (registry.Instance, error) {
	if err := registry.CheckKey(service, id); err != nil {
		return registry.Instance{}, err
	}
	inst, err := d.reg.SetStatus(d.clock.Now(), service, id, status)
	return inst, notFound(err, service, id)
}

func (d *discovery) Update(_ context.Context, service, id string, renew bool, f UpdateFunc) (registry.Instance, bool, error) {
	if err := registry.CheckKey(service, id); err != nil {
		return registry.Instance{}, false, err
	}
	inst, created, err := d.reg.Update(d.clock.Now(), service, id, renew, f)
	return inst, created, notFound(err, service, id)
}

func (d *discovery) Deregister(_ context.Context, service, id string) error {
	if err := registry.CheckKey(service, id); err != nil {
		return err
	}
	_, err := d.reg.Deregister(d.clock.Now(), service, id)
	return notFound(err, service, id)
}

func (d *discovery) Instance(_ context.Context, service, id string) (registry.Instance, error) {
	if err := registry.CheckKey(service, id); err != nil {
		return registry.Instance{}, err
	}
	inst, err := d.reg.Instance(service, id)
	return inst, notFound(err, service, id)
}

func (d *discovery) Recent(context.Context) (registry.Delta, error) {
	return d.reg.Recent(d.clock.Now()), nil
}

func (d *discovery) Version(context.Context) (registry.Version, error) {
	return d.reg.Version(d.clock.Now()), nil
}

func (d *discovery) Evict(_ context.Context) ([]registry.Instance, error) {
	return d.reg.Evict(d.clock.Now()), nil
}

func (d *discovery) Service(ctx context.Context, name string, q Query) (registry.ServiceView, error) {
	if err := registry.CheckService(name); err != nil {
		return registry.ServiceView{}, err
	}
	look := func() (registry.ServiceView, bool, <-chan struct{}) {
		v, global, ch := d.reg.Service(name)
		// An index above the registry's own comes from an earlier run of
		// the server: the reader's picture is stale, so answer at once.
		// The answer carries the run's start and uptime, so that the reader
		// keeps the instances that have not registered again yet.
		return v, v.Index > q.Index || q.Index > global, ch
	}
	v, _, err := wait(ctx, d.reg, q, look)
	v.StartedAt = d.reg.StartedAt()
	v.Uptime = d.clock.Now().Sub(v.StartedAt)
	return v, err
}

func (d *discovery) Registry(ctx context.Context, q Query) (registry.View, error) {
	look := func() (registry.View, bool, <-chan struct{}) {
		v, ch := d.reg.All()
		return v, v.Index > q.Index || q.Index > v.Index, ch
	}
	v, _, err := wait(ctx, d.reg, q, look)
	v.StartedAt = d.reg.StartedAt()
	v.Uptime = d.clock.Now().Sub(v.StartedAt)
	return v, err
}

// wait answers a query: at once when it does not block, when look says
// the view is new, or when the registry holds as many parked readers as it
// may; otherwise when a change makes it new, when the wait ends, when the
// reader gives up, or when the server shuts down. Changes are signalled by
// closed channels, so nothing polls.
func wait[V any](ctx context.Context, reg *registry.Registry, q Query, look func() (V, bool, <-chan struct{})) (V, bool, error) {
	v, fresh, changed := look()
	if q.Wait <= 0 || fresh {
		return v, fresh, nil
	}
	// Past the bound the view as it is, with its current index, is the
	// answer, as when a wait ends unchanged: the client pauses before it
	// asks again, so the turned away cost a read, not a held connection.
	unpark, ok := reg.Park()
	if !ok {
		return v, false, nil
	}
	defer unpark()
	t := time.NewTimer(min(q.Wait, MaxWait))
	defer t.Stop()
	for {
		select {
		case <-changed:
			if v, fresh, changed = look(); fresh {
				return v, true, nil
			}
			continue
		case <-t.C:
		case <-ctx.Done():
		case <-reg.Closed():
		}
		v, fresh, _ = look()
		return v, fresh, nil
	}
}

// RunReaper evicts lapsed leases every period until ctx ends.
func RunReaper(ctx context.Context, s Service, period time.Duration) {
	clock.Every(ctx, period, func() { _, _ = s.Evict(ctx) })
}
