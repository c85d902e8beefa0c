package registry_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/registry"
)

type note string

func (n note) Equal(o registry.Extra) bool { m, ok := o.(note); return ok && m == n }

func actions(d registry.Delta) []string {
	var out []string
	for _, c := range d.Changes {
		out = append(out, string(c.Action)+" "+c.Instance.Service+"/"+c.Instance.ID+" "+string(c.Instance.Status))
	}
	return out
}

func TestRecentLogsEveryVisibleChangeWithinTheRetention(t *testing.T) {
	l := registry.DefaultLimits()
	l.ChangeRetention = time.Minute
	r := registry.New(t0, l)
	_, _, err := r.Register(t0, reg("auth", "a1", 1))
	require.NoError(t, err)
	_, _, _ = r.Register(t0, reg("auth", "a1", 1)) // a renewal: not logged
	_, _ = r.Heartbeat(t0, "auth", "a1")
	_, _ = r.SetStatus(t0.Add(time.Second), "auth", "a1", registry.Starting)
	_, _, _ = r.Register(t0.Add(2*time.Second), reg("doctor", "d1", 2))
	_, err = r.Deregister(t0.Add(3*time.Second), "doctor", "d1")
	require.NoError(t, err)

	d := r.Recent(t0.Add(3 * time.Second))
	assert.Equal(t, []string{"ADDED auth/a1 UP", "MODIFIED auth/a1 STARTING", "ADDED doctor/d1 UP", "DELETED doctor/d1 UP"}, actions(d))
	assert.Equal(t, map[registry.Status]int{registry.Starting: 1}, d.Totals)
	assert.Equal(t, r.Index(), d.Index)

	// Past the retention only the later changes remain.
	d = r.Recent(t0.Add(time.Minute + 1500*time.Millisecond))
	assert.Equal(t, []string{"ADDED doctor/d1 UP", "DELETED doctor/d1 UP"}, actions(d))

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
