package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/runtest"
)

// runWith is run as runtest.Start calls it, with the environment lookup
// and the log sink of the test.
func runWith(lookup func(string) (string, bool), logs io.Writer) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error { return run(ctx, args, lookup, logs, logs) }
}

func jwksKIDs(t *testing.T, url string) []string {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	var out []string
	for _, k := range doc.Keys {
		out = append(out, k.KID)
	}
	return out
}

func TestServeBootstrapsAndRotateKeyCommand(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "auth.db")
	env := map[string]string{
		"MEDISYNC_DB_DSN":         dsn,
		"MEDISYNC_DISCOVERY_URLS": "",
		"MEDISYNC_ADMIN_EMAIL":    "admin@medisync.test",
		"MEDISYNC_ADMIN_PASSWORD": "correct horse battery",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	logs := &logtest.Buffer{}
	svc := runtest.Start(t, runWith(lookup, logs), "-hash-memory-kib", "64", "-hash-iterations", "1", "-key-reload-interval", "50ms")
	base := svc.URL

	body := strings.NewReader(`{"email":"admin@medisync.test","password":"correct horse battery"}`)
	res, err := http.Post(base+"/api/v1/auth/login", "application/json", body)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode, "the first administrator can log in")

	res, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	var m bytes.Buffer
	_, _ = m.ReadFrom(res.Body)
	res.Body.Close()
	assert.Contains(t, m.String(), "medisync_auth_method_calls_total")
	assert.Contains(t, m.String(), "medisync_auth_password_hash_in_use")

	before := jwksKIDs(t, base+"/.well-known/jwks.json")
	require.Len(t, before, 1)

	// rotate-key from another process; the server picks it up on reload.
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"rotate-key", "-db-dsn", dsn}, nil, &out, &out), out.String())
	assert.Contains(t, out.String(), "new signing key")
	require.Eventually(t, func() bool { return len(jwksKIDs(t, base+"/.well-known/jwks.json")) == 2 },
		5*time.Second, 20*time.Millisecond)
	assert.Contains(t, jwksKIDs(t, base+"/.well-known/jwks.json"), before[0], "the old key stays published")

	svc.Stop(t)
	assert.NotContains(t, logs.String(), "correct horse battery", "no password in the logs")
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "auth.db")
	var out bytes.Buffer
	for name, args := range map[string][]string{
		"unknown command":  {"explode"},
		"unknown flag":     {"-no-such-flag"},
		"bad hash cost":    {"-db-dsn", dsn, "-discovery-urls", "", "-hash-iterations", "0"},
		"weak admin":       {"-db-dsn", dsn, "-discovery-urls", "", "-admin-email", "a@example.org", "-admin-password", "password1234"},
		"half admin":       {"-db-dsn", dsn, "-discovery-urls", "", "-admin-email", "a@example.org"},
		"bad kek":          {"-db-dsn", dsn, "-discovery-urls", "", "-key-encryption-key", "short"},
		"unknown notifier": {"-db-dsn", dsn, "-discovery-urls", "", "-notifier", "mail"},
	} {
		err := run(context.Background(), args, func(string) (string, bool) { return "", false }, &out, &out)
		assert.Error(t, err, name)
	}
}

func TestServeWarnsWhenTheAdminEmailIsSomeoneElses(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "auth.db")
	env := map[string]string{"MEDISYNC_DB_DSN": dsn, "MEDISYNC_DISCOVERY_URLS": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	serve := func() (*logtest.Buffer, *runtest.Service) {
		logs := &logtest.Buffer{}
		return logs, runtest.Start(t, runWith(lookup, logs), "-hash-memory-kib", "64", "-hash-iterations", "1")
	}

	// Someone registers the address before the administrator is configured.
	_, svc := serve()
	res, err := http.Post(svc.URL+"/api/v1/auth/register", "application/json",
		strings.NewReader(`{"email":"admin@medisync.test","password":"squatter phrase here","fullName":"S"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	svc.Stop(t)

	env["MEDISYNC_ADMIN_EMAIL"] = "admin@medisync.test"
	env["MEDISYNC_ADMIN_PASSWORD"] = "correct horse battery"
	logs, svc := serve()
	defer svc.Stop(t)
	assert.Contains(t, logs.String(), "first administrator not created")
	assert.Contains(t, logs.String(), "level=warn")
}

// Instances re-read the keys every -key-reload-interval: by default a new
// key signs only after twice that, once every instance publishes it, and a
// sooner activation must be asked for by name.
func TestRotateKeyWaitsForEveryInstanceToPublish(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "auth.db")
	none := func(string) (string, bool) { return "", false }
	rotate := func(args ...string) (time.Time, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"rotate-key", "-db-dsn", dsn}, args...), none, &out, &out)
		if err != nil {
			return time.Time{}, err
		}
		_, after, ok := strings.Cut(out.String(), " signs from ")
		require.True(t, ok, out.String())
		at, err := time.Parse(time.RFC3339, strings.TrimSuffix(strings.Fields(after)[0], ";"))
		require.NoError(t, err, out.String())
		return at, nil
	}
	assert.Equal(t, time.Minute, wire.DefaultConfig().MinKeyActivation(), "the default is the shortest safe delay at the default reload interval")

	at, err := rotate()
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Minute), at, 2*time.Second, "by default, twice the 30 s reload")

	_, err = rotate("-activate-in", "10s")
	assert.ErrorIs(t, err, wire.ErrActivationTooSoon)
	_, err = rotate("-activate-in", "90s", "-key-reload-interval", "1m")
	assert.ErrorIs(t, err, wire.ErrActivationTooSoon, "held to the reload interval given")
	at, err = rotate("-activate-in", "5m")
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(5*time.Minute), at, 2*time.Second)

	at, err = rotate("-activate-now")
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), at, 2*time.Second, "at once when asked by name")
	_, err = rotate("-activate-now", "-activate-in", "2m")
	assert.Error(t, err, "the two contradict each other")
}
