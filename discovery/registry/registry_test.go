package registry_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/shared/problem"
)

var t0 = time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC)

func reg(service, id string, port int) registry.Registration {
	return registry.Registration{Service: service, ID: id, Address: "127.0.0.1", Port: port}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestRegisterCreatesThenRenewsThenReplaces(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	require.Equal(t, uint64(1), r.Index())

	inst, created, err := r.Register(t0, reg("auth", "a1", 8081))
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, registry.Up, inst.Status, "status defaults to UP")
	assert.Equal(t, 30*time.Second, inst.TTL, "TTL defaults to 30s")
	assert.Equal(t, t0.Add(30*time.Second), inst.LeaseExpiresAt)
	assert.Equal(t, uint64(2), r.Index())

	// The same registration again is only a renewal: readers are not woken.
	v, _, ch := r.Service("auth")
	later := t0.Add(10 * time.Second)
	inst, created, err = r.Register(later, reg("auth", "a1", 8081))
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, later.Add(30*time.Second), inst.LeaseExpiresAt)
	assert.Equal(t, uint64(2), r.Index())
	assert.False(t, closed(ch))

	// A different port replaces the instance and is a visible change.
	inst, created, err = r.Register(later, reg("auth", "a1", 9091))
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, 9091, inst.Port)
	assert.Equal(t, t0, inst.RegisteredAt, "a replacement keeps the first registration time")
	assert.Equal(t, uint64(3), r.Index())
	assert.True(t, closed(ch))
	v2, _, _ := r.Service("auth")
	assert.Greater(t, v2.Index, v.Index)
	assert.Equal(t, 1, r.Size())
}

func TestRegisterMetadataIsCopied(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	md := map[string]string{"version": "1"}
	in := reg("auth", "a1", 8081)
	in.Metadata = md
	_, _, err := r.Register(t0, in)
	require.NoError(t, err)
	md["version"] = "2"
	v, _, _ := r.Service("auth")
	assert.Equal(t, "1", v.Instances[0].Metadata["version"])
}

func TestValidation(t *testing.T) {
	limits := registry.DefaultLimits()
	tooMany := map[string]string{}
	for i := 0; i <= limits.MaxMetadataKeys; i++ {
		tooMany[fmt.Sprintf("k%d", i)] = "v"
	}
	big := map[string]string{}
	for i := 0; i < 10; i++ {
		big[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 500)
	}
	cases := []struct {
		name  string
		edit  func(*registry.Registration)
		field string
	}{
		{"uppercase service", func(r *registry.Registration) { r.Service = "Auth" }, "service"},
		{"empty service", func(r *registry.Registration) { r.Service = "" }, "service"},
		{"service with dot", func(r *registry.Registration) { r.Service = "auth.v1" }, "service"},
		{"service too long", func(r *registry.Registration) { r.Service = strings.Repeat("a", 64) }, "service"},
		{"service ends with dash", func(r *registry.Registration) { r.Service = "auth-" }, "service"},
		{"id with space", func(r *registry.Registration) { r.ID = "a 1" }, "instanceId"},
		{"id with slash", func(r *registry.Registration) { r.ID = "a/1" }, "instanceId"},
		{"id too long", func(r *registry.Registration) { r.ID = strings.Repeat("a", 129) }, "instanceId"},
		{"missing address", func(r *registry.Registration) { r.Address = "" }, "address"},
		{"address with scheme", func(r *registry.Registration) { r.Address = "http://host" }, "address"},
		{"address with port", func(r *registry.Registration) { r.Address = "host:80" }, "address"},
		{"bad IPv4", func(r *registry.Registration) { r.Address = "999.1.1.1" }, "address"},
		{"address with underscore", func(r *registry.Registration) { r.Address = "my_host" }, "address"},
		{"missing port", func(r *registry.Registration) { r.Port = 0 }, "port"},
		{"negative port", func(r *registry.Registration) { r.Port = -1 }, "port"},
		{"port too high", func(r *registry.Registration) { r.Port = 65536 }, "port"},
		{"TTL too short", func(r *registry.Registration) { r.TTLSeconds = 4 }, "ttlSeconds"},
		{"TTL too long", func(r *registry.Registration) { r.TTLSeconds = 301 }, "ttlSeconds"},
		{"negative TTL", func(r *registry.Registration) { r.TTLSeconds = -5 }, "ttlSeconds"},
		{"TTL wrapping around to 6s", func(r *registry.Registration) { r.TTLSeconds = 6 + 1<<55 }, "ttlSeconds"},
		{"unknown status", func(r *registry.Registration) { r.Status = "up" }, "status"},
		{"too many metadata keys", func(r *registry.Registration) { r.Metadata = tooMany }, "metadata"},
		{"bad metadata key", func(r *registry.Registration) { r.Metadata = map[string]string{"a b": "c"} }, "metadata"},
		{"metadata value too long", func(r *registry.Registration) { r.Metadata = map[string]string{"k": strings.Repeat("v", 513)} }, "metadata.k"},
		{"metadata too big", func(r *registry.Registration) { r.Metadata = big }, "metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := registry.New(t0, limits)
			in := reg("auth", "a1", 8081)
			tc.edit(&in)
			_, _, err := r.Register(t0, in)
			var fe problem.FieldErrors
			require.ErrorAs(t, err, &fe)
			fields := make([]string, len(fe))
			for i, f := range fe {
				fields[i] = f.Field
			}
			assert.Contains(t, fields, tc.field)
			assert.Equal(t, 0, r.Size())
			assert.Equal(t, uint64(1), r.Index(), "a rejected registration changes nothing")
		})
	}
}

