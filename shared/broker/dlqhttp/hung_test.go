package dlqhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/broker/dlqhttp"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// The dead-letter routes answer 503 with Retry-After within the request's
// deadline when the broker hangs. On RabbitMQ they read on a connection of
// the request's own, closed when the request's context ends: waiting on
// the shared connection instead lasts until amqp091 gives it up (three
// missed heartbeats), long after the route's deadline and after the
// gateway's 15 s for /api/v1/notifications/** (its 504).
func TestDeadLettersWithRabbitMQHungAnswerWithinTheDeadline(t *testing.T) {
	raw := brokertest.AMQP(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := sqltest.NewProxy(t, u.Host)
	via := strings.Replace(raw, u.Host, proxy.Addr(), 1)
	b, err := broker.Open(context.Background(), via, broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	// Cut before closing: a publisher closing on a hung connection waits
	// for amqp091 to give it up.
	t.Cleanup(proxy.Down)
	consumer := brokertest.Name("c")

	iss := authntest.NewIssuer(t)
	const deadline = 2 * time.Second
	router := httpmw.NewRouter()
	dlqhttp.Register(router, prefix, b.DeadLetters(consumer), iss.Verifier())
	api := httptest.NewServer(httpmw.Stack(router, httpmw.Options{Timeout: deadline}))
	t.Cleanup(api.Close)
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	call := func(method, path string) (int, string, time.Duration) {
		req, _ := http.NewRequest(method, api.URL+prefix+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After"), time.Since(start)
	}
	list := func() (int, string, time.Duration) { return call(http.MethodGet, "/dead-letters") }
	replay := func() (int, string, time.Duration) {
		return call(http.MethodPost, "/dead-letters/"+ids.New()+"/replay")
	}
	if code, _, _ := list(); code != http.StatusOK {
		t.Fatalf("dead letters with RabbitMQ up = %d", code)
	}
	if code, _, _ := replay(); code != http.StatusNotFound {
		t.Fatalf("replay of an unknown dead letter with RabbitMQ up = %d", code)
	}

	proxy.Hang()
	code, retry, took := list()
	if code != http.StatusServiceUnavailable || retry == "" || took > deadline+time.Second {
		t.Fatalf("dead letters with RabbitMQ hung = %d (Retry-After %q) after %s; want 503 with Retry-After within the %s deadline",
			code, retry, took.Round(100*time.Millisecond), deadline)
	}
	code, retry, took = replay()
	if code != http.StatusServiceUnavailable || retry == "" || took > deadline+time.Second {
		t.Fatalf("replay with RabbitMQ hung = %d (Retry-After %q) after %s; want 503 with Retry-After within the %s deadline",
			code, retry, took.Round(100*time.Millisecond), deadline)
	}
}
