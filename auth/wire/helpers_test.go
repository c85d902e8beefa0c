package wire_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/transport"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/auth/wire/wiretest"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// mailbox is a Notifier that keeps what it is asked to send.
type mailbox struct {
	resets kept[service.PasswordReset]
	exists kept[service.AccountExists]
}

func (m *mailbox) AccountExists(_ context.Context, a service.AccountExists) error {
	m.exists.add(a)
	return nil
}

func (m *mailbox) PasswordReset(_ context.Context, r service.PasswordReset) error {
	m.resets.add(r)
	return nil
}

// kept is a list that the deliveries' goroutines add to while a test reads it.
type kept[T any] struct {
	mu    sync.Mutex
	items []T
}

func (k *kept[T]) add(v T) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.items = append(k.items, v)
}

func (k *kept[T]) all() []T {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]T(nil), k.items...)
}

// sent returns the reset notices sent so far, once the deliveries under way
// have finished.
func (e *env) sent() []service.PasswordReset {
	e.t.Helper()
	require.NoError(e.t, e.auth.Wait(context.Background()))
	return e.mail.resets.all()
}

const (
	adminEmail    = "admin@medisync.test"
	adminPassword = "correct horse battery"
)

type env struct {
	t     *testing.T
	srv   *httptest.Server
	auth  *wire.Auth
	clock *clocktest.Clock
	mail  *mailbox
	db    *sqldb.DB
}

func newEnv(t *testing.T, db *sqldb.DB, tune ...func(*wire.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: clocktest.New(time.Now().UTC().Truncate(time.Second)), mail: &mailbox{}, db: db}
	cfg := wire.Config{
		Hash:             password.HasherOptions{Params: password.Cheap},
		TrustedProxies:   []string{"127.0.0.1", "::1"},
		Notifier:         e.mail,
		Clock:            e.clock,
		KeyEncryptionKey: wiretest.KEK,
	}
	for _, f := range tune {
		f(&cfg)
	}
	a, err := wire.Build(context.Background(), db, cfg, logging.Nop(), nil)
	require.NoError(t, err)
	e.auth = a
	_, err = a.Bootstrap(context.Background(), adminEmail, adminPassword)
	require.NoError(t, err)
	r := httpmw.NewRouter()
	a.Routes(r)
	// Every exchange of the tests is held to the OpenAPI document.
	doc := openapitest.Load(t, transport.OpenAPI())
	e.srv = httptest.NewServer(doc.Handler(t, httpmw.Stack(r, httpmw.Options{Logger: logging.Nop(), MaxBodyBytes: transport.MaxBodyBytes})))
	t.Cleanup(e.srv.Close)
	return e
}

// eachEnv runs test on a service built afresh over each database that
// sqltest.Each offers.
func eachEnv(t *testing.T, test func(t *testing.T, e *env), tune ...func(*wire.Config)) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) { test(t, newEnv(t, db, tune...)) })
}

// resp is an answer of the service.
type resp = apitest.Response

// problemWithout returns the problem document of r without its requestId,
// which differs on every request by design.
func problemWithout(t *testing.T, r resp) map[string]any {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), string(r.Body))
	m := r.JSON(t)
	delete(m, "requestId")
	return m
}

// req sends a request. body may be a string (sent raw) or a value (JSON).
// headers come in name, value pairs.
func (e *env) req(method, path string, body any, headers ...string) resp {
	e.t.Helper()
	return apitest.Do(e.t, e.srv.Client(), apitest.NewRequest(e.t, method, e.srv.URL+path, body, headers...))
}

func bearer(tok string) []string { return apitest.Bearer(tok) }

type tokens struct {
	Access, Refresh string
}

func (e *env) register(email, pw, name string) string {
	e.t.Helper()
	r := e.req("POST", "/api/v1/auth/register", map[string]string{"email": email, "password": pw, "fullName": name})
	require.Equal(e.t, http.StatusAccepted, r.Status, string(r.Body))
	// The answer names no account; the store does.
	u, err := e.auth.Store.Users().ByEmail(context.Background(), strings.ToLower(strings.TrimSpace(email)))
	require.NoError(e.t, err)
	return u.ID
}

func (e *env) login(email, pw string) tokens {
	e.t.Helper()
	r := e.req("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": pw})
	require.Equal(e.t, http.StatusOK, r.Status, string(r.Body))
	m := r.JSON(e.t)
	return tokens{Access: m["accessToken"].(string), Refresh: m["refreshToken"].(string)}
}

func (e *env) admin() tokens { return e.login(adminEmail, adminPassword) }

// pat registers the patient Pat and logs her in.
func (e *env) pat() tokens {
	e.t.Helper()
	e.register(patEmail, patPass, "Pat")
	return e.login(patEmail, patPass)
}

// refresh trades a refresh token for a new pair.
func (e *env) refresh(tok string) resp {
	e.t.Helper()
	return e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": tok})
}

// logout ends the session of a refresh token.
func (e *env) logout(tok string) resp {
	e.t.Helper()
	return e.req("POST", "/api/v1/auth/logout", map[string]string{"refreshToken": tok})
}
