package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

// generous bounds how long a test waits for something that should happen
// at once; it is a safety net, not a speed target.
const generous = 10 * time.Second

func setup(t *testing.T) (service.Service, *registry.Registry, *clocktest.Clock) {
	t.Helper()
	c := clocktest.New(time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC))
	r := registry.New(c.Now(), registry.DefaultLimits())
	return service.New(r, c), r, c
}

func register(t *testing.T, s service.Service, svc, id string, port int) {
	t.Helper()
	_, _, err := s.Register(context.Background(), registry.Registration{Service: svc, ID: id, Address: "10.0.0.1", Port: port})
	require.NoError(t, err)
}

type result struct {
	v   registry.ServiceView
	err error
	at  time.Time
}

func blockOn(s service.Service, name string, q service.Query) <-chan result {
	out := make(chan result, 1)
	go func() {
		v, err := s.Service(context.Background(), name, q)
		out <- result{v, err, time.Now()}
	}()
	return out
}

func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(generous):
		t.Fatal("blocked reader was not woken")
		return result{}
	}
}

// parked waits until n readers are blocked in the registry: the barrier
// that proves a query blocked before the change meant to wake it is made.
func parked(t *testing.T, r *registry.Registry, n int) {
	t.Helper()
	deadline := time.Now().Add(generous)
	for r.Blocked() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d readers blocked, want %d", r.Blocked(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBlockedReaderIsWokenByAChange(t *testing.T) {
	s, reg, _ := setup(t)
	ctx := context.Background()
	register(t, s, "auth", "a1", 8081)
	v, err := s.Service(ctx, "auth", service.Query{})
	require.NoError(t, err)

	got := blockOn(s, "auth", service.Query{Index: v.Index, Wait: time.Minute})
	parked(t, reg, 1)
	// A heartbeat and a change to another service must not answer the reader.
	_, err = s.Heartbeat(ctx, "auth", "a1")
	require.NoError(t, err)
	register(t, s, "doctor", "d1", 8082)
	select {
	case r := <-got:
		t.Fatalf("reader answered without a change to its service: index %d", r.v.Index)
	default:
	}

	parked(t, reg, 1)
	changed := time.Now()
	register(t, s, "auth", "a2", 8083)
	r := await(t, got)
	require.NoError(t, r.err)
	assert.False(t, r.at.Before(changed), "the answer came after the change")
	assert.Greater(t, r.v.Index, v.Index)
	assert.Len(t, r.v.Instances, 2)
	t.Logf("change seen by the blocked reader after %s", r.at.Sub(changed))
}

