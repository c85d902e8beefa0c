package registry

import (
	"maps"
	"time"
)

// Change is one visible change to one instance: the instance as it was
// after the change (as it was before, for a deletion).
type Change struct {
	At       time.Time
	Action   Action
	Instance Instance
}

// Delta is the change log at an index, with the number of instances in
// each status then, so that a client applying the changes can check that it
// arrives at the same registry.
type Delta struct {
	Index   uint64
	Changes []Change
	Totals  map[Status]int
	// Expires is when the oldest of Changes leaves the retention (zero when
	// there are none): until then, or until the index moves, the log holds
	// exactly these changes, so an encoding of them may be reused.
	Expires time.Time
}

// changeOverhead is what the log holds for any change beyond the instance's
// own data: the node (the Change and its links, about 330 bytes) and its
// slot in the map by key, rounded up.
const changeOverhead = 448

// metadataEntryOverhead is a metadata map's own cost per key (string
// headers and the map slot), beside the bytes of the key and value.
const metadataEntryOverhead = 48

type changeKey struct{ service, id string }

// logged is one instance's last change, linked in the order of changes.
type logged struct {
	Change
	key        changeKey
	cost       int
	prev, next *logged
}

// changeLog keeps each instance's last visible change, oldest first. One
// change per instance is all Eureka's delta shows (a client applies the
// instance's last state), and it bounds the log by the number of instances
// and deletions instead of by how often an instance changes. A live
// instance's change shares its metadata and Extra with the registry's
// entry, so only a deletion's instance is counted in full: the registry no
// longer holds it.
type changeLog struct {
	byKey      map[changeKey]*logged
	head, tail *logged
	bytes      int
}

func (l *changeLog) push(n *logged) {
	n.prev = l.tail
	if l.tail != nil {
		l.tail.next = n
	} else {
		l.head = n
	}
	l.tail = n
	l.byKey[n.key] = n
	l.bytes += n.cost
}

func (l *changeLog) unlink(n *logged) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		l.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = nil, nil
	delete(l.byKey, n.key)
	l.bytes -= n.cost
}

// changeCost is the memory a change holds in the log, about.
func changeCost(a Action, inst Instance) int {
	if a != Deleted {
		return changeOverhead
	}
	n := changeOverhead + len(inst.Service) + len(inst.ID) + len(inst.Address)
	for k, v := range inst.Metadata {
		n += metadataEntryOverhead + len(k) + len(v)
	}
	if inst.Extra != nil {
		n += inst.Extra.Size()
	}
	return n
}

// record logs a change as the instance's last one, then drops the oldest
// changes past the retention, MaxChanges or MaxChangeBytes; callers hold
// the write lock.
func (r *Registry) record(now time.Time, a Action, inst Instance) {
	lim := r.limits
	if lim.ChangeRetention <= 0 || lim.MaxChanges <= 0 || lim.MaxChangeBytes <= 0 {
		return
	}
	l := &r.log
	k := changeKey{inst.Service, inst.ID}
	if old := l.byKey[k]; old != nil {
		l.unlink(old)
	}
	l.push(&logged{Change: Change{At: now, Action: a, Instance: inst}, key: k, cost: changeCost(a, inst)})
	for l.head != nil && (len(l.byKey) > lim.MaxChanges || l.bytes > lim.MaxChangeBytes ||
		now.Sub(l.head.At) > lim.ChangeRetention) {
		l.unlink(l.head)
	}
}

// Recent returns each instance's last change logged within the retention
// before now, oldest first, and the status totals and index they lead to.
func (r *Registry) Recent(now time.Time) Delta {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d := Delta{Index: r.index, Totals: maps.Clone(r.totals)}
	for n := r.log.head; n != nil; n = n.next {
		if now.Sub(n.At) > r.limits.ChangeRetention {
			continue
		}
		if d.Changes == nil {
			d.Expires = n.At.Add(r.limits.ChangeRetention)
		}
		d.Changes = append(d.Changes, n.Change)
	}
	return d
}

// Version is what a listing of the registry depends on: the index, which
// every change moves, and when the delta's oldest change leaves the
// retention (Delta.Expires). A client polling a listing the server has
// already encoded needs no more, so finding it copies nothing.
type Version struct {
	Index        uint64
	DeltaExpires time.Time
}

// Version returns the registry's version at now; Recent(now) has the same
// Index and Expires.
func (r *Registry) Version(now time.Time) Version {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v := Version{Index: r.index}
	for n := r.log.head; n != nil; n = n.next {
		if now.Sub(n.At) <= r.limits.ChangeRetention {
			v.DeltaExpires = n.At.Add(r.limits.ChangeRetention)
			break
		}
	}
	return v
}

// ChangeLogSize returns the number of changes the log holds and the bytes
// it accounts for them, which MaxChangeBytes bounds.
func (r *Registry) ChangeLogSize() (changes, bytes int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.log.byKey), r.log.bytes
}
