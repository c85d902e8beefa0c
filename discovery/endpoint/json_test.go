package endpoint

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/registry"
)

func stdJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(v))
	return buf.Bytes()
}

// wireService and wireRegistry are the wire shapes spelled as plain structs,
// encoded by encoding/json as the reference the appenders must match.
type wireService struct {
	Service   string     `json:"service"`
	Index     uint64     `json:"index"`
	Instances []Instance `json:"instances"`
}

type wireRegistry struct {
	Index     uint64        `json:"index"`
	StartedAt time.Time     `json:"startedAt"`
	Services  []wireService `json:"services"`
}

func reference(v registry.ServiceView) wireService {
	w := wireService{Service: v.Name, Index: v.Index, Instances: []Instance{}}
	for _, i := range v.Instances {
		w.Instances = append(w.Instances, FromInstance(i))
	}
	return w
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2027, 3, 15, 9, 0, 0, 123456789, time.UTC)
	insts := []registry.Instance{
		{ID: "a1", Address: "127.0.0.1", Port: 8081, Status: registry.Up, Metadata: map[string]string{},
			TTL: 30 * time.Second, RegisteredAt: at, LastHeartbeat: at.Add(time.Second), LeaseExpiresAt: at.Add(31 * time.Second)},
		{ID: "a2", Address: "::1", Port: 1, Status: registry.OutOfService,
			Metadata: map[string]string{"z": "last", "a": `<b>"quoted" & \back</b>`, "ü": "ünïcode\n\t\u2028", "m": ""},
			TTL:      5 * time.Second, RegisteredAt: at.Truncate(time.Second), LastHeartbeat: at, LeaseExpiresAt: at},
		{ID: "a3", Address: "h", Port: 65535, Status: registry.Down, Metadata: nil},
	}
	sv := registry.ServiceView{Name: "auth", Index: 42, Instances: insts}
	assert.Equal(t, string(stdJSON(t, reference(sv))), string(ServiceResponse{View: sv}.AppendJSON(nil)))
	assert.Equal(t, string(stdJSON(t, reference(sv))), string(stdJSON(t, ServiceResponse{View: sv})), "MarshalJSON agrees")

	empty := registry.ServiceView{Name: "none", Instances: []registry.Instance{}}
	assert.Equal(t, string(stdJSON(t, reference(empty))), string(ServiceResponse{View: empty}.AppendJSON(nil)))

	all := registry.View{Index: 7, StartedAt: at, Services: []registry.ServiceView{sv, empty}}
	want := wireRegistry{Index: 7, StartedAt: at, Services: []wireService{reference(sv), reference(empty)}}
	assert.Equal(t, string(stdJSON(t, want)), string(RegistryResponse{View: all}.AppendJSON(nil)))
	assert.Equal(t, string(stdJSON(t, want)), string(stdJSON(t, RegistryResponse{View: all})))
	none := registry.View{Index: 1, StartedAt: at, Services: []registry.ServiceView{}}
	assert.Equal(t, string(stdJSON(t, wireRegistry{Index: 1, StartedAt: at, Services: []wireService{}})),
		string(RegistryResponse{View: none}.AppendJSON(nil)))
}

func TestLeaseAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2027, 3, 15, 9, 0, 0, 5, time.UTC)
	l := LeaseResponse{Service: "auth", ID: "a-1", TTLSeconds: 30, LastHeartbeat: at, LeaseExpiresAt: at.Add(30 * time.Second)}
	assert.Equal(t, string(stdJSON(t, l)), string(l.AppendJSON(nil)))
}
