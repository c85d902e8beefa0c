package registry_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/registry"
)

type note string

func (n note) Equal(o registry.Extra) bool { m, ok := o.(note); return ok && m == n }

func (n note) Size() int { return len(n) }

func actions(d registry.Delta) []string {
	var out []string
	for _, c := range d.Changes {
		out = append(out, string(c.Action)+" "+c.Instance.Service+"/"+c.Instance.ID+" "+string(c.Instance.Status))
	}
	return out
}

func TestRecentLogsEachInstancesLastChangeWithinTheRetention(t *testing.T) {
	l := registry.DefaultLimits()
	l.ChangeRetention = time.Minute
	r := registry.New(t0, l)
	_, _, err := r.Register(t0, reg("auth", "a1", 1))
	require.NoError(t, err)
	_, _, _ = r.Register(t0, reg("auth", "a1", 1)) // a renewal: not logged
	_, _ = r.Heartbeat(t0, "auth", "a1")
	_, _, _ = r.Register(t0.Add(time.Second), reg("doctor", "d1", 2))
	_, _ = r.SetStatus(t0.Add(2*time.Second), "auth", "a1", registry.Starting)
	_, err = r.Deregister(t0.Add(3*time.Second), "doctor", "d1")
	require.NoError(t, err)

	// Each instance once, with its last change, in the order of those.
	d := r.Recent(t0.Add(3 * time.Second))
	assert.Equal(t, []string{"MODIFIED auth/a1 STARTING", "DELETED doctor/d1 UP"}, actions(d))
	assert.Equal(t, map[registry.Status]int{registry.Starting: 1}, d.Totals)
	assert.Equal(t, r.Index(), d.Index)
	assert.Equal(t, t0.Add(time.Minute+2*time.Second), d.Expires, "when the oldest change leaves")

	// Past the retention only the later changes remain.
	d = r.Recent(t0.Add(time.Minute + 2500*time.Millisecond))
	assert.Equal(t, []string{"DELETED doctor/d1 UP"}, actions(d))
	assert.Equal(t, t0.Add(time.Minute+3*time.Second), d.Expires)

	// An eviction is a deletion.
	evicted := r.Evict(t0.Add(time.Hour))
	require.Len(t, evicted, 1)
	d = r.Recent(t0.Add(time.Hour))
	assert.Equal(t, []string{"DELETED auth/a1 STARTING"}, actions(d))
	assert.Empty(t, d.Totals)
}

func TestRecentIsBounded(t *testing.T) {
	l := registry.DefaultLimits()
	l.MaxChanges = 3
	r := registry.New(t0, l)
	for i := range 5 {
		_, _, err := r.Register(t0, reg("auth", string(rune('a'+i)), 1))
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"ADDED auth/c UP", "ADDED auth/d UP", "ADDED auth/e UP"}, actions(r.Recent(t0)))
}

// An instance changed over and over holds one change in the log, not one
// per change: each change of a large document would otherwise stay for the
// whole retention.
func TestOneInstanceChangedOftenHoldsOneChange(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	x := reg("auth", "a1", 1)
	for i := range 1000 {
		x.Extra = note(strings.Repeat("x", 8<<10) + strconv.Itoa(i))
		_, _, err := r.Register(t0.Add(time.Duration(i)*time.Millisecond), x)
		require.NoError(t, err)
	}
	n, bytes := r.ChangeLogSize()
	assert.Equal(t, 1, n)
	assert.Less(t, bytes, 1<<10, "a live instance's change shares its document with the registry")
	d := r.Recent(t0.Add(time.Second))
	require.Len(t, d.Changes, 1)
	assert.Equal(t, note(strings.Repeat("x", 8<<10)+"999"), d.Changes[0].Instance.Extra)
}

// A deleted instance's document is held by the log alone, and counted:
// instances registered and deleted under new names fill the log up to
// MaxChangeBytes, the oldest changes leaving first.
func TestChangeLogIsBoundedInBytes(t *testing.T) {
	l := registry.DefaultLimits()
	l.MaxChangeBytes = 256 << 10
	r := registry.New(t0, l)
	doc := strings.Repeat("x", 12<<10)
	for i := range 200 {
		x := reg("auth", fmt.Sprintf("a%03d", i), 1)
		x.Extra = note(doc)
		_, _, err := r.Register(t0, x)
		require.NoError(t, err)
		_, err = r.Deregister(t0, "auth", x.ID)
		require.NoError(t, err)
		_, bytes := r.ChangeLogSize()
		require.LessOrEqual(t, bytes, l.MaxChangeBytes)
	}
	n, bytes := r.ChangeLogSize()
	assert.Greater(t, bytes, l.MaxChangeBytes-(13<<10), "the log is filled, not emptied")
	assert.Less(t, n, 200)
	d := r.Recent(t0)
	require.Len(t, d.Changes, n)
	assert.Equal(t, "DELETED auth/a199 UP", actions(d)[n-1], "the newest change is kept")
}

func TestExtraIsKeptAndAChangeOfItIsAChange(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	x := reg("auth", "a1", 1)
	x.Extra = note("one")
	inst, _, err := r.Register(t0, x)
	require.NoError(t, err)
	assert.Equal(t, note("one"), inst.Extra)
	idx := r.Index()
	_, _, _ = r.Register(t0, x)
	assert.Equal(t, idx, r.Index(), "the same extra is a renewal")
	x.Extra = note("two")
	_, _, _ = r.Register(t0, x)
	assert.Greater(t, r.Index(), idx)
	l, err := r.Heartbeat(t0, "auth", "a1")
	require.NoError(t, err)
	assert.Equal(t, note("two"), l.Extra)
	assert.Equal(t, registry.Up, l.Status)
	x.Extra = nil
	_, _, _ = r.Register(t0, x)
	v, _, _ := r.Service("auth")
	assert.Nil(t, v.Instances[0].Extra)
}

// Version is what a poller's cached listing is keyed by: Recent's index and
// expiry, found without copying a change.
func TestVersionIsRecentsWithoutCopying(t *testing.T) {
	l := registry.DefaultLimits()
	l.ChangeRetention = time.Minute
	r := registry.New(t0, l)
	for i := range 100 {
		_, _, err := r.Register(t0.Add(time.Duration(i)*time.Second), reg("auth", fmt.Sprintf("a%d", i), 1))
		require.NoError(t, err)
	}
	for _, at := range []time.Duration{0, 30 * time.Second, 90 * time.Second, 10 * time.Minute} {
		now := t0.Add(at)
		d, v := r.Recent(now), r.Version(now)
		assert.Equal(t, d.Index, v.Index, at)
		assert.Equal(t, d.Expires, v.DeltaExpires, at)
	}
	assert.Zero(t, testing.AllocsPerRun(10, func() { r.Version(t0.Add(90 * time.Second)) }))
}
