package eureka_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

var update = flag.Bool("update", false, "rewrite the golden answers in testdata")

// spring replays what a Spring Cloud Netflix Eureka client sends
// (testdata/spring-register.json is its register body, EurekaJacksonCodec's
// InstanceInfo) with the headers it sends.
type spring struct {
	t   *testing.T
	srv *httptest.Server
}

func (s spring) do(method, path string, body []byte, hdr map[string]string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("eureka:"+token)))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// The transport must not undo the compression itself: the test reads it.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(s.t, err)
	s.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func gunzip(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return b
}

// golden compares a JSON answer with testdata/name, as structures.
func golden(t *testing.T, name string, got []byte) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(got, &v), "%s", got)
	path := filepath.Join("testdata", name)
	if *update {
		pretty, _ := json.MarshalIndent(v, "", "  ")
		require.NoError(t, os.WriteFile(path, append(pretty, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	var w map[string]any
	require.NoError(t, json.Unmarshal(want, &w))
	assert.Equal(t, w, v)
	return v
}

func TestSpringClientGolden(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	cfg := wire.DefaultConfig()
	cfg.Clock = clk
	s, err := wire.New(cfg, []string{"-discovery-token", token}, io.Discard)
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler)
	t.Cleanup(srv.Close)
	c := spring{t: t, srv: srv}

	body, err := os.ReadFile("testdata/spring-register.json")
	require.NoError(t, err)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(body)
	require.NoError(t, zw.Close())
	resp := c.do(http.MethodPost, "/eureka/apps/LEGACY-BILLING", zipped.Bytes(),
		map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	clk.Advance(30 * time.Second)
	id := "10.0.0.7:legacy-billing:8080"
	resp = c.do(http.MethodPut, "/eureka/apps/LEGACY-BILLING/"+id+"?status=UP&lastDirtyTimestamp=1767261600000", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// A client holding a newer document is told to register again.
	resp = c.do(http.MethodPut, "/eureka/apps/LEGACY-BILLING/"+id+"?status=UP&lastDirtyTimestamp=1767261600001", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp = c.do(http.MethodPut, "/eureka/apps/LEGACY-BILLING/unknown-1?status=UP&lastDirtyTimestamp=1", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// One more, through our own API, to show both in one registry.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/registry/doctor/doctor-1",
		bytes.NewReader([]byte(`{"address":"10.0.0.8","port":8082,"ttlSeconds":30}`)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, http.StatusCreated, r2.StatusCode)

	resp = c.do(http.MethodGet, "/eureka/apps/", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "the trailing slash is another path")
	resp = c.do(http.MethodGet, "/eureka/apps", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	full := golden(t, "spring-full.json", gunzip(t, resp))
	assert.Equal(t, "UP_2_", full["applications"].(map[string]any)["apps__hashcode"])
	for _, app := range full["applications"].(map[string]any)["application"].([]any) {
		for _, inst := range app.(map[string]any)["instance"].([]any) {
			requireSpringFields(t, inst.(map[string]any))
		}
	}

	resp = c.do(http.MethodGet, "/eureka/apps/delta", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	golden(t, "spring-delta.json", gunzip(t, resp))

	// The same through the /eureka/v2 alias, and as XML.
	resp = c.do(http.MethodGet, "/eureka/v2/apps/LEGACY-BILLING/"+id, nil, map[string]string{"Accept": "application/xml", "Accept-Encoding": ""})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	xmlBody, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(xmlBody), `<port enabled="true">8080</port>`)
	assert.Contains(t, string(xmlBody), `<dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">`)
}

// requireSpringFields checks every field EurekaJacksonCodec's
// InstanceInfoDeserializer and Spring's EurekaServiceInstance read.
func requireSpringFields(t *testing.T, inst map[string]any) {
	t.Helper()
	for _, f := range []string{"instanceId", "hostName", "app", "ipAddr", "status", "overriddenStatus", "port", "securePort",
		"countryId", "dataCenterInfo", "leaseInfo", "metadata", "homePageUrl", "statusPageUrl", "healthCheckUrl",
		"vipAddress", "secureVipAddress", "isCoordinatingDiscoveryServer", "lastUpdatedTimestamp", "lastDirtyTimestamp", "actionType"} {
		assert.Contains(t, inst, f)
	}
	port := inst["port"].(map[string]any)
	assert.Contains(t, port, "$")
	assert.Contains(t, port, "@enabled")
	assert.Contains(t, inst["dataCenterInfo"].(map[string]any), "@class")
	for _, f := range []string{"renewalIntervalInSecs", "durationInSecs", "registrationTimestamp", "lastRenewalTimestamp", "evictionTimestamp", "serviceUpTimestamp"} {
		assert.Contains(t, inst["leaseInfo"].(map[string]any), f)
	}
}