func TestValidRegistrations(t *testing.T) {
	for _, edit := range []func(*registry.Registration){
		func(r *registry.Registration) { r.Address = "::1" },
		func(r *registry.Registration) { r.Address = "doctor-2.internal.example" },
		func(r *registry.Registration) { r.Address = "localhost" },
		func(r *registry.Registration) { r.Port = 65535; r.TTLSeconds = 5 },
		func(r *registry.Registration) { r.TTLSeconds = 300; r.Status = registry.OutOfService },
		func(r *registry.Registration) { r.ID = "auth-127.0.0.1:8081"; r.Service = "a" },
		func(r *registry.Registration) { r.Metadata = map[string]string{"version": "1.2.3", "zone/rack": ""} },
	} {
		r := registry.New(t0, registry.DefaultLimits())
		in := reg("auth", "a1", 8081)
		edit(&in)
		_, _, err := r.Register(t0, in)
		assert.NoError(t, err, "%+v", in)
	}
}

func TestHeartbeatRenewsWithoutMovingTheIndex(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	in := reg("auth", "a1", 8081)
	in.TTLSeconds = 10
	_, _, err := r.Register(t0, in)
	require.NoError(t, err)
	idx := r.Index()
	_, _, svcChanged := r.Service("auth")
	_, allChanged := r.All()

	l, err := r.Heartbeat(t0.Add(7*time.Second), "auth", "a1")
	require.NoError(t, err)
	assert.Equal(t, t0.Add(17*time.Second), l.LeaseExpiresAt)
	assert.Equal(t, t0.Add(7*time.Second), l.LastHeartbeat)
	assert.Equal(t, idx, r.Index())
	assert.False(t, closed(svcChanged), "a heartbeat must not wake readers of the service")
	assert.False(t, closed(allChanged), "a heartbeat must not wake readers of the registry")

	v, _, _ := r.Service("auth")
	assert.Equal(t, t0.Add(7*time.Second), v.Instances[0].LastHeartbeat, "readers still see the renewed lease")

	_, err = r.Heartbeat(t0, "auth", "nobody")
	assert.ErrorIs(t, err, registry.ErrNotFound)
	_, err = r.Heartbeat(t0, "nothing", "a1")
	assert.ErrorIs(t, err, registry.ErrNotFound)
}

