package registry

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Instance is a registered instance as readers see it.
type Instance struct {
	Service string
	ID      string
	Address string
	Port    int
	Status  Status
	// Metadata is shared with the registry and must not be modified.
	Metadata       map[string]string
	TTL            time.Duration
	RegisteredAt   time.Time
	LastHeartbeat  time.Time
	LeaseExpiresAt time.Time
}

// Lease is what a heartbeat renews.
type Lease struct {
	Service        string
	ID             string
	TTL            time.Duration
	LastHeartbeat  time.Time
	LeaseExpiresAt time.Time
}

// ServiceView is one service at an index: the index of the last change to
// this service, and its instances ordered by ID.
type ServiceView struct {
	Name      string
	Index     uint64
	Instances []Instance
}

// View is the whole registry at an index, services ordered by name. Services
// without instances are left out.
type View struct {
	Index     uint64
	StartedAt time.Time
	Services  []ServiceView
}

// Counts returns the number of instances in each status.
func (v ServiceView) Counts() map[Status]int {
	c := map[Status]int{}
	for _, i := range v.Instances {
		c[i.Status]++
	}
	return c
}

// entry is one instance held by the registry. The lease times are atomics so
// that a heartbeat needs only the read lock: heartbeats are by far the most
// frequent write and change nothing a blocked reader waits for.
type entry struct {
	id           string
	address      string
	port         int
	status       Status
	metadata     map[string]string
	ttl          time.Duration
	registeredAt time.Time

	lastHeartbeat atomic.Int64 // unix nanoseconds
	leaseExpires  atomic.Int64 // unix nanoseconds
}

func (e *entry) renew(now time.Time) (last, expires time.Time) {
	expires = now.Add(e.ttl)
	e.lastHeartbeat.Store(now.UnixNano())
	e.leaseExpires.Store(expires.UnixNano())
	return now, expires
}

func (e *entry) view(service string) Instance {
	return Instance{
		Service:        service,
		ID:             e.id,
		Address:        e.address,
		Port:           e.port,
		Status:         e.status,
		Metadata:       e.metadata,
		TTL:            e.ttl,
		RegisteredAt:   e.registeredAt,
		LastHeartbeat:  time.Unix(0, e.lastHeartbeat.Load()).UTC(),
		LeaseExpiresAt: time.Unix(0, e.leaseExpires.Load()).UTC(),
	}
}

// sameVisible reports whether e already shows what reg asks for, so that a
// repeated registration is only a renewal.
func (e *entry) sameVisible(r Registration, status Status, ttl time.Duration) bool {
	return e.address == r.Address && e.port == r.Port && e.status == status && e.ttl == ttl &&
		maps.Equal(e.metadata, r.Metadata)
}

// service holds one service's instances. It stays, empty, after its last
// instance leaves, so that its index keeps moving forward.
type service struct {
	name      string
	instances map[string]*entry
	// sorted holds the same entries ordered by ID, kept up to date on each
	// change so that listing, the hot read, needs no sort.
	sorted  []*entry
	index   uint64
	changed chan struct{}
}

func (s *service) search(id string) (int, bool) {
	return slices.BinarySearchFunc(s.sorted, id, func(e *entry, id string) int { return strings.Compare(e.id, id) })
}

// put adds or replaces e in both indexes.
func (s *service) put(e *entry) {
	s.instances[e.id] = e
	i, found := s.search(e.id)
	if found {
		s.sorted[i] = e
		return
	}
	s.sorted = slices.Insert(s.sorted, i, e)
}

func (s *service) remove(id string) {
	delete(s.instances, id)
	if i, found := s.search(id); found {
		s.sorted = slices.Delete(s.sorted, i, i+1)
	}
}

// Registry holds every service in memory. It is safe for concurrent use.
type Registry struct {
	limits    Limits
	startedAt time.Time

	mu       sync.RWMutex
	services map[string]*service
	index    uint64
	size     int
	changed  chan struct{} // closed on any change, then replaced
	closed   chan struct{}
	isClosed bool

	blocked atomic.Int64 // readers parked on a change
}

