package discovery

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithAuthenticatedIgnoresUnauthenticatedInstances(t *testing.T) {
	real := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "real") }))
	t.Cleanup(real.Close)
	rogue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "rogue") }))
	t.Cleanup(rogue.Close)
	inst := func(id, url string, md map[string]string) Instance {
		hp := strings.TrimPrefix(url, "http://")
		host, port, _ := strings.Cut(hp, ":")
		p, _ := strconv.Atoi(port)
		return Instance{ID: id, Address: host, Port: p, Status: StatusUp, Metadata: md}
	}
	view := ServiceView{Service: "auth", Index: 3, Instances: []Instance{
		inst("real", real.URL, map[string]string{MetaAuthenticated: "true"}),
		inst("rogue", rogue.URL, map[string]string{MetaAuthenticated: "yes"}),
		inst("rogue2", rogue.URL, nil),
	}}
	disc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("index") != "" {
			<-r.Context().Done() // nothing changes
			return
		}
		v := view
		v.Service = strings.TrimPrefix(r.URL.Path, "/api/v1/registry/")
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(disc.Close)

	c := NewClient([]string{disc.URL}, "", nil, nil, WithAuthenticated("auth"))
	t.Cleanup(c.Close)
	ctx := context.Background()
	got, err := c.Instances(ctx, "auth")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "real", got[0].ID)
	all, err := c.Instances(ctx, "patient")
	require.NoError(t, err)
	assert.Len(t, all, 3, "other services are not filtered")

	in := c.Instancer("auth")
	t.Cleanup(in.Stop)
	assert.Equal(t, []string{strings.TrimPrefix(real.URL, "http://")}, in.State().Instances)

	hc := &http.Client{Transport: c.Transport(nil), Timeout: 5 * time.Second}
	for range 6 {
		resp, err := hc.Get("http://auth/.well-known/jwks.json")
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "real", string(b), "never the rogue")
	}

	// Without the option every UP instance is used.
	plain := NewClient([]string{disc.URL}, "", nil, nil)
	t.Cleanup(plain.Close)
	got, err = plain.Instances(ctx, "auth")
	require.NoError(t, err)
	assert.Len(t, got, 3)
}
