package registry

import (
	"fmt"
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
	// UpdatedAt is the time of the instance's last visible change.
	UpdatedAt time.Time
	// Extra is the adapter's data (Registration.Extra), shared with the
	// registry.
	Extra Extra
}

// Lease is what a heartbeat renews, with the instance's status and extra
// data so that a renewal can be checked against what the client holds.
type Lease struct {
	Service        string
	ID             string
	TTL            time.Duration
	LastHeartbeat  time.Time
	LeaseExpiresAt time.Time
	Status         Status
	Extra          Extra
}

// ServiceView is one service at an index: the index of the last change to
// this service, and its instances ordered by ID.
type ServiceView struct {
	Name      string
	Index     uint64
	Instances []Instance
	// StartedAt is when the registry started, which tells one run of the
	// server from the next: a reader holding instances from an earlier run
	// learns that the registry may still be filling again. Uptime is how
	// long the server had been up at the answer, by its clock. The service
	// fills both in.
	StartedAt time.Time
	Uptime    time.Duration
}

// View is the whole registry at an index, services ordered by name. Services
// without instances are left out.
type View struct {
	Index     uint64
	StartedAt time.Time
	Uptime    time.Duration // as in ServiceView
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
	updatedAt    time.Time
	extra        Extra

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
		UpdatedAt:      e.updatedAt,
		Extra:          e.extra,
	}
}

// sameVisible reports whether e already shows what reg asks for, so that a
// repeated registration is only a renewal.
func (e *entry) sameVisible(r Registration, status Status, ttl time.Duration) bool {
	return e.address == r.Address && e.port == r.Port && e.status == status && e.ttl == ttl &&
		maps.Equal(e.metadata, r.Metadata) && sameExtra(e.extra, r.Extra)
}

// service holds one service's instances. It stays, empty, after its last
// instance leaves, so that its index keeps moving forward, until the room
// it takes is needed for a new service (Registry.forgetEmpty).
type service struct {
	name      string
	instances map[string]*entry
	// sorted holds the same entries ordered by ID, kept up to date on each
	// change so that listing, the hot read, needs no sort.
	sorted  []*entry
	index   uint64
	changed chan struct{}
	// evicted counts the instances evicted since the service was created;
	// it goes when the service is forgotten, so what feeds a series per
	// service stays as bounded as the services.
	evicted uint64
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

	// live counts the services with instances, the ones MaxServices
	// bounds. dropped holds the names of emptied services dropped to make
	// room, with the index each had then, at most MaxServices of them;
	// forgotten is the highest index of those no longer held there, which
	// any other unknown name reports (0 until then: a name never held has
	// nothing its readers could have missed).
	live      int
	dropped   map[string]uint64
	forgotten uint64

	// log holds each instance's last visible change within
	// ChangeRetention (changes.go); totals counts instances by status.
	log    changeLog
	totals map[Status]int

	blocked atomic.Int64 // readers parked on a change
	// turnedAway counts the readers answered at once because MaxBlocked
	// were parked.
	turnedAway atomic.Int64
}

// Action says what a change did to an instance.
type Action string

// Actions of the change log, named as Eureka's delta names them.
const (
	Added    Action = "ADDED"
	Modified Action = "MODIFIED"
	Deleted  Action = "DELETED"
)