func TestSetStatus(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	_, _, err := r.Register(t0, reg("auth", "a1", 8081))
	require.NoError(t, err)
	before, _, _ := r.Service("auth")

	inst, err := r.SetStatus(t0.Add(time.Second), "auth", "a1", registry.Down)
	require.NoError(t, err)
	assert.Equal(t, registry.Down, inst.Status)
	assert.Equal(t, t0.Add(31*time.Second), inst.LeaseExpiresAt, "a status change is a sign of life")
	idx := r.Index()
	assert.Greater(t, idx, before.Index)
	assert.Equal(t, registry.Up, before.Instances[0].Status, "views handed out earlier do not change")

	_, err = r.SetStatus(t0, "auth", "a1", registry.Down)
	require.NoError(t, err)
	assert.Equal(t, idx, r.Index(), "the same status again is no change")

	_, err = r.SetStatus(t0, "auth", "a1", "SLEEPY")
	var fe problem.FieldErrors
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "status", fe[0].Field)

	_, err = r.SetStatus(t0, "auth", "zz", registry.Up)
	assert.ErrorIs(t, err, registry.ErrNotFound)
}

// statusNote is an adapter's Extra that notes the last status set through
// SetStatus, and is dropped once it is UNKNOWN.
type statusNote struct{ last registry.Status }

func (n *statusNote) Equal(o registry.Extra) bool {
	m, ok := o.(*statusNote)
	return ok && *m == *n
}

func (n *statusNote) Size() int { return len(n.last) }

func (n *statusNote) WithStatus(_ time.Time, st registry.Status) (registry.Extra, registry.Status) {
	if st == registry.Unknown {
		return nil, st
	}
	if st == n.last {
		return n, st
	}
	return &statusNote{last: st}, st
}

// reportsDown is an adapter's Extra for an instance whose own report (DOWN)
// outweighs any status set through SetStatus.
type reportsDown struct{}

func (reportsDown) Equal(o registry.Extra) bool { _, ok := o.(reportsDown); return ok }
func (reportsDown) Size() int                   { return 0 }
func (d reportsDown) WithStatus(time.Time, registry.Status) (registry.Extra, registry.Status) {
	return d, registry.Down
}

func TestSetStatusTakesTheStatusTheExtraSaysTheInstanceHas(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	rg := reg("auth", "a1", 8081)
	rg.Status, rg.Extra = registry.Down, reportsDown{}
	_, _, err := r.Register(t0, rg)
	require.NoError(t, err)
	idx := r.Index()
	inst, err := r.SetStatus(t0, "auth", "a1", registry.Up)
	require.NoError(t, err)
	assert.Equal(t, registry.Down, inst.Status)
	assert.Equal(t, idx, r.Index(), "nothing changed")
}

func TestSetStatusLetsTheExtraFollowTheStatus(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	rg := reg("auth", "a1", 8081)
	rg.Extra = &statusNote{last: registry.Up}
	_, _, err := r.Register(t0, rg)
	require.NoError(t, err)

	idx := r.Index()
	_, err = r.SetStatus(t0, "auth", "a1", registry.Up)
	require.NoError(t, err)
	assert.Equal(t, idx, r.Index(), "the same status with the same Extra is no change")

	inst, err := r.SetStatus(t0, "auth", "a1", registry.Down)
	require.NoError(t, err)
	assert.Equal(t, &statusNote{last: registry.Down}, inst.Extra)
	assert.Greater(t, r.Index(), idx)

	rg.Status = registry.Down // an Extra out of step with the status
	_, _, err = r.Register(t0, rg)
	require.NoError(t, err)
	idx = r.Index()
	inst, err = r.SetStatus(t0, "auth", "a1", registry.Down)
	require.NoError(t, err)
	assert.Equal(t, &statusNote{last: registry.Down}, inst.Extra, "an Extra that changes alone is a change")
	assert.Greater(t, r.Index(), idx)

	inst, err = r.SetStatus(t0, "auth", "a1", registry.Unknown)
	require.NoError(t, err)
	assert.Nil(t, inst.Extra)
}

