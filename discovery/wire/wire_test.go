package wire_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/wire"
)

func TestHeartbeatSuccessesStayOutOfTheAccessLog(t *testing.T) {
	var out bytes.Buffer
	a, err := wire.New(wire.DefaultConfig(), []string{"-insecure-open-registry"}, &out)
	require.NoError(t, err)

	do := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Equal(t, http.StatusCreated, do(http.MethodPut, "/api/v1/registry/auth/a1", `{"address":"127.0.0.1","port":8081}`))
	before := out.Len()
	require.Equal(t, http.StatusOK, do(http.MethodPut, "/api/v1/registry/auth/a1/heartbeat", ""))
	assert.Equal(t, before, out.Len(), "a successful heartbeat writes no access-log line")

	require.Equal(t, http.StatusNotFound, do(http.MethodPut, "/api/v1/registry/auth/zz/heartbeat", ""))
	assert.Contains(t, out.String()[before:], "status=404", "a failed heartbeat is logged")
}

// Eureka's renewal and cancel share a route template: the renewal is quiet,
// the cancel, a write that takes an instance out of every listing, is in
// the access log at info as our own deregistration is.
func TestEurekaRenewalsStayOutOfTheAccessLogButCancelsDoNot(t *testing.T) {
	var out bytes.Buffer
	a, err := wire.New(wire.DefaultConfig(), []string{"-insecure-open-registry", "-eureka-warmup", "0"}, &out)
	require.NoError(t, err)

	do := func(method, path, body string) int {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, req)
		return rec.Code
	}
	doc := `{"instance":{"instanceId":"b-1","hostName":"10.0.0.9","app":"BILLING","ipAddr":"10.0.0.9","port":{"$":9000,"@enabled":"true"}}}`
	for _, prefix := range []string{"/eureka", "/eureka/v2"} {
		require.Equal(t, http.StatusNoContent, do(http.MethodPost, prefix+"/apps/BILLING", doc))
		before := out.Len()
		require.Equal(t, http.StatusOK, do(http.MethodPut, prefix+"/apps/BILLING/b-1", ""))
		assert.Equal(t, before, out.Len(), "%s: a successful renewal writes no access-log line", prefix)

		require.Equal(t, http.StatusOK, do(http.MethodDelete, prefix+"/apps/BILLING/b-1", ""))
		line := out.String()[before:]
		assert.Contains(t, line, "level=info", prefix)
		assert.Contains(t, line, "method=DELETE", prefix)
		assert.Contains(t, line, "path="+prefix+"/apps/BILLING/b-1", prefix)
	}
}
