package eureka_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/clock/clocktest"
)

// Listings are XML unless Accept names JSON first, as Eureka's server
// answers: Prometheus's eureka_sd_configs sends no Accept header.
func TestListingEncodingFollowsEurekasDefault(t *testing.T) {
	_, srv := server(t)
	for accept, want := range map[string]string{
		"":                                  "application/xml",
		"*/*":                               "application/xml",
		"application/xml":                   "application/xml",
		"application/json":                  "application/json",
		"application/json, application/xml": "application/json",
		"application/xml, application/json": "application/xml",
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/eureka/apps", nil)
		require.NoError(t, err)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.Header.Get("Content-Type"), "Accept %q", accept)
	}
}

// In XML a metadata key is an element name: keys the registry accepts but
// XML does not (prometheus.io/scrape, 1st) are left out of XML answers,
// which must stay well-formed for Prometheus, and kept in JSON ones.
func TestXMLListingLeavesOutKeysThatAreNotXMLNames(t *testing.T) {
	_, srv := server(t)
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/registry/doctor/doctor-1",
		strings.NewReader(`{"address":"10.0.0.8","port":8082,"metadata":{"prometheus.io/scrape":"true","1st":"x","version":"1.4"}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusCreated, r.StatusCode)
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, eurekaDoc("b-1",
		`,"dataCenterInfo":{"@class":"x","name":"MyOwn","metadata":{"zone/rack":"r1","az":"a"}}`), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)

	for _, path := range []string{"/eureka/apps", "/eureka/apps/DOCTOR", "/eureka/apps/delta", "/eureka/vips/doctor", "/eureka/apps/BILLING/b-1"} {
		resp, b = request(t, http.MethodGet, srv.URL+path, "", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, "application/xml", resp.Header.Get("Content-Type"))
		dec := xml.NewDecoder(strings.NewReader(string(b)))
		for {
			_, err := dec.Token()
			if err != nil {
				require.ErrorContains(t, err, "EOF", "%s must be well-formed XML:\n%s", path, b)
				break
			}
		}
		assert.NotContains(t, string(b), "prometheus.io/scrape", path)
		assert.NotContains(t, string(b), "zone/rack", path)
	}
	_, b = request(t, http.MethodGet, srv.URL+"/eureka/apps", "", nil, nil)
	assert.Contains(t, string(b), "<version>1.4</version>")
	assert.Contains(t, string(b), "<az>a</az>")

	_, b = request(t, http.MethodGet, srv.URL+"/eureka/apps", "", nil, map[string]string{"Accept": "application/json"})
	var v struct {
		Applications struct {
			Application []struct {
				Instance []struct {
					Metadata       map[string]string
					DataCenterInfo struct{ Metadata map[string]string }
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	md, dc := map[string]string{}, map[string]string{}
	for _, a := range v.Applications.Application {
		for _, i := range a.Instance {
			for k, x := range i.Metadata {
				md[k] = x
			}
			for k, x := range i.DataCenterInfo.Metadata {
				dc[k] = x
			}
		}
	}
	assert.Equal(t, "true", md["prometheus.io/scrape"])
	assert.Equal(t, "x", md["1st"])
	assert.Equal(t, "r1", dc["zone/rack"])
}

// The delta is open to anyone and may list thousands of instances: its
// encoding is kept until the registry changes or its oldest change leaves
// the log, as the full listing's is until the registry changes.
func TestDeltaEncodingIsKeptUntilTheLogChanges(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	cfg := wire.DefaultConfig()
	cfg.EurekaWarmUp = 0 // a server fresh for the test, no clients to wait for
	cfg.Clock = clk
	s, err := wire.New(cfg, []string{"-discovery-token", token}, io.Discard)
	require.NoError(t, err)
	add := func(id string) {
		_, _, err := s.Registry.Register(clk.Now(), registry.Registration{Service: "billing", ID: id, Address: "10.0.0.9", Port: 9000, TTLSeconds: 300})
		require.NoError(t, err)
	}
	get := func() []byte {
		req := httptest.NewRequest(http.MethodGet, "/eureka/apps/delta", nil)
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		s.Handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		return rec.Body.Bytes()
	}
	ids := func(body []byte) []string {
		var d struct {
			Applications struct {
				Application []struct {
					Instance []struct{ InstanceID string }
				}
			}
		}
		require.NoError(t, json.Unmarshal(body, &d))
		var out []string
		for _, a := range d.Applications.Application {
			for _, i := range a.Instance {
				out = append(out, i.InstanceID)
			}
		}
		return out
	}
	const n = 200
	for i := range n {
		add(fmt.Sprintf("b-%03d", i))
	}
	first := get()
	require.Len(t, ids(first), n)
	allocs := testing.AllocsPerRun(10, func() { get() })
	assert.Less(t, allocs, float64(n), "fewer allocations than instances: the encoding is reused")
	assert.Equal(t, first, get())
	// Nor is the change log copied to find that the encoding holds: a
	// poll allocates a small part of what the changes take.
	for _, path := range []string{"/eureka/apps/delta", "/eureka/apps"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", "application/json")
		s.Handler.ServeHTTP(discard{}, req)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			s.Handler.ServeHTTP(discard{}, req)
		}
		runtime.ReadMemStats(&after)
		assert.Less(t, (after.TotalAlloc-before.TotalAlloc)/10, uint64(n*64), "bytes allocated by one poll of %s", path)
	}

	// A change is seen at once.
	clk.Advance(time.Minute)
	add("b-new")
	assert.Len(t, ids(get()), n+1)

	// So is the first changes leaving the log, although the index stays.
	clk.Advance(2*time.Minute + time.Second)
	assert.Equal(t, []string{"b-new"}, ids(get()))
}

// discard is a ResponseWriter that keeps nothing, so that a poll's own
// allocations can be counted.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