func TestDeregister(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	_, _, err := r.Register(t0, reg("auth", "a1", 8081))
	require.NoError(t, err)
	_, _, ch := r.Service("auth")
	_, err = r.Deregister(t0, "auth", "a1")
	require.NoError(t, err)
	assert.True(t, closed(ch))
	v, _, _ := r.Service("auth")
	assert.Empty(t, v.Instances)
	assert.Equal(t, r.Index(), v.Index, "an emptied service keeps its index moving")
	assert.Equal(t, 0, r.Size())
	all, _ := r.All()
	assert.Empty(t, all.Services, "services without instances are not listed")

	_, err = r.Deregister(t0, "auth", "a1")
	assert.ErrorIs(t, err, registry.ErrNotFound)
}

func TestRegistryIsBounded(t *testing.T) {
	limits := registry.DefaultLimits()
	limits.MaxInstances, limits.MaxServices = 3, 2
	r := registry.New(t0, limits)
	for _, x := range []registry.Registration{reg("auth", "a1", 1), reg("auth", "a2", 2), reg("doctor", "d1", 3)} {
		_, _, err := r.Register(t0, x)
		require.NoError(t, err)
	}
	index := r.Index()
	_, _, err := r.Register(t0, reg("auth", "a3", 4))
	assert.ErrorIs(t, err, registry.ErrFull, "one instance too many")
	assert.Equal(t, index, r.Index())
	_, _, err = r.Register(t0, reg("auth", "a1", 5))
	assert.NoError(t, err, "an instance already held may be replaced")

	_, err = r.Deregister(t0, "auth", "a2")
	require.NoError(t, err)
	index = r.Index()
	_, _, err = r.Register(t0, reg("patient", "p1", 6))
	assert.ErrorIs(t, err, registry.ErrFull, "one service too many")
	assert.Equal(t, index, r.Index(), "a refused registration changes nothing")
	v, _, _ := r.Service("patient")
	assert.Zero(t, v.Index)
	_, _, err = r.Register(t0, reg("doctor", "d2", 7))
	assert.NoError(t, err, "a known service may take instances")
	assert.Equal(t, 3, r.Size())

	limits.MaxInstances = -1
	assert.Error(t, limits.Validate())
}

// Only services with instances count toward MaxServices: one whose last
// instance left is forgotten when a new service needs its room, and its
// readers learn of it without missing what comes next.
func TestEmptiedServicesMakeRoomForNewOnes(t *testing.T) {
	limits := registry.DefaultLimits()
	limits.MaxServices = 2
	r := registry.New(t0, limits)
	for i := range 50 {
		name := fmt.Sprintf("short-lived-%d", i)
		_, _, err := r.Register(t0, reg(name, "i1", 80))
		require.NoError(t, err, "service %d of a registry holding none", i)
		_, err = r.Deregister(t0, name, "i1")
		require.NoError(t, err)
	}

	_, _, err := r.Register(t0, reg("auth", "a1", 1))
	require.NoError(t, err)
	_, _, err = r.Register(t0, reg("doctor", "d1", 2))
	require.NoError(t, err)
	_, _, err = r.Register(t0, reg("patient", "p1", 3))
	assert.ErrorIs(t, err, registry.ErrFull, "both services have instances")

	_, err = r.Deregister(t0, "doctor", "d1")
	require.NoError(t, err)
	emptied, _, ch := r.Service("doctor")
	assert.Empty(t, emptied.Instances)
	_, _, err = r.Register(t0, reg("patient", "p1", 3))
	require.NoError(t, err, "the emptied service makes room")
	assert.True(t, closed(ch), "a reader of the forgotten service looks again")
	v, global, ch := r.Service("doctor")
	assert.Empty(t, v.Instances)
	assert.Equal(t, emptied.Index, v.Index, "what its reader holds is still current")
	assert.Less(t, v.Index, global)
	_, _, err = r.Register(t0, reg("doctor", "d2", 2))
	assert.ErrorIs(t, err, registry.ErrFull)
	assert.False(t, closed(ch))

	_, err = r.Deregister(t0, "auth", "a1")
	require.NoError(t, err)
	assert.True(t, closed(ch), "a reader of an unknown service wakes on any change")
	_, _, err = r.Register(t0, reg("doctor", "d2", 2))
	require.NoError(t, err)
	v, _, _ = r.Service("doctor")
	assert.Len(t, v.Instances, 1)
	assert.Greater(t, v.Index, emptied.Index, "its index moved forward")
}

