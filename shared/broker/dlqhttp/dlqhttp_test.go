package dlqhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/broker/dlqhttp"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
)

const prefix = "/api/v1/widgets/admin"

// TestListAndReplay dead-letters an event on a real NATS server, lists it
// through the endpoint and replays it to a consumer that now accepts it.
func TestListAndReplay(t *testing.T) {
	srv := brokertest.Embedded(t)
	b, err := broker.Open(context.Background(), srv.URL(), broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	producer, consumer := brokertest.Name("p"), brokertest.Name("c")

	var accept atomic.Bool
	applied := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = b.Consume(ctx, broker.Consumer{Name: consumer, Types: []string{producer + ".thing_done"}, Handler: func(_ context.Context, ev events.Event) error {
			if !accept.Load() {
				return broker.Permanent(errors.New("not yet"))
			}
			applied <- ev.ID
			return nil
		}})
	}()
	t.Cleanup(func() { cancel(); <-done })

	iss := authntest.NewIssuer(t)
	router := httpmw.NewRouter()
	dlqhttp.Register(router, prefix, b.DeadLetters(consumer), iss.Verifier())
	api := httptest.NewServer(router)
	t.Cleanup(api.Close)
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	doctor := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"DOCTOR"}})
	send := func(tok, method, path string) apitest.Response {
		return apitest.Do(t, http.DefaultClient, apitest.NewRequest(t, method, api.URL+prefix+path, nil, apitest.Bearer(tok)...))
	}

	ev, err := events.New(producer+".thing_done", 1, "s1", map[string]string{"k": "v"}, time.Now())
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.Publish(context.Background(), ev) == nil }, 10*time.Second, 50*time.Millisecond)

	var items []any
	require.Eventually(t, func() bool {
		r := send(admin, http.MethodGet, "/dead-letters")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		items, _ = r.JSON(t)["items"].([]any)
		return len(items) == 1
	}, 20*time.Second, 100*time.Millisecond)
	item := items[0].(map[string]any)
	assert.Equal(t, ev.ID, item["id"])
	assert.Equal(t, consumer, item["consumer"])
	assert.Contains(t, item["reason"], "not yet")
	assert.Equal(t, ev.Type, item["event"].(map[string]any)["type"])

	assert.Equal(t, http.StatusUnauthorized, send("", http.MethodGet, "/dead-letters").Status)
	assert.Equal(t, http.StatusForbidden, send(doctor, http.MethodGet, "/dead-letters").Status)
	assert.Equal(t, http.StatusForbidden, send(doctor, http.MethodPost, "/dead-letters/"+ev.ID+"/replay").Status)
	r400 := send(admin, http.MethodGet, "/dead-letters?limit=0")
	assert.Equal(t, http.StatusBadRequest, r400.Status)
	assert.Contains(t, string(r400.Body), "limit")
	assert.Equal(t, http.StatusBadRequest, send(admin, http.MethodPost, "/dead-letters/a%20b/replay").Status)
	assert.Equal(t, http.StatusNotFound, send(admin, http.MethodPost, "/dead-letters/"+ids.New()+"/replay").Status)

	accept.Store(true)
	assert.Equal(t, http.StatusAccepted, send(admin, http.MethodPost, "/dead-letters/"+ev.ID+"/replay").Status)
	select {
	case id := <-applied:
		assert.Equal(t, ev.ID, id)
	case <-time.After(20 * time.Second):
		t.Fatal("the replayed event did not reach its consumer")
	}
	r := send(admin, http.MethodGet, "/dead-letters")
	assert.JSONEq(t, `{"items":[]}`, string(r.Body), "a replayed dead letter is gone")
	assert.Equal(t, http.StatusNotFound, send(admin, http.MethodPost, "/dead-letters/"+ev.ID+"/replay").Status)

	srv.Stop()
	r = send(admin, http.MethodGet, "/dead-letters")
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	r = send(admin, http.MethodPost, "/dead-letters/"+ev.ID+"/replay")
	assert.Equal(t, http.StatusServiceUnavailable, r.Status)
}

func TestWithoutABrokerThereAreNone(t *testing.T) {
	iss := authntest.NewIssuer(t)
	r := httpmw.NewRouter()
	dlqhttp.Register(r, prefix, broker.Disabled{}.DeadLetters("c"), iss.Verifier())
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, prefix+"/dead-letters", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	r.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"items":[]}`, rec.Body.String())
}
