package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/transport"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/runtest"
	"github.com/medisync/medisync/shared/seal"
	"github.com/medisync/medisync/shared/sqldb"
)

var testKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))

// TestRun starts the real wiring on SQLite with the development mailbox and
// a test JWKS, and goes through the HTTP API.
func TestRun(t *testing.T) {
	iss := authntest.NewIssuer(t)
	dir := t.TempDir()
	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+filepath.Join(dir, "n.db"), "-jwks-url", iss.JWKSURL(),
		"-discovery-urls", "", "-log-level", "warn", "-mail", "dev-mailbox", "-mail-dir", filepath.Join(dir, "mail"),
		"-event-seal-key", testKey)
	me := ids.New()
	patient := iss.Token(t, authntest.Claims{UserID: me, Roles: []string{"PATIENT"}})
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	// Every exchange through send is held to the OpenAPI document.
	client := &http.Client{Transport: openapitest.Load(t, transport.OpenAPI()).Transport(t, nil)}
	send := func(tok, method, path string, body any, headers ...string) apitest.Response {
		return apitest.Do(t, client, apitest.NewRequest(t, method, svc.URL+path, body, append(apitest.Bearer(tok), headers...)...))
	}

	r := send(patient, "GET", "/api/v1/notifications/me", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.JSONEq(t, `{"items":[],"nextCursor":null,"unreadCount":0}`, string(r.Body))

	r = send(patient, "GET", "/api/v1/notifications/me/preferences", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, `"1"`, r.Header.Get("ETag"))
	prefs := r.JSON(t)
	prefs["reminders"] = false
	r = send(patient, "PUT", "/api/v1/notifications/me/preferences", prefs)
	assert.Equal(t, http.StatusPreconditionRequired, r.Status)
	r = send(patient, "PUT", "/api/v1/notifications/me/preferences", prefs, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.Status, "the GET body goes back as it came: %s", r.Body)
	assert.Equal(t, `"2"`, r.Header.Get("ETag"))
	assert.Equal(t, false, r.JSON(t)["reminders"])
	r = send(patient, "PUT", "/api/v1/notifications/me/preferences", prefs, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, r.Status)
	prefs["userId"] = ids.New()
	r = send(patient, "PUT", "/api/v1/notifications/me/preferences", prefs, "If-Match", `"2"`)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "userId")
	r = send(patient, "PUT", "/api/v1/notifications/me/preferences", `{"email":true}`, "If-Match", `"2"`)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "inApp")

	r = send(patient, "POST", "/api/v1/notifications/me/"+ids.New()+"/read", nil)
	assert.Equal(t, http.StatusNotFound, r.Status, "not the caller's")
	r = send(patient, "POST", "/api/v1/notifications/me/not-a-uuid/read", nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	r = send(patient, "POST", "/api/v1/notifications/me/read-all", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	r = send(patient, "GET", "/api/v1/notifications/me?limit=0", nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)

	r = send(patient, "GET", "/api/v1/notifications/admin/deliveries", nil)
	assert.Equal(t, http.StatusForbidden, r.Status)
	r = send(admin, "GET", "/api/v1/notifications/admin/deliveries?status=failed", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	r = send(admin, "GET", "/api/v1/notifications/admin/deliveries?status=lost", nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "status")
	r = send("", "GET", "/api/v1/notifications/me", nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)

	r = send("", "GET", "/openapi.yaml", nil)
	assert.Equal(t, http.StatusOK, r.Status, "the document is public")
	assert.Equal(t, transport.OpenAPI(), r.Body)

	// The development mailbox is not in the document.
	resp, err := http.Get(svc.URL + "/dev/mail")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the development mailbox page")
	resp, err = http.Get(svc.URL + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	svc.Stop(t)
}

func TestNoDevMailboxUnlessAskedFor(t *testing.T) {
	iss := authntest.NewIssuer(t)
	dir := t.TempDir()
	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+filepath.Join(dir, "n.db"), "-jwks-url", iss.JWKSURL(),
		"-discovery-urls", "", "-log-level", "warn", "-smtp-addr", "127.0.0.1:1", "-event-seal-key", testKey)
	resp, err := http.Get(svc.URL + "/dev/mail")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	svc.Stop(t)
}

func TestRunRefusesBadConfig(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "n.db")
	for name, args := range map[string][]string{
		"no SMTP server":  {"-event-seal-key", testKey},
		"unknown channel": {"-mail", "pigeon", "-event-seal-key", testKey},
		"no seal key":     {"-mail", "dev-mailbox"},
		"bad seal key":    {"-mail", "dev-mailbox", "-event-seal-key", "short"},
		"bad TLS mode":    {"-smtp-addr", "mail.example.org:587", "-smtp-tls", "maybe", "-event-seal-key", testKey},
		"bad interval":    {"-mail", "dev-mailbox", "-event-seal-key", testKey, "-mail-interval", "0s"},
	} {
		err := run(context.Background(), append([]string{"-db-dsn", db, "-discovery-urls", "", "-jwks-url", "http://127.0.0.1:1/jwks"}, args...))
		assert.Error(t, err, name)
	}
	err := run(context.Background(), []string{"-db-dsn", db, "-discovery-urls", "", "-event-seal-key", testKey})
	assert.ErrorContains(t, err, "dev-mailbox", "the refusal names the development shortcut")
}

// TestRunConsumesEventsFromTheBroker starts the real wiring with a NATS
// server in the test process: a reset event becomes a mail in the
// development mailbox, a malformed one a dead letter the admin endpoints
// list and replay, and readiness follows the broker.
func TestRunConsumesEventsFromTheBroker(t *testing.T) {
	nats := brokertest.Embedded(t)
	iss := authntest.NewIssuer(t)
	dir := t.TempDir()
	mailDir := filepath.Join(dir, "mail")
	svc := runtest.Start(t, run, "-db-dsn", "sqlite:"+filepath.Join(dir, "n.db"), "-jwks-url", iss.JWKSURL(),
		"-discovery-urls", "", "-log-level", "warn", "-mail", "dev-mailbox", "-mail-dir", mailDir,
		"-mail-interval", "50ms", "-event-seal-key", testKey, "-broker-url", nats.URL())
	admin := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"ADMIN"}})
	patient := iss.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{"PATIENT"}})
	// The dead-letter routes main mounts answer as the document says too.
	client := &http.Client{Transport: openapitest.Load(t, transport.OpenAPI()).Transport(t, nil)}
	send := func(tok, method, path string) apitest.Response {
		return apitest.Do(t, client, apitest.NewRequest(t, method, svc.URL+path, nil, apitest.Bearer(tok)...))
	}

	b, err := broker.Open(context.Background(), nats.URL(), broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	key, err := seal.ParseKey(testKey)
	require.NoError(t, err)
	publish := func(typ string, data func(id string) any) events.Event {
		ev, err := events.New(typ, 1, "u1", nil, time.Now())
		require.NoError(t, err)
		raw, err := json.Marshal(data(ev.ID))
		require.NoError(t, err)
		ev.Data = raw
		require.Eventually(t, func() bool { return b.Publish(context.Background(), ev) == nil }, 10*time.Second, 50*time.Millisecond)
		return ev
	}
	const link = "https://app.example/reset?token=tok-123"
	user := ids.New()
	publish("auth.password_reset_requested", func(id string) any {
		sealed, err := key.Seal([]byte(link), []byte(id))
		require.NoError(t, err)
		return map[string]any{"userId": user, "email": "ada@example.org", "language": "en", "sealedLink": sealed,
			"expiresAt": time.Now().Add(time.Hour).UTC()}
	})
	require.Eventually(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "tok-123") {
				return true
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "the reset mail reaches the mailbox")

	bad := publish("auth.user_registered", func(string) any { return map[string]any{"userId": ids.New(), "email": "not an address"} })
	var items []any
	require.Eventually(t, func() bool {
		r := send(admin, "GET", "/api/v1/notifications/admin/dead-letters")
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		items, _ = r.JSON(t)["items"].([]any)
		return len(items) == 1
	}, 20*time.Second, 50*time.Millisecond, "the malformed event is dead-lettered")
	assert.Equal(t, bad.ID, items[0].(map[string]any)["id"])
	assert.Equal(t, http.StatusForbidden, send(patient, "GET", "/api/v1/notifications/admin/dead-letters").Status)
	assert.Equal(t, http.StatusForbidden, send(patient, "POST", "/api/v1/notifications/admin/dead-letters/"+bad.ID+"/replay").Status)
	assert.Equal(t, http.StatusNotFound, send(admin, "POST", "/api/v1/notifications/admin/dead-letters/"+ids.New()+"/replay").Status)
	assert.Equal(t, http.StatusBadRequest, send(admin, "POST", "/api/v1/notifications/admin/dead-letters/not_an_event_id/replay").Status)
	assert.Equal(t, http.StatusAccepted, send(admin, "POST", "/api/v1/notifications/admin/dead-letters/"+bad.ID+"/replay").Status)
	require.Eventually(t, func() bool {
		r := send(admin, "GET", "/api/v1/notifications/admin/dead-letters")
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), bad.ID)
	}, 20*time.Second, 50*time.Millisecond, "still malformed on replay, so dead-lettered again")

	nats.Stop()
	assert.Equal(t, http.StatusOK, send("", "GET", "/health/ready").Status, "readiness does not depend on the broker")
	nats.Start()
	svc.Stop(t)
}