// A name never held answers index 0 after other services were forgotten,
// so its readers wait for it to appear; a forgotten name answers the index
// it had. Past MaxServices names forgotten, the oldest one's index is what
// every other unknown name answers.
func TestOnlyForgottenNamesAnswerTheirOldIndex(t *testing.T) {
	limits := registry.DefaultLimits()
	limits.MaxServices = 2
	r := registry.New(t0, limits)
	churn := func(name string) uint64 {
		t.Helper()
		_, _, err := r.Register(t0, reg(name, "i1", 80))
		require.NoError(t, err)
		_, err = r.Deregister(t0, name, "i1")
		require.NoError(t, err)
		v, _, _ := r.Service(name)
		return v.Index
	}
	first := churn("first")
	second := churn("second")
	_, _, err := r.Register(t0, reg("auth", "a1", 1)) // forgets first
	require.NoError(t, err)
	_, err = r.Deregister(t0, "auth", "a1")
	require.NoError(t, err)
	_, _, err = r.Register(t0, reg("doctor", "d1", 2)) // forgets second
	require.NoError(t, err)

	v, _, _ := r.Service("never-held")
	assert.Zero(t, v.Index, "nothing its readers could have missed")
	v, _, _ = r.Service("first")
	assert.Equal(t, first, v.Index)
	v, _, _ = r.Service("second")
	assert.Equal(t, second, v.Index)

	_, err = r.Deregister(t0, "doctor", "d1")
	require.NoError(t, err)
	_, _, err = r.Register(t0, reg("patient", "p1", 3)) // forgets auth: three names
	require.NoError(t, err)
	v, _, _ = r.Service("never-held")
	assert.Equal(t, first, v.Index, "the oldest name forgotten is no longer told apart")
	v, _, _ = r.Service("first")
	assert.Equal(t, first, v.Index)
	v, _, _ = r.Service("second")
	assert.Equal(t, second, v.Index)
}

func TestEvictionFollowsTheLease(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	short := reg("auth", "short", 8081)
	short.TTLSeconds = 5
	long := reg("auth", "long", 8082)
	long.TTLSeconds = 60
	other := reg("doctor", "d1", 8083)
	other.TTLSeconds = 5
	for _, in := range []registry.Registration{short, long, other} {
		_, _, err := r.Register(t0, in)
		require.NoError(t, err)
	}
	idx := r.Index()

	// Exactly at the end of the lease the instance still holds it.
	assert.Empty(t, r.Evict(t0.Add(5*time.Second)))
	assert.Equal(t, idx, r.Index())

	// A heartbeat in time keeps the doctor alive.
	_, err := r.Heartbeat(t0.Add(4*time.Second), "doctor", "d1")
	require.NoError(t, err)

	_, _, authChanged := r.Service("auth")
	_, _, doctorChanged := r.Service("doctor")
	gone := r.Evict(t0.Add(5*time.Second + time.Nanosecond))
	require.Len(t, gone, 1)
	assert.Equal(t, "short", gone[0].ID)
	assert.Equal(t, "auth", gone[0].Service)
	assert.Equal(t, idx+1, r.Index())
	assert.True(t, closed(authChanged))
	assert.False(t, closed(doctorChanged), "eviction in one service does not wake readers of another")

	gone = r.Evict(t0.Add(10 * time.Minute))
	require.Len(t, gone, 2)
	assert.Equal(t, []string{"long", "d1"}, []string{gone[0].ID, gone[1].ID}, "ordered by service, then ID")
	assert.Equal(t, idx+2, r.Index(), "one sweep moves the index once")
	assert.Equal(t, 0, r.Size())

	// An evicted instance's heartbeat is refused, so its client registers again.
	_, err = r.Heartbeat(t0.Add(10*time.Minute), "auth", "short")
	assert.ErrorIs(t, err, registry.ErrNotFound)
}

func TestUnknownServiceWaitsOnAnyChange(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	v, global, ch := r.Service("auth")
	assert.Equal(t, uint64(0), v.Index)
	assert.Equal(t, uint64(1), global)
	assert.NotNil(t, v.Instances)
	_, _, err := r.Register(t0, reg("doctor", "d1", 8083))
	require.NoError(t, err)
	assert.True(t, closed(ch), "a reader of an unknown service looks again on any change")
}

