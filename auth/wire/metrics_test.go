package wire_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/auth/wire/wiretest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestMetricsSigningKeyAgeAndFeedTiming(t *testing.T) {
	c := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := metrics.NewRegistry()
	a, err := wire.Build(context.Background(), sqltest.SQLite(t, sqlstore.Migrations()), wire.Config{
		Hash: password.HasherOptions{Params: password.Cheap}, Clock: c, KeyEncryptionKey: wiretest.KEK,
		Notifier: &mailbox{},
	}, logging.Nop(), reg)
	require.NoError(t, err)
	c.Advance(36 * time.Hour)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP medisync_auth_signing_key_age_seconds Age of the key that signs access tokens now, since its creation: rotation is overdue when it grows past the policy (auth rotate-key).
# TYPE medisync_auth_signing_key_age_seconds gauge
medisync_auth_signing_key_age_seconds 129600
`), "medisync_auth_signing_key_age_seconds"))

	r := httpmw.NewRouter()
	a.Routes(r)
	httpm := metrics.NewHTTP(reg)
	srv := httptest.NewServer(httpmw.Stack(r, httpmw.Options{Logger: logging.Nop(), Metrics: httpm}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/internal/revocations?after=0&wait=1ms")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// The feed holds requests by design: timed apart from the others.
	n, err := testutil.GatherAndCount(reg, "medisync_http_long_poll_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = testutil.GatherAndCount(reg, "medisync_http_request_duration_seconds")
	require.NoError(t, err)
	assert.Zero(t, n)
}