// A mail server that accepts connections and never greets: the worker is
// in the SMTP dialogue of a queued mail when the service is told to stop,
// and the stop must not wait for the server (30 s of SMTP timeout).
func TestShutdownIsNotHeldByASilentMailServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, silent
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for len(accepted) > 0 {
			_ = (<-accepted).Close()
		}
	})

	dsn := "sqlite:" + filepath.Join(t.TempDir(), "n.db")
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dsn)
	require.NoError(t, err)
	require.NoError(t, db.Migrate(ctx, sqlstore.Migrations()))
	now := time.Now().UTC()
	_, err = db.ExecContext(ctx, `INSERT INTO deliveries (id, user_id, kind, recipient, subject, body_text, body_html, status, attempts, last_error, next_attempt_at, created_at, updated_at)
		VALUES (?, '', 'appointment_booked', 'ada@example.org', 's', 't', 'h', 'queued', 0, '', ?, ?, ?)`, ids.New(), now, now, now)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	iss := authntest.NewIssuer(t)
	svc := runtest.Start(t, run, "-db-dsn", dsn, "-jwks-url", iss.JWKSURL(), "-discovery-urls", "", "-log-level", "error",
		"-smtp-addr", ln.Addr().String(), "-smtp-tls", "none", "-mail-interval", "50ms", "-event-seal-key", testKey)
	c := <-accepted
	accepted <- c // for the cleanup
	start := time.Now()
	svc.Stop(t)
	assert.Less(t, time.Since(start), 5*time.Second)
}

