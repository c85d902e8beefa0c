package eureka_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An override removed without a value (Spring's CANCEL_OVERRIDE) gives an
// instance registered through our own API back the status it registered
// with: its heartbeats carry none, so it would otherwise stay out of every
// UP-only listing until it restarts.
func TestRemovingAnOverrideOfANativeInstanceRestoresItsOwnStatus(t *testing.T) {
	_, srv := server(t)
	auth := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token}
	for _, own := range []string{"UP", "DOWN"} {
		id := "doctor-" + own
		resp, b := request(t, http.MethodPut, srv.URL+"/api/v1/registry/doctor/"+id, "",
			[]byte(`{"address":"10.0.0.8","port":8082,"ttlSeconds":30,"status":"`+own+`"}`), auth)
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", b)

		base := srv.URL + "/eureka/apps/DOCTOR/" + id
		resp, _ = request(t, http.MethodPut, base+"/status?value=OUT_OF_SERVICE", token, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, b = request(t, http.MethodGet, base, "", nil, map[string]string{"Accept": "application/json"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, string(b), `"overriddenStatus":"OUT_OF_SERVICE"`, "the override is shown while it holds")
		resp, _ = request(t, http.MethodDelete, base+"/status", token, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)

		for range 3 {
			resp, b = request(t, http.MethodPut, srv.URL+"/api/v1/registry/doctor/"+id+"/heartbeat", "", nil, auth)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		}
	}
	insts := ours(t, srv, "doctor")
	require.Len(t, insts, 2)
	assert.Equal(t, "DOWN", insts[0]["status"], "doctor-DOWN")
	assert.Equal(t, "UP", insts[1]["status"], "doctor-UP")
}

// The same for a go-kit (fargo) client, whose renewals carry no status: it
// is back in service once its override is removed.
func TestRemovingAnOverrideOfAFargoInstanceRestoresItsOwnStatus(t *testing.T) {
	_, srv := server(t)
	conn := eurekaConn(srv)
	ins := fargoInstance("billing-1", 9001)
	require.NoError(t, conn.RegisterInstance(ins))
	base := srv.URL + "/eureka/apps/LEGACY-BILLING/billing-1"
	require.Equal(t, http.StatusOK, send(t, http.MethodPut, base+"/status?value=OUT_OF_SERVICE"))
	require.Equal(t, http.StatusOK, send(t, http.MethodDelete, base+"/status"))
	for range 3 {
		require.NoError(t, conn.HeartBeatInstance(ins))
	}
	insts := ours(t, srv, "legacy-billing")
	require.Len(t, insts, 1)
	assert.Equal(t, "UP", insts[0]["status"])
}