// New returns an empty registry started at now. Its index starts at 1, so a
// reader holding index 0 sees any state as new.
func New(now time.Time, limits Limits) *Registry {
	return &Registry{
		limits:    limits,
		startedAt: now.UTC(),
		services:  map[string]*service{},
		index:     1,
		changed:   make(chan struct{}),
		closed:    make(chan struct{}),
	}
}

// Limits returns the registry's limits.
func (r *Registry) Limits() Limits { return r.limits }

// StartedAt returns when the registry started.
func (r *Registry) StartedAt() time.Time { return r.startedAt }

// Index returns the current index.
func (r *Registry) Index() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.index
}

// Size returns the number of registered instances.
func (r *Registry) Size() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.size
}

// Close wakes every waiting reader for good; used when the server shuts
// down so that blocked queries answer at once instead of holding the drain.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.isClosed {
		r.isClosed = true
		close(r.closed)
	}
}

// Closed is closed once Close has been called.
func (r *Registry) Closed() <-chan struct{} { return r.closed }

// Park counts a reader as blocked on a change until the returned function
// is called; Blocked reads the count (for metrics, and for tests that must
// know a reader waits before they make the change that wakes it).
func (r *Registry) Park() (unpark func()) {
	r.blocked.Add(1)
	return func() { r.blocked.Add(-1) }
}

// Blocked is the number of readers parked on a change now.
func (r *Registry) Blocked() int { return int(r.blocked.Load()) }

