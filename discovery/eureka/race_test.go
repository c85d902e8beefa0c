package eureka_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hudl/fargo"
	"github.com/stretchr/testify/require"
)

// send makes one authorised request and returns its status.
func send(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func eurekaConn(srv *httptest.Server) fargo.EurekaConnection {
	conn := fargo.NewConn(strings.Replace(srv.URL, "http://", "http://billing:"+token+"@", 1) + "/eureka")
	conn.UseJson = true
	return conn
}

// Metadata updates racing on one instance all land: each is applied to the
// instance as it is under the registry's lock, not to a copy read earlier.
func TestConcurrentMetadataUpdatesAreNotLost(t *testing.T) {
	_, srv := server(t)
	conn := eurekaConn(srv)
	// 24 keys a round, within the limit of 32 per instance; registering
	// again starts each round from the document's (empty) metadata.
	const writers, each = 8, 3
	for round := range 30 {
		require.NoError(t, conn.ReregisterInstance(fargoInstance("billing-1", 9001)))
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					u := fmt.Sprintf("%s/eureka/apps/LEGACY-BILLING/billing-1/metadata?w%d-k%d=v", srv.URL, w, k)
					if c := send(t, http.MethodPut, u); c != http.StatusOK {
						t.Errorf("metadata: %d", c)
					}
				}
			}()
		}
		wg.Wait()

		insts := ours(t, srv, "legacy-billing")
		require.Len(t, insts, 1)
		md, _ := insts[0]["metadata"].(map[string]any)
		var missing []string
		for w := range writers {
			for k := range each {
				key := fmt.Sprintf("w%d-k%d", w, k)
				if _, ok := md[key]; !ok {
					missing = append(missing, key)
				}
			}
		}
		require.Empty(t, missing, "round %d: metadata updates lost; have %v", round, md)
	}
}

// An operator's override racing with a renewal that reports a status
// holds: the renewal applies its status to the instance as it is then, with
// the override, not to a copy read before the override was set. The
// instance was DOWN and reports UP, so that the renewal writes, and an
// override lost would show UP.
func TestOverrideAndReportedStatusRaceWithoutLoss(t *testing.T) {
	_, srv := server(t)
	conn := eurekaConn(srv)
	base := srv.URL + "/eureka/apps/LEGACY-BILLING/billing-1"
	for round := range 200 {
		require.NoError(t, conn.ReregisterInstance(fargoInstance("billing-1", 9001)))
		require.Equal(t, http.StatusOK, send(t, http.MethodDelete, base+"/status?value=DOWN"), "round %d", round)

		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if c := send(t, http.MethodPut, base+"/status?value=OUT_OF_SERVICE"); c != http.StatusOK {
				t.Errorf("override: %d", c)
			}
		}()
		go func() {
			defer wg.Done()
			if c := send(t, http.MethodPut, base+"?status=UP"); c != http.StatusOK {
				t.Errorf("renewal: %d", c)
			}
		}()
		wg.Wait()

		inst, err := conn.GetInstance("LEGACY-BILLING", "billing-1")
		require.NoError(t, err)
		require.Equal(t, fargo.OUTOFSERVICE, inst.Status, "round %d: the override holds", round)
		require.Equal(t, fargo.OUTOFSERVICE, inst.Overriddenstatus, "round %d", round)
	}
}