// The event consumer stops after the requests drain, not at the signal:
// while a request is still being served after SIGTERM, an event that
// arrives still becomes a mail.
func TestConsumerRunsUntilTheRequestsDrain(t *testing.T) {
	nats := brokertest.Embedded(t)
	iss := authntest.NewIssuer(t)
	dir := t.TempDir()
	mailDir := filepath.Join(dir, "mail")
	addr := runtest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-http-addr", addr, "-db-dsn", "sqlite:" + filepath.Join(dir, "n.db"), "-jwks-url", iss.JWKSURL(),
			"-discovery-urls", "", "-log-level", "error", "-mail", "dev-mailbox", "-mail-dir", mailDir,
			"-mail-interval", "50ms", "-event-seal-key", testKey, "-broker-url", nats.URL(), "-shutdown-timeout", "10s"})
	}()
	b, err := broker.Open(context.Background(), nats.URL(), broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	key, err := seal.ParseKey(testKey)
	require.NoError(t, err)
	reset := func(token string) {
		ev, err := events.New("auth.password_reset_requested", 1, "u1", nil, time.Now())
		require.NoError(t, err)
		sealed, err := key.Seal([]byte("https://app.example/reset?token="+token), []byte(ev.ID))
		require.NoError(t, err)
		ev.Data, err = json.Marshal(map[string]any{"userId": ids.New(), "email": "ada@example.org", "language": "en",
			"sealedLink": sealed, "expiresAt": time.Now().Add(time.Hour).UTC()})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return b.Publish(context.Background(), ev) == nil }, 10*time.Second, 50*time.Millisecond)
	}
	mailed := func(token string) bool {
		files, _ := filepath.Glob(filepath.Join(mailDir, "*.eml"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), token) {
				return true
			}
		}
		return false
	}
	// The consumer runs.
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	reset("tok-before")
	require.Eventually(t, func() bool { return mailed("tok-before") }, 20*time.Second, 50*time.Millisecond)

	// A request in flight: its body is still arriving, so the drain waits for it.
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "PUT /api/v1/notifications/me/preferences HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)

	cancel() // SIGTERM: readiness off, then the drain waits for the request above
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("run returned with a request in flight: %v", err)
	default:
	}
	reset("tok-during")
	ok := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if mailed("tok-during") {
			ok = true
			break
		}
	}
	_ = conn.Close()
	<-done
	require.True(t, ok, "an event arriving while the requests drain became no mail")
}