func TestBlockingQueryAnswersAtOnceWhenNotCurrent(t *testing.T) {
	s, r, _ := setup(t)
	ctx := context.Background()
	register(t, s, "auth", "a1", 8081)
	v, _ := s.Service(ctx, "auth", service.Query{})

	// An older index: the reader has missed a change.
	got, err := s.Service(ctx, "auth", service.Query{Index: v.Index - 1, Wait: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, v.Index, got.Index)

	// An index from an earlier run of the server (above the registry's own).
	got, err = s.Service(ctx, "auth", service.Query{Index: r.Index() + 100, Wait: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, v.Index, got.Index)
}

func TestBlockingQueryEndsWithTheWait(t *testing.T) {
	s, _, _ := setup(t)
	register(t, s, "auth", "a1", 8081)
	v, _ := s.Service(context.Background(), "auth", service.Query{})
	got, err := s.Service(context.Background(), "auth", service.Query{Index: v.Index, Wait: 20 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, v.Index, got.Index, "no change: the same index")
	assert.Len(t, got.Instances, 1)
}

func TestBlockingOnAnUnknownServiceWakesWhenItAppears(t *testing.T) {
	s, reg, _ := setup(t)
	v, err := s.Service(context.Background(), "patient", service.Query{})
	require.NoError(t, err)
	assert.Equal(t, uint64(0), v.Index)

	got := blockOn(s, "patient", service.Query{Index: 0, Wait: time.Minute})
	parked(t, reg, 1)
	register(t, s, "auth", "a1", 8081) // another service: the reader looks and waits on
	parked(t, reg, 1)
	select {
	case <-got:
		t.Fatal("reader answered by a change to another service")
	default:
	}
	register(t, s, "patient", "p1", 8083)
	r := await(t, got)
	require.NoError(t, r.err)
	require.Len(t, r.v.Instances, 1)
	assert.Equal(t, "p1", r.v.Instances[0].ID)
}

// Forgetting emptied services to make room does not answer the readers of
// a name never held: they wait out their wait.
func TestBlockingOnANameNeverHeldWaitsAfterServicesWereForgotten(t *testing.T) {
	c := clocktest.New(time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC))
	limits := registry.DefaultLimits()
	limits.MaxServices = 1
	s := service.New(registry.New(c.Now(), limits), c)
	ctx := context.Background()
	register(t, s, "auth", "a1", 8081)
	require.NoError(t, s.Deregister(ctx, "auth", "a1"))
	register(t, s, "doctor", "d1", 8082) // forgets auth

	const wait = 100 * time.Millisecond
	began := time.Now()
	v, err := s.Service(ctx, "patient", service.Query{Index: 0, Wait: wait})
	require.NoError(t, err)
	assert.Zero(t, v.Index)
	assert.GreaterOrEqual(t, time.Since(began), wait, "answered only at the end of its wait")
}

func TestRegistryQueryBlocksOnAnyChange(t *testing.T) {
	s, reg, _ := setup(t)
	v, err := s.Registry(context.Background(), service.Query{})
	require.NoError(t, err)
	out := make(chan registry.View, 1)
	go func() {
		got, _ := s.Registry(context.Background(), service.Query{Index: v.Index, Wait: time.Minute})
		out <- got
	}()
	parked(t, reg, 1)
	register(t, s, "doctor", "d1", 8082)
	select {
	case got := <-out:
		assert.Greater(t, got.Index, v.Index)
		require.Len(t, got.Services, 1)
		assert.Equal(t, "doctor", got.Services[0].Name)
	case <-time.After(generous):
		t.Fatal("registry reader not woken")
	}
}

func TestShutdownAndCancelAnswerBlockedReaders(t *testing.T) {
	s, r, _ := setup(t)
	register(t, s, "auth", "a1", 8081)
	v, _ := s.Service(context.Background(), "auth", service.Query{})

	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() {
		_, err := s.Service(ctx, "auth", service.Query{Index: v.Index, Wait: time.Hour})
		cancelled <- err
	}()
	got := blockOn(s, "auth", service.Query{Index: v.Index, Wait: time.Hour})
	parked(t, r, 2)

	cancel()
	select {
	case err := <-cancelled:
		assert.NoError(t, err)
	case <-time.After(generous):
		t.Fatal("cancelled reader still blocked")
	}

	r.Close()
	res := await(t, got)
	require.NoError(t, res.err)
	assert.Equal(t, v.Index, res.v.Index)

	// After shutdown began, blocking queries answer at once.
	res2, err := s.Service(context.Background(), "auth", service.Query{Index: v.Index, Wait: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, v.Index, res2.Index)
}

func TestEvictWithInjectedClock(t *testing.T) {
	s, _, c := setup(t)
	ctx := context.Background()
	register(t, s, "auth", "a1", 8081) // default lease 30 s
	register(t, s, "auth", "a2", 8082)

	c.Advance(20 * time.Second)
	_, err := s.Heartbeat(ctx, "auth", "a2")
	require.NoError(t, err)

	c.Advance(10 * time.Second)
	gone, err := s.Evict(ctx)
	require.NoError(t, err)
	assert.Empty(t, gone, "a lease ending now has not lapsed yet")

	c.Advance(time.Millisecond)
	gone, err = s.Evict(ctx)
	require.NoError(t, err)
	require.Len(t, gone, 1)
	assert.Equal(t, "a1", gone[0].ID)

	c.Advance(20 * time.Second)
	gone, err = s.Evict(ctx)
	require.NoError(t, err)
	require.Len(t, gone, 1)
	assert.Equal(t, "a2", gone[0].ID)

	_, err = s.Heartbeat(ctx, "auth", "a2")
	assert.ErrorIs(t, err, registry.ErrNotFound)
}

func TestReaperEvictsAndWakesReaders(t *testing.T) {
	s, reg, c := setup(t)
	register(t, s, "auth", "a1", 8081)
	v, _ := s.Service(context.Background(), "auth", service.Query{})
	got := blockOn(s, "auth", service.Query{Index: v.Index, Wait: time.Minute})
	parked(t, reg, 1)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { service.RunReaper(ctx, s, time.Millisecond); close(done) }()
	c.Advance(31 * time.Second)

	r := await(t, got)
	assert.Empty(t, r.v.Instances)
	cancel()
	<-done
}

func TestInputValidationInTheService(t *testing.T) {
	s, _, _ := setup(t)
	ctx := context.Background()
	_, err := s.Heartbeat(ctx, "Bad Name", "x")
	assert.Error(t, err)
	assert.NotErrorIs(t, err, registry.ErrNotFound)
	_, err = s.Service(ctx, "UPPER", service.Query{})
	assert.Error(t, err)
	assert.Error(t, s.Deregister(ctx, "auth", "no/slash"))
	_, err = s.SetStatus(ctx, "auth", "", registry.Up)
	assert.Error(t, err)
}
