package registry_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/registry"
)

// addKey is an update that adds one metadata key to an existing instance.
func addKey(key string) func(*registry.Instance) (registry.Registration, error) {
	return func(cur *registry.Instance) (registry.Registration, error) {
		if cur == nil {
			return registry.Registration{}, registry.ErrNotFound
		}
		md := cur.Metadata
		if md == nil {
			md = map[string]string{}
		}
		md[key] = "v"
		return registry.Registration{Service: cur.Service, ID: cur.ID, Address: cur.Address, Port: cur.Port,
			TTLSeconds: int(cur.TTL / time.Second), Status: cur.Status, Metadata: md}, nil
	}
}

func TestUpdateCreatesChangesAndKeepsTheLease(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())

	// Absent: f sees nil and may refuse, or create.
	_, _, err := r.Update(t0, "auth", "a1", false, addKey("k"))
	require.ErrorIs(t, err, registry.ErrNotFound)
	inst, created, err := r.Update(t0, "auth", "a1", false, func(cur *registry.Instance) (registry.Registration, error) {
		assert.Nil(t, cur)
		return reg("auth", "a1", 8081), nil
	})
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, t0.Add(30*time.Second), inst.LeaseExpiresAt, "a new instance's lease starts")
	index := r.Index()

	// A change by someone else is no sign of life: the lease stays.
	later := t0.Add(10 * time.Second)
	inst, created, err = r.Update(later, "auth", "a1", false, addKey("k"))
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, map[string]string{"k": "v"}, inst.Metadata)
	assert.Equal(t, t0.Add(30*time.Second), inst.LeaseExpiresAt)
	assert.Equal(t, later, inst.UpdatedAt)
	assert.Equal(t, index+1, r.Index())

	// Asked to, it renews, as a registration does.
	inst, _, err = r.Update(later, "auth", "a1", true, addKey("k2"))
	require.NoError(t, err)
	assert.Equal(t, later.Add(30*time.Second), inst.LeaseExpiresAt)

	// Nothing changed: the index stays.
	index = r.Index()
	_, _, err = r.Update(later, "auth", "a1", false, addKey("k"))
	require.NoError(t, err)
	assert.Equal(t, index, r.Index())

	// The result is validated, and must stay the same instance.
	_, _, err = r.Update(later, "auth", "a1", false, func(cur *registry.Instance) (registry.Registration, error) {
		g := reg("auth", "a1", 0)
		return g, nil
	})
	require.Error(t, err)
	_, _, err = r.Update(later, "auth", "a1", false, func(cur *registry.Instance) (registry.Registration, error) {
		return reg("auth", "a2", 8081), nil
	})
	require.Error(t, err)
	_, err = r.Instance("auth", "a2")
	require.ErrorIs(t, err, registry.ErrNotFound)
}

// The instance f is given is a copy: modifying its metadata changes nothing
// until the update is applied, and views handed out earlier stay as they were.
func TestUpdateGivesACopy(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	g := reg("auth", "a1", 8081)
	g.Metadata = map[string]string{"a": "1"}
	before, _, err := r.Register(t0, g)
	require.NoError(t, err)
	_, _, err = r.Update(t0, "auth", "a1", false, func(cur *registry.Instance) (registry.Registration, error) {
		cur.Metadata["a"] = "2"
		return registry.Registration{}, registry.ErrNotFound
	})
	require.Error(t, err)
	now, err := r.Instance("auth", "a1")
	require.NoError(t, err)
	assert.Equal(t, "1", now.Metadata["a"])
	assert.Equal(t, "1", before.Metadata["a"])
}

// Read-modify-write updates racing on one instance all land.
func TestConcurrentUpdatesAreNotLost(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	_, _, err := r.Register(t0, reg("auth", "a1", 8081))
	require.NoError(t, err)
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"}
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := r.Update(t0, "auth", "a1", false, addKey(k))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	inst, err := r.Instance("auth", "a1")
	require.NoError(t, err)
	assert.Len(t, inst.Metadata, len(keys))
}
