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
	cfg.EurekaWarmUp = 0 // a server fresh for the test, no clients to wait for
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
	// A client holding a newer document is told to register again, with a
	// bare 404 its client can read.
	resp = c.do(http.MethodPut, "/eureka/apps/LEGACY-BILLING/"+id+"?status=UP&lastDirtyTimestamp=1767261600001", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	requireNoBody(t, resp)
	resp = c.do(http.MethodPut, "/eureka/apps/LEGACY-BILLING/unknown-1?status=UP&lastDirtyTimestamp=1", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	requireNoBody(t, resp)

	// One more, through our own API, to show both in one registry.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/registry/doctor/doctor-1",
		bytes.NewReader([]byte(`{"address":"10.0.0.8","port":8082,"ttlSeconds":30}`)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, http.StatusCreated, r2.StatusCode)

	// Spring's client fetches the full registry at "apps/".
	resp = c.do(http.MethodGet, "/eureka/apps/", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	golden(t, "spring-full.json", gunzip(t, resp))
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

func requireNoBody(t *testing.T, resp *http.Response) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Empty(t, string(b), "Content-Type %q", resp.Header.Get("Content-Type"))
	require.Empty(t, resp.Header.Get("Content-Type"))
}

// Spring's RestTemplate, RestClient and WebClient clients and Netflix's
// Jersey client fetch the full registry at "<serviceUrl>apps/": it answers
// as "apps" does, under both prefixes.
func TestFullRegistryFetchWithTrailingSlash(t *testing.T) {
	_, srv := server(t)
	body, err := os.ReadFile("testdata/spring-register.json")
	require.NoError(t, err)
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/LEGACY-BILLING", token, body, jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
	for _, prefix := range []string{"/eureka", "/eureka/v2"} {
		for _, accept := range []string{"application/json, application/*+json", "application/xml"} {
			hdr := map[string]string{"Accept": accept}
			_, want := request(t, http.MethodGet, srv.URL+prefix+"/apps", "", nil, hdr)
			resp, got := request(t, http.MethodGet, srv.URL+prefix+"/apps/", "", nil, hdr)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s/apps/: %s", prefix, got)
			assert.Equal(t, string(want), string(got))
			assert.Contains(t, string(got), "10.0.0.7:legacy-billing:8080")
			resp, got = request(t, http.MethodHead, srv.URL+prefix+"/apps/", "", nil, hdr)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Empty(t, got)
		}
	}
}

// Eureka answers an unknown application or instance with a bare 404, and
// Spring's client decodes any application/*+json body of a renewal's answer
// as an instance document: a problem there fails the heartbeat instead of
// making the client register again. So every 404, and every error of the
// renewal, carries no body; other errors keep their problem document.
func TestEurekaNotFoundAndRenewalErrorsCarryNoBody(t *testing.T) {
	_, srv := server(t)
	springAccept := map[string]string{"Accept": "application/json, application/*+json"}
	for _, tc := range []struct {
		name, method, path, tok string
		status                  int
	}{
		{"renewal of an unknown instance", http.MethodPut, "/eureka/apps/LEGACY-BILLING/10.0.0.7:legacy-billing:8080?status=UP&lastDirtyTimestamp=1", token, http.StatusNotFound},
		{"renewal through v2", http.MethodPut, "/eureka/v2/apps/LEGACY-BILLING/x-1?status=UP", token, http.StatusNotFound},
		{"renewal with a wrong token", http.MethodPut, "/eureka/apps/LEGACY-BILLING/x-1?status=UP", "wrong", http.StatusForbidden},
		{"renewal without a token", http.MethodPut, "/eureka/apps/LEGACY-BILLING/x-1?status=UP", "", http.StatusUnauthorized},
		{"renewal with a bad id", http.MethodPut, "/eureka/apps/LEGACY-BILLING/-x?status=UP", token, http.StatusBadRequest},
		{"cancel of an unknown instance", http.MethodDelete, "/eureka/apps/LEGACY-BILLING/x-1", token, http.StatusNotFound},
		{"override of an unknown instance", http.MethodPut, "/eureka/apps/LEGACY-BILLING/x-1/status?value=DOWN", token, http.StatusNotFound},
		{"metadata of an unknown instance", http.MethodPut, "/eureka/apps/LEGACY-BILLING/x-1/metadata?a=b", token, http.StatusNotFound},
		{"unknown application", http.MethodGet, "/eureka/apps/LEGACY-BILLING", "", http.StatusNotFound},
		{"unknown instance", http.MethodGet, "/eureka/apps/LEGACY-BILLING/x-1", "", http.StatusNotFound},
		{"unknown instance by id", http.MethodGet, "/eureka/instances/x-1", "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			require.NoError(t, err)
			if tc.tok != "" {
				req.SetBasicAuth("x", tc.tok)
			}
			for k, v := range springAccept {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			requireNoBody(t, resp)
		})
	}

	// A refused registration still says why: its answer is not decoded.
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/LEGACY-BILLING", token, []byte(`{"instance":{"instanceId":"b-1"}}`), jsonBody)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	assert.Contains(t, problemFields(t, b), "instance.port")
}
