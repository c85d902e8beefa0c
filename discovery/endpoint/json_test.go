package endpoint

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func stdJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(v))
	return buf.Bytes()
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2027, 3, 15, 9, 0, 0, 123456789, time.UTC)
	insts := []Instance{
		{ID: "a1", Address: "127.0.0.1", Port: 8081, Status: "UP", Metadata: map[string]string{},
			TTLSeconds: 30, RegisteredAt: at, LastHeartbeat: at.Add(time.Second), LeaseExpiresAt: at.Add(31 * time.Second)},
		{ID: "a2", Address: "::1", Port: 1, Status: "OUT_OF_SERVICE",
			Metadata:   map[string]string{"z": "last", "a": `<b>"quoted" & \back</b>`, "ü": "ünïcode\n\t\u2028", "m": ""},
			TTLSeconds: 5, RegisteredAt: at.Truncate(time.Second), LastHeartbeat: at, LeaseExpiresAt: at},
		{ID: "a3", Address: "h", Port: 65535, Status: "DOWN", Metadata: nil},
	}
	sv := ServiceResponse{Service: "auth", Index: 42, Instances: insts}
	assert.Equal(t, string(stdJSON(t, sv)), string(sv.AppendJSON(nil)))

	empty := ServiceResponse{Service: "none", Instances: []Instance{}}
	assert.Equal(t, string(stdJSON(t, empty)), string(empty.AppendJSON(nil)))

	all := RegistryResponse{Index: 7, StartedAt: at, Services: []ServiceResponse{sv, empty}}
	assert.Equal(t, string(stdJSON(t, all)), string(all.AppendJSON(nil)))
	none := RegistryResponse{Index: 1, StartedAt: at, Services: []ServiceResponse{}}
	assert.Equal(t, string(stdJSON(t, none)), string(none.AppendJSON(nil)))
}

func TestLeaseAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2027, 3, 15, 9, 0, 0, 5, time.UTC)
	l := LeaseResponse{Service: "auth", ID: "a-1", TTLSeconds: 30, LastHeartbeat: at, LeaseExpiresAt: at.Add(30 * time.Second)}
	assert.Equal(t, string(stdJSON(t, l)), string(l.AppendJSON(nil)))
}