func TestCloseWakesReaders(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	assert.False(t, closed(r.Closed()))
	r.Close()
	r.Close()
	assert.True(t, closed(r.Closed()))
}

func TestCounts(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	_, _, _ = r.Register(t0, reg("auth", "a1", 1))
	_, _, _ = r.Register(t0, reg("auth", "a2", 2))
	_, _ = r.SetStatus(t0, "auth", "a2", registry.OutOfService)
	counts := map[string]int{}
	for _, c := range r.Counts() {
		counts[c.Service+"/"+string(c.Status)] = c.Count
	}
	assert.Equal(t, map[string]int{"auth/UP": 1, "auth/DOWN": 0, "auth/OUT_OF_SERVICE": 1, "auth/STARTING": 0, "auth/UNKNOWN": 0}, counts)
	assert.Equal(t, map[registry.Status]int{registry.Up: 1, registry.OutOfService: 1}, r.Totals())
	v, _, _ := r.Service("auth")
	assert.Equal(t, map[registry.Status]int{registry.Up: 1, registry.OutOfService: 1}, v.Counts())
}

func TestLimitsValidate(t *testing.T) {
	assert.NoError(t, registry.DefaultLimits().Validate())
	l := registry.DefaultLimits()
	l.MinTTL = 0
	assert.Error(t, l.Validate())
	l = registry.DefaultLimits()
	l.DefaultTTL = time.Hour
	assert.Error(t, l.Validate())
	l = registry.DefaultLimits()
	l.MaxTTL = time.Second
	assert.Error(t, l.Validate())
	l = registry.DefaultLimits()
	l.MaxBlocked = -1
	assert.Error(t, l.Validate())
}

// Park holds at most MaxBlocked readers; one refused parks nothing and is
// counted, and a reader leaving frees its place. 0 is no bound.
func TestParkIsBounded(t *testing.T) {
	l := registry.DefaultLimits()
	l.MaxBlocked = 2
	r := registry.New(t0, l)
	first, ok := r.Park()
	require.True(t, ok)
	_, ok = r.Park()
	require.True(t, ok)
	_, ok = r.Park()
	require.False(t, ok)
	assert.Equal(t, 2, r.Blocked())
	assert.EqualValues(t, 1, r.TurnedAway())
	first()
	_, ok = r.Park()
	assert.True(t, ok)

	l.MaxBlocked = 0
	r = registry.New(t0, l)
	for range 5 {
		_, ok = r.Park()
		require.True(t, ok)
	}
	assert.Equal(t, 5, r.Blocked())
}

func TestErrNotFoundIsASentinel(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	_, err := r.Deregister(t0, "auth", "x")
	assert.True(t, errors.Is(err, registry.ErrNotFound))
}

func TestListingIsOrderedByID(t *testing.T) {
	r := registry.New(t0, registry.DefaultLimits())
	for _, id := range []string{"m", "c", "x", "a", "k"} {
		_, _, err := r.Register(t0, reg("auth", id, 1))
		require.NoError(t, err)
	}
	_, err := r.Deregister(t0, "auth", "k")
	require.NoError(t, err)
	_, err = r.SetStatus(t0, "auth", "c", registry.Down)
	require.NoError(t, err)
	_, _, err = r.Register(t0, reg("auth", "m", 2))
	require.NoError(t, err)
	in := reg("auth", "b", 1)
	in.TTLSeconds = 5
	_, _, err = r.Register(t0, in)
	require.NoError(t, err)
	r.Evict(t0.Add(6 * time.Second).Add(-time.Second + time.Nanosecond)) // b lapses, the rest (30 s) stay
	v, _, _ := r.Service("auth")
	var ids []string
	for _, i := range v.Instances {
		ids = append(ids, i.ID)
	}
	assert.Equal(t, []string{"a", "c", "m", "x"}, ids)
	assert.Equal(t, registry.Down, v.Instances[1].Status)
	assert.Equal(t, 2, v.Instances[2].Port)
}
