package eureka_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/runtest"
)

// prometheusBinary finds Debian's prometheus (scripts/prometheus-install.sh
// installs it); it skips the test without one, or fails it under CI.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus is required under CI but is not installed (run scripts/prometheus-install.sh): %v", err)
		}
		t.Skipf("prometheus is not installed (scripts/prometheus-install.sh installs it): %v", err)
	}
	return bin
}

type promTarget struct {
	DiscoveredLabels map[string]string `json:"discoveredLabels"`
	Labels           map[string]string `json:"labels"`
	ScrapePool       string            `json:"scrapePool"`
}

// The real Prometheus, with eureka_sd_configs pointed at the discovery
// server, finds every instance, whichever API registered it, with its
// address, application, status and metadata.
func TestPrometheusEurekaSD(t *testing.T) {
	bin := prometheusBinary(t)
	_, srv := server(t)

	do := func(method, path, ct, body string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, "%s %s", method, path)
	}
	// Through the Eureka API, in JSON and in XML.
	do(http.MethodPost, "/eureka/apps/LEGACY-BILLING", "application/json", `{"instance":{"instanceId":"billing-1",
		"hostName":"10.1.0.1","app":"LEGACY-BILLING","ipAddr":"10.1.0.1","status":"UP","port":{"$":9001,"@enabled":"true"},
		"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
		"metadata":{"version":"7.2"}}}`)
	do(http.MethodPost, "/eureka/apps/LEGACY-BILLING", "application/xml", `<instance><instanceId>billing-2</instanceId>
		<hostName>billing-2.internal</hostName><app>LEGACY-BILLING</app><ipAddr>10.1.0.2</ipAddr><status>UP</status>
		<port enabled="true">9002</port><dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo">
		<name>MyOwn</name></dataCenterInfo><metadata><version>7.3</version></metadata></instance>`)
	// Through our own API, one of them DOWN; a metadata key XML cannot
	// name is left out of the XML, which Prometheus must still read.
	do(http.MethodPut, "/api/v1/registry/doctor/doctor-1", "application/json",
		`{"address":"10.2.0.1","port":8082,"metadata":{"version":"1.4.0","prometheus.io/scrape":"true"}}`)
	do(http.MethodPut, "/api/v1/registry/patient/patient-1", "application/json",
		`{"address":"10.3.0.1","port":8083,"status":"DOWN"}`)

	want := map[string]map[string]string{ // address -> labels
		"10.1.0.1:9001":           {"app": "LEGACY-BILLING", "instance_id": "billing-1", "status": "UP", "version": "7.2"},
		"billing-2.internal:9002": {"app": "LEGACY-BILLING", "instance_id": "billing-2", "status": "UP", "version": "7.3"},
		"10.2.0.1:8082":           {"app": "DOCTOR", "instance_id": "doctor-1", "status": "UP", "version": "1.4.0"},
		"10.3.0.1:8083":           {"app": "PATIENT", "instance_id": "patient-1", "status": "DOWN", "version": ""},
	}

	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1h
scrape_configs:
  - job_name: medisync
    eureka_sd_configs:
      - server: %s/eureka
        refresh_interval: 1s
    relabel_configs:
      - source_labels: [__meta_eureka_app_name]
        target_label: app
      - source_labels: [__meta_eureka_app_instance_id]
        target_label: instance_id
      - source_labels: [__meta_eureka_app_instance_status]
        target_label: status
      - source_labels: [__meta_eureka_app_instance_metadata_version]
        target_label: version
`, srv.URL)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	if promtool, err := exec.LookPath("promtool"); err == nil {
		out, err := exec.Command(promtool, "check", "config", cfgPath).CombinedOutput()
		require.NoError(t, err, "promtool check config: %s", out)
	}

	addr := runtest.FreeAddr(t)
	out := &logtest.Buffer{}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})

	var got map[string]promTarget
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = targets(t, "http://"+addr)
		if len(got) == len(want) {
			break
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus targets after 30s: %v, want %d", slices.Sorted(maps.Keys(got)), len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for address, labels := range want {
		tg, ok := got[address]
		require.True(t, ok, "no target %s among %v", address, slices.Sorted(maps.Keys(got)))
		require.Equal(t, "medisync", tg.ScrapePool)
		for k, v := range labels {
			require.Equal(t, v, tg.Labels[k], "%s: label %s", address, k)
		}
		require.Equal(t, labels["instance_id"], tg.Labels["instance"], "Prometheus names the target by its instanceId")
	}
}

// targets reads Prometheus's active targets by address; none while it is
// not answering yet.
func targets(t *testing.T, base string) map[string]promTarget {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/targets?state=active")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var v struct {
		Data struct {
			ActiveTargets []promTarget `json:"activeTargets"`
		} `json:"data"`
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &v), buf.String())
	out := map[string]promTarget{}
	for _, tg := range v.Data.ActiveTargets {
		out[tg.DiscoveredLabels["__address__"]] = tg
	}
	return out
}
