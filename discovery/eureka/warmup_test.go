package eureka_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

// A server just (re)started answers listings 403, bare, with Retry-After,
// until its warm-up has passed, so that Eureka clients keep the registry
// they hold rather than take one their peers have not refilled yet; it
// takes registrations and renewals all the while.
func TestListingsWaitForTheWarmUp(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	cfg := wire.DefaultConfig()
	cfg.Clock = clk
	s, err := wire.New(cfg, []string{"-discovery-token", token}, io.Discard)
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler)
	t.Cleanup(srv.Close)
	c := spring{t: t, srv: srv}

	body, err := os.ReadFile("testdata/spring-register.json")
	require.NoError(t, err)
	resp := c.do(http.MethodPost, "/eureka/apps/LEGACY-BILLING", body, map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "registrations are taken at once")
	id := "10.0.0.7:legacy-billing:8080"
	for _, path := range []string{"/eureka/apps/", "/eureka/apps", "/eureka/apps/delta", "/eureka/apps/LEGACY-BILLING",
		"/eureka/vips/legacy-billing", "/eureka/svips/legacy-billing"} {
		resp := c.do(http.MethodGet, path, nil, map[string]string{"Accept": "application/json"})
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, path)
		assert.Equal(t, "41", resp.Header.Get("Retry-After"), path)
		requireNoBody(t, resp)
	}
	resp = c.do(http.MethodGet, "/eureka/apps/LEGACY-BILLING/"+id, nil, map[string]string{"Accept": "application/json"})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "an instance by its id is no partial listing")

	clk.Advance(30 * time.Second)
	resp = c.do(http.MethodPut, "/eureka/apps/LEGACY-BILLING/"+id+"?status=UP&lastDirtyTimestamp=1767261600000", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "renewals are taken during the warm-up")
	clk.Advance(10 * time.Second)
	resp = c.do(http.MethodGet, "/eureka/apps/", nil, map[string]string{"Accept": "application/json"})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "listed once the warm-up has passed")
}