// bump records a visible change to the services given; callers hold the
// write lock. Waiting readers are woken by closing the channels.
func (r *Registry) bump(svcs ...*service) {
	r.index++
	for _, s := range svcs {
		s.index = r.index
		close(s.changed)
		s.changed = make(chan struct{})
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// Register adds the instance or replaces it. It reports whether the
// instance is new. Registering again with nothing changed only renews the
// lease and leaves the index alone.
func (r *Registry) Register(now time.Time, reg Registration) (Instance, bool, error) {
	ttl, err := reg.Validate(r.limits)
	if err != nil {
		return Instance{}, false, err
	}
	status := reg.Status
	if status == "" {
		status = Up
	}
	md := maps.Clone(reg.Metadata)
	if len(md) == 0 {
		md = nil
	}
	reg.Metadata = md
	now = now.UTC()

	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.services[reg.Service]
	if s == nil && r.limits.MaxServices > 0 && len(r.services) >= r.limits.MaxServices {
		return Instance{}, false, ErrFull
	}
	if (s == nil || s.instances[reg.ID] == nil) && r.limits.MaxInstances > 0 && r.size >= r.limits.MaxInstances {
		return Instance{}, false, ErrFull
	}
	if s == nil {
		s = &service{name: reg.Service, instances: map[string]*entry{}, changed: make(chan struct{})}
		r.services[reg.Service] = s
	}
	old := s.instances[reg.ID]
	if old != nil && old.sameVisible(reg, status, ttl) {
		old.renew(now)
		return old.view(s.name), false, nil
	}
	e := &entry{
		id: reg.ID, address: reg.Address, port: reg.Port, status: status,
		metadata: md, ttl: ttl, registeredAt: now,
	}
	if old != nil {
		e.registeredAt = old.registeredAt
	} else {
		r.size++
	}
	e.renew(now)
	s.put(e)
	r.bump(s)
	return e.view(s.name), old == nil, nil
}

func (r *Registry) find(service, id string) (*service, *entry) {
	s := r.services[service]
	if s == nil {
		return nil, nil
	}
	return s, s.instances[id]
}

// Heartbeat renews the instance's lease. It moves no index: a renewal is
// not a change readers wait for.
func (r *Registry) Heartbeat(now time.Time, service, id string) (Lease, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, e := r.find(service, id)
	if e == nil {
		return Lease{}, ErrNotFound
	}
	last, exp := e.renew(now.UTC())
	return Lease{Service: service, ID: id, TTL: e.ttl, LastHeartbeat: last, LeaseExpiresAt: exp}, nil
}

// SetStatus changes the instance's status and, as a sign of life, renews
// its lease.
func (r *Registry) SetStatus(now time.Time, service, id string, status Status) (Instance, error) {
	if _, ok := ParseStatus(string(status)); !ok {
		return Instance{}, fieldError("status", "must be UP, DOWN or OUT_OF_SERVICE")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, e := r.find(service, id)
	if e == nil {
		return Instance{}, ErrNotFound
	}
	if e.status != status {
		// Entries are replaced, not mutated, so views handed out earlier
		// stay as they were.
		ne := &entry{
			id: e.id, address: e.address, port: e.port, status: status,
			metadata: e.metadata, ttl: e.ttl, registeredAt: e.registeredAt,
		}
		s.put(ne)
		e = ne
		r.bump(s)
	}
	e.renew(now.UTC())
	return e.view(s.name), nil
}

// Deregister removes the instance.
func (r *Registry) Deregister(service, id string) (Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, e := r.find(service, id)
	if e == nil {
		return Instance{}, ErrNotFound
	}
	s.remove(id)
	r.size--
	r.bump(s)
	return e.view(s.name), nil
}

// Evict removes every instance whose lease ended before now and returns
// them. All evictions of one call move the index once.
func (r *Registry) Evict(now time.Time) []Instance {
	cutoff := now.UnixNano()
	// A read-locked scan first: most calls find nothing to evict and must
	// not stall heartbeats behind the write lock.
	r.mu.RLock()
	due := false
	for _, s := range r.services {
		for _, e := range s.instances {
			if e.leaseExpires.Load() < cutoff {
				due = true
				break
			}
		}
		if due {
			break
		}
	}
	r.mu.RUnlock()
	if !due {
		return nil
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Instance
	var touched []*service
	for _, s := range r.services {
		n := len(out)
		for id, e := range s.instances {
			if e.leaseExpires.Load() < cutoff {
				out = append(out, e.view(s.name))
				delete(s.instances, id)
			}
		}
		if len(out) > n {
			s.sorted = slices.DeleteFunc(s.sorted, func(e *entry) bool { return s.instances[e.id] != e })
			touched = append(touched, s)
		}
	}
	if len(out) > 0 {
		r.size -= len(out)
		r.bump(touched...)
	}
	slices.SortFunc(out, func(a, b Instance) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Service returns one service's view, the registry's own index (a reader
// holding a higher one has a stale index from an earlier run and must get
// an answer at once), and a channel closed at the service's next change.
// An unknown service has index 0 and no instances.
func (r *Registry) Service(name string) (v ServiceView, global uint64, changed <-chan struct{}) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.services[name]
	if s == nil {
		// Nothing to wait on yet: wake on any change, and look again.
		return ServiceView{Name: name, Instances: []Instance{}}, r.index, r.changed
	}
	return serviceView(s), r.index, s.changed
}

func serviceView(s *service) ServiceView {
	v := ServiceView{Name: s.name, Index: s.index, Instances: make([]Instance, len(s.sorted))}
	for i, e := range s.sorted {
		v.Instances[i] = e.view(s.name)
	}
	return v
}

// All returns every service with instances, and a channel closed at the
// next change anywhere.
func (r *Registry) All() (View, <-chan struct{}) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v := View{Index: r.index, StartedAt: r.startedAt, Services: make([]ServiceView, 0, len(r.services))}
	for _, s := range r.services {
		if len(s.instances) > 0 {
			v.Services = append(v.Services, serviceView(s))
		}
	}
	slices.SortFunc(v.Services, func(a, b ServiceView) int { return strings.Compare(a.Name, b.Name) })
	return v, r.changed
}

// StatusCount is the number of instances of one service in one status.
type StatusCount struct {
	Service string
	Status  Status
	Count   int
}

// Counts returns instance counts by service and status, for every service
// the registry has seen (zero counts included, so gauges fall to zero).
func (r *Registry) Counts() []StatusCount {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]StatusCount, 0, 3*len(r.services))
	for _, s := range r.services {
		var up, down, oos int
		for _, e := range s.instances {
			switch e.status {
			case Up:
				up++
			case Down:
				down++
			case OutOfService:
				oos++
			}
		}
		out = append(out,
			StatusCount{s.name, Up, up}, StatusCount{s.name, Down, down}, StatusCount{s.name, OutOfService, oos})
	}
	return out
}
