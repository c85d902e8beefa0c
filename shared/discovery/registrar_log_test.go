package discovery

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/logging/logtest"
)

// The lines an instance writes when it registers and deregisters keep the
// log keys (docs/logging.md): a duration is a number of milliseconds, never
// a Go duration string, and the instance's own service is the writer's
// service, never a peer.
func TestRegistrationLinesKeepTheLogKeys(t *testing.T) {
	f := newFake(t)
	var out logtest.Buffer
	logger, err := logging.New(&out, "patient", "json", "info")
	require.NoError(t, err)
	c := NewClient([]string{f.srv.URL}, "tok", nil, logger, WithRetry(5*time.Millisecond, 20*time.Millisecond))
	reg := NewRegistrar(c, Registration{Service: "patient", InstanceID: "patient-10.0.0.7-8083", Address: "10.0.0.7", Port: 8083,
		TTL: 30 * time.Second}, logger)
	reg.Start(context.Background())
	eventually(t, func() bool { return strings.Contains(out.String(), `"msg":"registered"`) }, "no registered line")
	require.NoError(t, reg.Stop(context.Background()))

	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		if line["msg"] != "registered" && line["msg"] != "deregistered" {
			continue
		}
		for k, v := range line {
			if s, ok := v.(string); ok {
				if _, err := time.ParseDuration(s); err == nil {
					t.Errorf("%s line: %s=%q is a duration written as a Go string, not durationMs (a number): %s", line["msg"], k, s, sc.Text())
				}
			}
		}
		if line["msg"] == "registered" && line["ttlMs"] != float64(30000) {
			t.Errorf("registered line: ttlMs = %v, want 30000: %s", line["ttlMs"], sc.Text())
		}
		if line["peer"] == line["service"] {
			t.Errorf("%s line names the writing service itself as a peer (another service): %s", line["msg"], sc.Text())
		}
	}
}
