package auditlog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/auditlog"
)

// event stands for a service's audit event.
type event struct{ ID string }

// store records batches; when gate is set, each INSERT waits on it, so a
// test can make events pile up deterministically.
type store struct {
	mu      sync.Mutex
	batches [][]event
	gate    chan struct{}
	entered chan struct{}
	err     error
}

func (s *store) AppendAudit(_ context.Context, evs ...event) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, append([]event(nil), evs...))
	return s.err
}

func (s *store) events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, b := range s.batches {
		for _, e := range b {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

func TestRecordWaitsUntilStored(t *testing.T) {
	st := &store{}
	b := auditlog.New[event](st, auditlog.Options{})
	require.NoError(t, b.Record(context.Background(), event{ID: "a"}))
	assert.Equal(t, []string{"a"}, st.events(), "stored before Record returns")
	require.NoError(t, b.Close(context.Background()))
	assert.ErrorIs(t, b.Record(context.Background(), event{ID: "b"}), auditlog.ErrClosed)
}

func TestConcurrentEventsShareAnInsert(t *testing.T) {
	st := &store{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	b := auditlog.New[event](st, auditlog.Options{Writers: 1})
	errs := make(chan error, 51)
	go func() { errs <- b.Record(context.Background(), event{ID: "first"}) }()
	<-st.entered // the only writer is now busy with "first"
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- b.Record(context.Background(), event{ID: fmt.Sprint(i)}) }()
	}
	// Let the 50 queue up behind the busy writer, then release it; they
	// must land in one more INSERT (batches of up to 256).
	require.Eventually(t, func() bool { return auditlog.QueueLen(b) == 50 }, 5*time.Second, time.Millisecond)
	close(st.gate)
	wg.Wait()
	for range 51 {
		require.NoError(t, <-errs)
	}
	require.NoError(t, b.Close(context.Background()))
	assert.Len(t, st.events(), 51)
	assert.Len(t, st.batches, 2)
}

func TestStoreErrorReachesEveryWaiter(t *testing.T) {
	st := &store{err: errors.New("disk full")}
	b := auditlog.New[event](st, auditlog.Options{})
	defer b.Close(context.Background())
	assert.EqualError(t, b.Record(context.Background(), event{ID: "a"}), "disk full")
}

func TestCloseFlushesQueuedEvents(t *testing.T) {
	st := &store{gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	b := auditlog.New[event](st, auditlog.Options{Writers: 1})
	var wg sync.WaitGroup
	record := func(id string) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = b.Record(context.Background(), event{ID: id}) }()
	}
	record("first")
	<-st.entered // the only writer is busy
	for i := range 9 {
		record(fmt.Sprint(i))
	}
	require.Eventually(t, func() bool { return auditlog.QueueLen(b) == 9 }, 5*time.Second, time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- b.Close(context.Background()) }()
	close(st.gate)
	require.NoError(t, <-closed)
	wg.Wait()
	assert.Len(t, st.events(), 10, "every queued event is written before Close returns")
}

func TestRecordGivesUpWithItsContext(t *testing.T) {
	st := &store{gate: make(chan struct{})}
	b := auditlog.New[event](st, auditlog.Options{Writers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Record(ctx, event{ID: "a"})
	assert.ErrorIs(t, err, context.Canceled)
	close(st.gate)
	require.NoError(t, b.Close(context.Background()))
}