// New returns an empty registry started at now. Its index starts at 1, so a
// reader holding index 0 sees any state as new.
func New(now time.Time, limits Limits) *Registry {
	return &Registry{
		limits:    limits,
		startedAt: now.UTC(),
		services:  map[string]*service{},
		dropped:   map[string]uint64{},
		totals:    map[Status]int{},
		log:       changeLog{byKey: map[changeKey]*logged{}},
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
// know a reader waits before they make the change that wakes it). With
// Limits.MaxBlocked readers parked already it parks nothing and reports
// false: the reader is to be answered at once.
func (r *Registry) Park() (unpark func(), ok bool) {
	for {
		n := r.blocked.Load()
		if r.limits.MaxBlocked > 0 && n >= int64(r.limits.MaxBlocked) {
			r.turnedAway.Add(1)
			return nil, false
		}
		if r.blocked.CompareAndSwap(n, n+1) {
			return func() { r.blocked.Add(-1) }, true
		}
	}
}

// Blocked is the number of readers parked on a change now.
func (r *Registry) Blocked() int { return int(r.blocked.Load()) }

// TurnedAway is the number of blocking queries answered at once since the
// start because Limits.MaxBlocked readers were parked.
func (r *Registry) TurnedAway() int64 { return r.turnedAway.Load() }

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

// Totals returns the number of instances in each status.
func (r *Registry) Totals() map[Status]int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return maps.Clone(r.totals)
}

// count moves the status totals for an entry added (+1) or removed (-1).
func (r *Registry) count(e *entry, n int) {
	r.totals[e.status] += n
	if r.totals[e.status] == 0 {
		delete(r.totals, e.status)
	}
}

// Register adds the instance or replaces it. It reports whether the
// instance is new. Registering again with nothing changed only renews the
// lease and leaves the index alone.
func (r *Registry) Register(now time.Time, reg Registration) (Instance, bool, error) {
	ttl, err := reg.Validate(r.limits)
	if err != nil {
		return Instance{}, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.put(now.UTC(), reg, ttl, true)
}

// Update changes one instance under the registry's write lock, so that
// writers that each read an instance, change it and write it back cannot
// lose each other's changes. f is given a copy of the instance as it is (nil
// when there is none; its Metadata may be modified) and returns the
// registration it is to become, for the same service and ID, or an error
// that Update returns as is (ErrNotFound when only an existing instance may
// change, say). f runs under the lock: it must be quick and must not call
// the registry.
//
// A new instance's lease starts now. An existing one's is renewed when
// renew is set, as a registration renews it; otherwise it keeps its last
// heartbeat, since a change made by someone else is no sign of the
// instance's life. An unchanged result changes nothing.
func (r *Registry) Update(now time.Time, service, id string, renew bool, f func(cur *Instance) (Registration, error)) (Instance, bool, error) {
	now = now.UTC()
	r.mu.Lock()
	defer r.mu.Unlock()
	var cur *Instance
	if s, e := r.find(service, id); e != nil {
		v := e.view(s.name)
		v.Metadata = maps.Clone(v.Metadata)
		cur = &v
	}
	reg, err := f(cur)
	if err != nil {
		return Instance{}, false, err
	}
	if reg.Service != service || reg.ID != id {
		return Instance{}, false, fmt.Errorf("update of %s/%s returned a registration for %s/%s", service, id, reg.Service, reg.ID)
	}
	ttl, err := reg.Validate(r.limits)
	if err != nil {
		return Instance{}, false, err
	}
	return r.put(now, reg, ttl, renew || cur == nil)
}

// put adds or replaces the instance reg describes, its lease ttl, renewing
// an existing instance's lease when renew is set; callers hold the write
// lock and have validated reg.
func (r *Registry) put(now time.Time, reg Registration, ttl time.Duration, renew bool) (Instance, bool, error) {
	status := reg.Status
	if status == "" {
		status = Up
	}
	md := maps.Clone(reg.Metadata)
	if len(md) == 0 {
		md = nil
	}
	reg.Metadata = md

	s := r.services[reg.Service]
	if (s == nil || len(s.instances) == 0) && r.limits.MaxServices > 0 && r.live >= r.limits.MaxServices {
		return Instance{}, false, ErrFull
	}
	if (s == nil || s.instances[reg.ID] == nil) && r.limits.MaxInstances > 0 && r.size >= r.limits.MaxInstances {
		return Instance{}, false, ErrFull
	}
	if s == nil {
		if r.limits.MaxServices > 0 && len(r.services) >= r.limits.MaxServices {
			r.forgetEmpty()
		}
		s = &service{name: reg.Service, instances: map[string]*entry{}, changed: make(chan struct{})}
		r.services[reg.Service] = s
		delete(r.dropped, reg.Service)
	}
	if len(s.instances) == 0 {
		r.live++
	}
	old := s.instances[reg.ID]
	if old != nil && old.sameVisible(reg, status, ttl) {
		if renew {
			old.renew(now)
		}
		return old.view(s.name), false, nil
	}
	e := &entry{
		id: reg.ID, address: reg.Address, port: reg.Port, status: status,
		metadata: md, ttl: ttl, registeredAt: now, updatedAt: now, extra: reg.Extra,
	}
	action := Added
	if old != nil {
		e.registeredAt = old.registeredAt
		r.count(old, -1)
		action = Modified
	} else {
		r.size++
	}
	r.count(e, 1)
	if renew || old == nil {
		e.renew(now)
	} else {
		last := old.lastHeartbeat.Load()
		e.lastHeartbeat.Store(last)
		e.leaseExpires.Store(last + int64(ttl))
	}
	s.put(e)
	r.bump(s)
	v := e.view(s.name)
	r.record(now, action, v)
	return v, old == nil, nil
}

// forgetEmpty drops the service emptied longest ago, making room for a new
// one; callers hold the write lock and know that one is empty (live is
// below the bound, the services held are not). Nothing visible changes, so
// the index stays; its readers are woken to look again, and from then on
// find an unknown service at the index it had (or, once its name is no
// longer held in dropped, at forgotten), which is no older than anything
// they were answered.
func (r *Registry) forgetEmpty() {
	var oldest *service
	for _, s := range r.services {
		if len(s.instances) == 0 && (oldest == nil || s.index < oldest.index) {
			oldest = s
		}
	}
	if oldest == nil {
		return
	}
	delete(r.services, oldest.name)
	if len(r.dropped) >= r.limits.MaxServices {
		// Full: the name dropped longest ago joins the rest at forgotten.
		first, at := "", uint64(0)
		for name, index := range r.dropped {
			if first == "" || index < at {
				first, at = name, index
			}
		}
		delete(r.dropped, first)
		r.forgotten = max(r.forgotten, at)
	}
	r.dropped[oldest.name] = oldest.index
	close(oldest.changed)
}

func (r *Registry) find(service, id string) (*service, *entry) {
	s := r.services[service]
	if s == nil {
		return nil, nil
	}
	return s, s.instances[id]
}

// Instance returns one instance.
func (r *Registry) Instance(service, id string) (Instance, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, e := r.find(service, id)
	if e == nil {
		return Instance{}, ErrNotFound
	}
	return e.view(s.name), nil
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
	return Lease{Service: service, ID: id, TTL: e.ttl, LastHeartbeat: last, LeaseExpiresAt: exp, Status: e.status, Extra: e.extra}, nil
}

// SetStatus changes the instance's status and, as a sign of life, renews
// its lease. An Extra that is a StatusExtra becomes what its WithStatus
// returns, so that an adapter can let the status set here replace what it
// kept of the instance's status (Eureka's override and reported status).
func (r *Registry) SetStatus(now time.Time, service, id string, status Status) (Instance, error) {
	if _, ok := ParseStatus(string(status)); !ok {
		return Instance{}, fieldError("status", StatusRule)
	}
	now = now.UTC()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, e := r.find(service, id)
	if e == nil {
		return Instance{}, ErrNotFound
	}
	extra := e.extra
	if x, ok := extra.(StatusExtra); ok {
		extra, status = x.WithStatus(now, status)
	}
	if e.status != status || !sameExtra(e.extra, extra) {
		// Entries are replaced, not mutated, so views handed out earlier
		// stay as they were.
		ne := &entry{
			id: e.id, address: e.address, port: e.port, status: status,
			metadata: e.metadata, ttl: e.ttl, registeredAt: e.registeredAt,
			updatedAt: now, extra: extra,
		}
		r.count(e, -1)
		r.count(ne, 1)
		s.put(ne)
		ne.renew(now)
		r.bump(s)
		v := ne.view(s.name)
		r.record(now, Modified, v)
		return v, nil
	}
	e.renew(now)
	return e.view(s.name), nil
}

// Deregister removes the instance at now.
func (r *Registry) Deregister(now time.Time, service, id string) (Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, e := r.find(service, id)
	if e == nil {
		return Instance{}, ErrNotFound
	}
	s.remove(id)
	r.size--
	if len(s.instances) == 0 {
		r.live--
	}
	r.count(e, -1)
	r.bump(s)
	v := e.view(s.name)
	r.record(now.UTC(), Deleted, v)
	return v, nil
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
				r.count(e, -1)
				s.evicted++
			}
		}
		if len(out) > n {
			s.sorted = slices.DeleteFunc(s.sorted, func(e *entry) bool { return s.instances[e.id] != e })
			touched = append(touched, s)
			if len(s.instances) == 0 {
				r.live--
			}
		}
	}
	if len(out) > 0 {
		r.size -= len(out)
		r.bump(touched...)
		for _, inst := range out {
			r.record(now.UTC(), Deleted, inst)
		}
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
// An unknown service has no instances and index 0, or, if it is an emptied
// service that was forgotten, the index it had then: a reader of a
// forgotten service that missed its emptying learns of it at once, and a
// reader of a name never held waits.
func (r *Registry) Service(name string) (v ServiceView, global uint64, changed <-chan struct{}) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.services[name]
	if s == nil {
		index, ok := r.dropped[name]
		if !ok {
			index = r.forgotten
		}
		// Nothing to wait on yet: wake on any change, and look again.
		return ServiceView{Name: name, Index: index, Instances: []Instance{}}, r.index, r.changed
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
	v := View{Index: r.index, Services: make([]ServiceView, 0, len(r.services))}
	for _, s := range r.services {
		if len(s.instances) > 0 {
			v.Services = append(v.Services, serviceView(s))
		}
	}
	slices.SortFunc(v.Services, func(a, b ServiceView) int { return strings.Compare(a.Name, b.Name) })
	return v, r.changed
}

// Evictions returns, for every service the registry holds, emptied ones
// included, how many of its instances were evicted since it was created. A
// forgotten service is not listed, and counts from 0 if it comes back.
func (r *Registry) Evictions() map[string]uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]uint64, len(r.services))
	for _, s := range r.services {
		out[s.name] = s.evicted
	}
	return out
}

// StatusCount is the number of instances of one service in one status.
type StatusCount struct {
	Service string
	Status  Status
	Count   int
}

// Counts returns instance counts by service and status, for every service
// the registry holds, emptied ones included (zero counts, so gauges fall to
// zero).
func (r *Registry) Counts() []StatusCount {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]StatusCount, 0, len(Statuses)*len(r.services))
	for _, s := range r.services {
		n := map[Status]int{}
		for _, e := range s.instances {
			n[e.status]++
		}
		for _, st := range Statuses {
			out = append(out, StatusCount{s.name, st, n[st]})
		}
	}
	return out
}
