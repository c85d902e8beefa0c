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

// An instance reporting DOWN, STARTING or UNKNOWN is so whatever override
// an operator set, as Eureka's server rules (DownOrStartingRule first), so
// that a Spring client whose health check fails leaves traffic even after
// an override of UP (what Spring's service-registry endpoint sends to put
// an instance back in service).
func TestAnInstanceReportingDownIsNotKeptUpByAnOverride(t *testing.T) {
	_, srv := server(t)
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token,
		eurekaDoc("b-1", `,"lastDirtyTimestamp":"1000"`), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
	base := srv.URL + "/eureka/apps/BILLING/b-1"
	resp, _ = request(t, http.MethodPut, base+"/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=1000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = request(t, http.MethodPut, base+"/status?value=UP&lastDirtyTimestamp=1000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Its health check fails: the client registers its DOWN document and
	// renews with status=DOWN.
	resp, b = request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token,
		eurekaDoc("b-1", `,"lastDirtyTimestamp":"2000","status":"DOWN"`), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
	resp, _ = request(t, http.MethodPut, base+"?status=DOWN&lastDirtyTimestamp=2000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	insts := ours(t, srv, "billing")
	require.Len(t, insts, 1)
	assert.Equal(t, "DOWN", insts[0]["status"])

	// Healthy again, it is what the override says.
	resp, _ = request(t, http.MethodPut, base+"?status=UP&lastDirtyTimestamp=2000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "UP", ours(t, srv, "billing")[0]["status"])
	resp, _ = request(t, http.MethodPut, base+"/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=2000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "OUT_OF_SERVICE", ours(t, srv, "billing")[0]["status"])
}

// The same for an instance registered through our own API: DOWN, it stays
// DOWN under an override of UP, and a renewal reporting STARTING wins too.
func TestANativeInstanceReportingDownIsNotKeptUpByAnOverride(t *testing.T) {
	_, srv := server(t)
	auth := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token}
	resp, b := request(t, http.MethodPut, srv.URL+"/api/v1/registry/doctor/doctor-1", "",
		[]byte(`{"address":"10.0.0.8","port":8082,"ttlSeconds":30,"status":"DOWN"}`), auth)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", b)
	base := srv.URL + "/eureka/apps/DOCTOR/doctor-1"
	resp, _ = request(t, http.MethodPut, base+"/status?value=UP", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "DOWN", ours(t, srv, "doctor")[0]["status"])

	resp, _ = request(t, http.MethodPut, base+"?status=STARTING", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "STARTING", ours(t, srv, "doctor")[0]["status"])
	resp, _ = request(t, http.MethodPut, base+"?status=OUT_OF_SERVICE", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "UP", ours(t, srv, "doctor")[0]["status"], "the override holds over a reported OUT_OF_SERVICE")
}

// A status set through our own API ends the override over an instance
// registered through it: a later status set through ours equal to the old
// override's does not bring the override back, and removing an override
// then leaves the status our API set last.
func TestOurStatusChangeEndsTheOverrideOfANativeInstance(t *testing.T) {
	_, srv := server(t)
	auth := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token}
	native := srv.URL + "/api/v1/registry/doctor/doctor-1"
	eur := srv.URL + "/eureka/apps/DOCTOR/doctor-1"
	resp, b := request(t, http.MethodPut, native, "", []byte(`{"address":"10.0.0.8","port":8082,"ttlSeconds":30,"status":"UP"}`), auth)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", b)

	// An operator takes it out through Eureka's API ...
	resp, _ = request(t, http.MethodPut, eur+"/status?value=OUT_OF_SERVICE", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// ... it is set UP through ours, which ends the override ...
	resp, b = request(t, http.MethodPut, native+"/status", "", []byte(`{"status":"UP"}`), auth)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	resp, b = request(t, http.MethodGet, eur, "", nil, map[string]string{"Accept": "application/json"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(b), `"overriddenStatus":"UNKNOWN"`, "no override holds any more")

	// ... and later taken out of service through ours.
	resp, b = request(t, http.MethodPut, native+"/status", "", []byte(`{"status":"OUT_OF_SERVICE"}`), auth)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	resp, b = request(t, http.MethodGet, eur, "", nil, map[string]string{"Accept": "application/json"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), `"overriddenStatus":"UNKNOWN"`, "an override removed before is not shown again")

	// A CANCEL_OVERRIDE (no override holds) must not put it back in service.
	resp, _ = request(t, http.MethodDelete, eur+"/status", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "OUT_OF_SERVICE", ours(t, srv, "doctor")[0]["status"],
		"our API last set OUT_OF_SERVICE; a stale override record must not restore UP")
}

// A status set through our own API on an instance registered through
// Eureka's is an override, as Eureka's own status API sets: it outlasts the
// status a Spring client sends with every renewal, and removing it gives
// back what the instance reports.
func TestOurStatusChangeIsAnOverrideOfAEurekaInstance(t *testing.T) {
	_, srv := server(t)
	auth := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token}
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token,
		eurekaDoc("b-1", `,"lastDirtyTimestamp":"1000"`), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
	eur := srv.URL + "/eureka/apps/BILLING/b-1"
	resp, _ = request(t, http.MethodPut, eur+"/status?value=OUT_OF_SERVICE", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Taken out of service through our own API (an operator, or the
	// dashboard's API), then renewed as a Spring client renews: with UP.
	resp, b = request(t, http.MethodPut, srv.URL+"/api/v1/registry/billing/b-1/status", "", []byte(`{"status":"DOWN"}`), auth)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	require.Equal(t, "DOWN", ours(t, srv, "billing")[0]["status"])
	resp, _ = request(t, http.MethodPut, eur+"?status=UP&lastDirtyTimestamp=1000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "DOWN", ours(t, srv, "billing")[0]["status"], "the operator's word outlasts the client's routine UP")
	resp, b = request(t, http.MethodGet, eur, "", nil, map[string]string{"Accept": "application/json"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), `"overriddenStatus":"DOWN"`)

	// Removing the override gives back what the instance reports, as on
	// Eureka's server.
	resp, _ = request(t, http.MethodDelete, eur+"/status", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "UP", ours(t, srv, "billing")[0]["status"])

	// A word that agrees with the report is no override; one the report
	// outweighs leaves the reported status.
	resp, _ = request(t, http.MethodPut, eur+"?status=DOWN&lastDirtyTimestamp=1000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, b = request(t, http.MethodPut, srv.URL+"/api/v1/registry/billing/b-1/status", "", []byte(`{"status":"UP"}`), auth)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
	assert.Equal(t, "DOWN", ours(t, srv, "billing")[0]["status"], "an instance reporting DOWN is DOWN whatever an operator set")
}

// Eureka's DownOrStartingRule trusts every status the instance reports but
// UP and OUT_OF_SERVICE ("!UP && !OUT_OF_SERVICE"), UNKNOWN among them: an
// instance reporting UNKNOWN is not kept UP by an override of UP.
func TestAnInstanceReportingUnknownIsNotKeptUpByAnOverride(t *testing.T) {
	_, srv := server(t)
	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token,
		eurekaDoc("b-1", `,"lastDirtyTimestamp":"1000"`), jsonBody)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "%s", b)
	base := srv.URL + "/eureka/apps/BILLING/b-1"
	resp, _ = request(t, http.MethodPut, base+"/status?value=UP&lastDirtyTimestamp=1000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, _ = request(t, http.MethodPut, base+"?status=UNKNOWN&lastDirtyTimestamp=1000", token, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "UNKNOWN", ours(t, srv, "billing")[0]["status"],
		"Eureka's server: a reported UNKNOWN wins over the override, as DOWN and STARTING do")
}
