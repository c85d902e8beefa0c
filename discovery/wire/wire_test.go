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
