package eureka_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	kiteureka "github.com/go-kit/kit/sd/eureka"
	"github.com/go-kit/log"
	"github.com/hudl/fargo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/wire"
)

const token = "eureka-test-token"

// server starts a discovery server on 127.0.0.1 with the shared token.
func server(t testing.TB, args ...string) (*wire.Server, *httptest.Server) {
	t.Helper()
	s, err := wire.New(wire.DefaultConfig(), append([]string{"-discovery-token", token, "-eureka-warmup", "0"}, args...), io.Discard)
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler)
	t.Cleanup(srv.Close)
	return s, srv
}

// ours reads a service through our own API.
func ours(t *testing.T, srv *httptest.Server, svc string) []map[string]any {
	t.Helper()
	resp, err := http.Get(srv.URL + "/api/v1/registry/" + svc)
	require.NoError(t, err)
	defer resp.Body.Close()
	var v struct {
		Instances []map[string]any `json:"instances"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v.Instances
}

func fargoInstance(id string, port int) *fargo.Instance {
	return &fargo.Instance{
		InstanceId: id, HostName: "127.0.0.1", App: "LEGACY-BILLING", IPAddr: "127.0.0.1",
		VipAddress: "legacy-billing", SecureVipAddress: "legacy-billing", Status: fargo.UP,
		Port: port, PortEnabled: true, SecurePort: 8443, DataCenterInfo: fargo.DataCenterInfo{Name: fargo.MyOwn},
		LeaseInfo: fargo.LeaseInfo{RenewalIntervalInSecs: 1, DurationInSecs: 30},
	}
}

// eventually polls cond: the clients under test poll on their own periods.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 20*time.Millisecond, what)
}

func TestGoKitEurekaRegistrarAndInstancer(t *testing.T) {
	for _, useJSON := range []bool{true, false} {
		name := "xml"
		if useJSON {
			name = "json"
		}
		t.Run(name, func(t *testing.T) {
			_, srv := server(t)
			conn := fargo.NewConn(strings.Replace(srv.URL, "http://", "http://billing:"+token+"@", 1) + "/eureka")
			conn.UseJson = useJSON
			conn.PollInterval = 50 * time.Millisecond
			logger := log.NewNopLogger()

			inst := fargoInstance("billing-1", 9001)
			reg := kiteureka.NewRegistrar(&conn, inst, logger)
			reg.Register()
			eventually(t, "registered", func() bool { return len(ours(t, srv, "legacy-billing")) == 1 })
			got := ours(t, srv, "legacy-billing")[0]
			assert.Equal(t, "billing-1", got["id"])
			assert.Equal(t, "UP", got["status"])
			assert.EqualValues(t, 9001, got["port"])
			assert.EqualValues(t, 30, got["ttlSeconds"], "the lease is the instance's leaseInfo.durationInSecs")

			// Listed, through fargo itself.
			app, err := conn.GetApp("LEGACY-BILLING")
			require.NoError(t, err)
			require.Len(t, app.Instances, 1)
			assert.Equal(t, 9001, app.Instances[0].Port)
			assert.True(t, app.Instances[0].PortEnabled)
			assert.Equal(t, int32(1), app.Instances[0].LeaseInfo.RenewalIntervalInSecs)
			apps, err := conn.GetApps()
			require.NoError(t, err)
			assert.Contains(t, apps, "LEGACY-BILLING")
			byVIP, err := conn.GetInstancesByVIPAddress("legacy-billing", false)
			require.NoError(t, err)
			assert.Len(t, byVIP, 1)

			// Heartbeats renew the lease.
			first := got["lastHeartbeat"]
			eventually(t, "renewed", func() bool { return ours(t, srv, "legacy-billing")[0]["lastHeartbeat"] != first })

			// The instancer follows the application.
			in := kiteureka.NewInstancer(&conn, "LEGACY-BILLING", logger)
			defer in.Stop()
			events := make(chan sd.Event, 16)
			in.Register(events)
			defer in.Deregister(events)
			var mu sync.Mutex
			var last []string
			go func() {
				for e := range events {
					mu.Lock()
					if e.Err == nil {
						last = e.Instances
					}
					mu.Unlock()
				}
			}()
			seen := func(want ...string) func() bool {
				return func() bool {
					mu.Lock()
					defer mu.Unlock()
					return assert.ObjectsAreEqual(want, last)
				}
			}
			eventually(t, "instancer sees one", seen("127.0.0.1:9001"))
			second := kiteureka.NewRegistrar(&conn, fargoInstance("billing-2", 9002), logger)
			second.Register()
			eventually(t, "instancer sees two", seen("127.0.0.1:9001", "127.0.0.1:9002"))

			// Out of service, by an operator's override, which the
			// instance's own renewals do not undo.
			require.NoError(t, conn.UpdateInstanceStatus(inst, fargo.OUTOFSERVICE))
			assert.Equal(t, "OUT_OF_SERVICE", ours(t, srv, "legacy-billing")[0]["status"])
			require.NoError(t, conn.HeartBeatInstance(inst))
			got2, err := conn.GetInstance("LEGACY-BILLING", "billing-1")
			require.NoError(t, err)
			assert.Equal(t, fargo.OUTOFSERVICE, got2.Status)

			// Cancelled.
			second.Deregister()
			eventually(t, "instancer sees one again", seen("127.0.0.1:9001"))
			reg.Deregister()
			assert.Empty(t, ours(t, srv, "legacy-billing"))
			_, err = conn.GetApp("LEGACY-BILLING")
			assert.Error(t, err, "an application without instances is a 404")
		})
	}
}

func TestEurekaWritesNeedTheToken(t *testing.T) {
	_, srv := server(t)
	for _, url := range []string{srv.URL + "/eureka", strings.Replace(srv.URL, "http://", "http://billing:wrong@", 1) + "/eureka"} {
		conn := fargo.NewConn(url)
		conn.UseJson = true
		err := conn.ReregisterInstance(fargoInstance("billing-1", 9001))
		require.Error(t, err)
		code, _ := fargo.HTTPResponseStatusCode(err)
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, code)
	}
	assert.Empty(t, ours(t, srv, "legacy-billing"))
}

// An Amazon instance without an instanceId is known by its data center's
// instance-id, as Eureka's InstanceInfo.getId and fargo's Instance.Id take
// it, so that its renewals find it; one that is no instance ID is refused
// under its own name.
func TestAmazonInstanceWithoutInstanceIDIsKnownByItsAmazonID(t *testing.T) {
	_, srv := server(t)
	conn := eurekaConn(srv)
	ins := &fargo.Instance{
		HostName: "ip-10-0-0-9.ec2.internal", App: "BILLING", IPAddr: "10.0.0.9", VipAddress: "billing",
		Status: fargo.UP, Port: 9000, PortEnabled: true,
		DataCenterInfo: fargo.DataCenterInfo{Name: fargo.Amazon, Metadata: fargo.AmazonMetadataType{
			InstanceID: "i-0abc123", LocalIpv4: "10.0.0.9", LocalHostname: "ip-10-0-0-9.ec2.internal"}},
		LeaseInfo: fargo.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
	}
	require.NoError(t, conn.RegisterInstance(ins))
	assert.NoError(t, conn.HeartBeatInstance(ins), "fargo renews under its Amazon instance-id %q", ins.Id())
	insts := ours(t, srv, "billing")
	require.Len(t, insts, 1)
	assert.Equal(t, "i-0abc123", insts[0]["id"])

	resp, b := request(t, http.MethodPost, srv.URL+"/eureka/apps/BILLING", token, []byte(`{"instance":{
"hostName":"10.0.0.9","app":"BILLING","ipAddr":"10.0.0.9","port":{"$":9000,"@enabled":"true"},
"dataCenterInfo":{"@class":"com.netflix.appinfo.AmazonInfo","name":"Amazon","metadata":{"instance-id":"-i/0"}}}}`), jsonBody)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
	assert.Equal(t, []string{"instance.dataCenterInfo.metadata.instance-id"}, problemFields(t, b))
}
