package apidoc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/apidoc"
	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

// hungService accepts the request and never answers, until the request's
// context ends (a service whose process hangs).
type hungService struct{}

func (hungService) RoundTrip(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// With one routed service hung, the gateway's /openapi.yaml answers from
// its last merge or after one 5 s fetch: concurrent readers of
// /openapi.yaml (or of /docs, which loads it) wait for one build together,
// never for one build each in turn.
func TestDocumentWithAServiceHungAnswersPromptly(t *testing.T) {
	table, err := route.New([]route.Spec{
		{Path: "/api/v1/auth/**", Service: "auth"},
		{Path: "/api/v1/doctors/**", Service: "doctor"},
	})
	require.NoError(t, err)
	src := &apidoc.Source{Table: table, Upstreams: map[string]http.RoundTripper{"auth": &docServer{doc: docA}, "doctor": hungService{}}}
	h := src.DocumentHandler()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for range 4 {
		wg.Go(func() {
			start := time.Now()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, apidoc.DocumentPath, nil))
			took := time.Since(start)
			mu.Lock()
			slowest = max(slowest, took)
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Less(t, slowest, 7*time.Second, "the slowest of 4 concurrent /openapi.yaml requests took %s", slowest.Round(100*time.Millisecond))
}

// hangingService refuses at once until hang is set, then accepts and never
// answers until released or the request's context ends; it counts the
// requests it got.
type hangingService struct {
	hang    atomic.Bool
	release chan struct{}
	calls   atomic.Int32
}

func (h *hangingService) RoundTrip(r *http.Request) (*http.Response, error) {
	h.calls.Add(1)
	if !h.hang.Load() {
		return nil, context.Canceled
	}
	select {
	case <-h.release:
		return nil, context.Canceled
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

// Once a merge exists, a reader never waits for a service: a rebuild that
// is due runs in the background, one at a time, and the readers get the
// last merge at once.
func TestDocumentIsServedFromTheLastMergeWhileAServiceHangs(t *testing.T) {
	table, err := route.New([]route.Spec{
		{Path: "/api/v1/auth/**", Service: "auth"},
		{Path: "/api/v1/doctors/**", Service: "doctor"},
	})
	require.NoError(t, err)
	doctor := &hangingService{release: make(chan struct{})}
	c := clocktest.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	src := &apidoc.Source{Table: table, Upstreams: map[string]http.RoundTripper{"auth": &docServer{doc: docA}, "doctor": doctor}, Clock: c}
	t.Cleanup(func() { close(doctor.release); apidoc.Settle(src) })
	first, err := src.Document(context.Background())
	require.NoError(t, err, "a merge without the doctor service")

	doctor.hang.Store(true)
	c.Advance(2 * time.Second) // the service left out is due to be asked again
	h := src.DocumentHandler()
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for range 8 {
		wg.Go(func() {
			start := time.Now()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, apidoc.DocumentPath, nil))
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, string(first), rec.Body.String())
			took := int64(time.Since(start))
			for old := slowest.Load(); took > old && !slowest.CompareAndSwap(old, took); old = slowest.Load() {
			}
		})
	}
	wg.Wait()
	assert.Less(t, time.Duration(slowest.Load()), time.Second, "readers answered from the last merge")
	assert.Eventually(t, func() bool { return doctor.calls.Load() == 2 }, time.Second, 10*time.Millisecond, "one rebuild under way")
	time.Sleep(50 * time.Millisecond)
	assert.EqualValues(t, 2, doctor.calls.Load(), "one rebuild at a time")
}
