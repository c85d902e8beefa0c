package k8stest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sloDocuments feeds rules.yml a records service in good health: every
// JSON route answers within 50 ms, and one request in five is a document
// download (GET .../documents/{documentId}/content), streamed to the
// client for one to two and a half seconds, well inside its 50 s deadline.
// Nothing is wrong: no latency alert may page.
const sloDocuments = `
rule_files:
  - RULES
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'medisync_http_requests_total{job="records",route="/api/v1/records/patients/{patientId}/encounters",method="GET",code="200"}'
        values: '0+80x120'
      - series: 'medisync_http_request_duration_seconds_count{job="records",route="/api/v1/records/patients/{patientId}/encounters",method="GET"}'
        values: '0+80x120'
      - series: 'medisync_http_request_duration_seconds_bucket{job="records",route="/api/v1/records/patients/{patientId}/encounters",method="GET",le="0.25"}'
        values: '0+80x120'
      - series: 'medisync_http_requests_total{job="records",route="/api/v1/records/patients/{patientId}/documents/{documentId}/content",method="GET",code="200"}'
        values: '0+20x120'
      - series: 'medisync_http_request_duration_seconds_count{job="records",route="/api/v1/records/patients/{patientId}/documents/{documentId}/content",method="GET"}'
        values: '0+20x120'
      - series: 'medisync_http_request_duration_seconds_bucket{job="records",route="/api/v1/records/patients/{patientId}/documents/{documentId}/content",method="GET",le="0.25"}'
        values: '0+0x120'
    alert_rule_test:
      - alertname: MedisyncLatencySLOFastBurn
        eval_time: 90m
        exp_alerts: []
      - alertname: MedisyncLatencySLOSlowBurn
        eval_time: 90m
        exp_alerts: []
`

// TestLatencySLOIgnoresDocumentTransfers runs the rules on that traffic
// with promtool, as e2e's TestPrometheusRules does.
func TestLatencySLOIgnoresDocumentTransfers(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("no promtool (scripts/prometheus-install.sh)")
	}
	rules, err := filepath.Abs(filepath.Join(root, "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	test := filepath.Join(dir, "documents_test.yml")
	if err := os.WriteFile(test, []byte(replaceRules(sloDocuments, rules)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", test).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func replaceRules(s, path string) string { return strings.Replace(s, "RULES", path, 1) }

// transferRoutes reads the routes that move a document's content, as their
// code labels them: records' routes registered with transfer (route
// template and method), and the gateway's routes with a body limit of their
// own (its route pattern, any method).
func transferRoutes(t *testing.T) (records [][2]string, gateway []string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "records", "transport", "http.go"))
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	for _, m := range regexp.MustCompile(`const (\w+) = "([^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		consts[m[1]] = m[2]
	}
	for _, m := range regexp.MustCompile(`transfer\(http\.Method(\w+), (\w+)(?:\+"([^"]*)")?,`).FindAllStringSubmatch(string(src), -1) {
		base, ok := consts[m[2]]
		if !ok || consts["Prefix"] == "" {
			t.Fatalf("records/transport/http.go: transfer route on %s, a constant this test cannot read", m[2])
		}
		records = append(records, [2]string{strings.ToUpper(m[1]), consts["Prefix"] + base + m[3]})
	}
	src, err = os.ReadFile(filepath.Join(root, "gateway", "route", "route.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\{Path: "([^"]*)"[^}]*MaxBody: "`).FindAllStringSubmatch(string(src), -1) {
		gateway = append(gateway, m[1])
	}
	if len(records) == 0 || len(gateway) == 0 {
		t.Fatalf("no transfer routes read (records %v, gateway %v): the test no longer follows the code", records, gateway)
	}
	return records, gateway
}

// TestLatencySLOLeavesOutTheTransferRoutesTheCodeHas: every route the code
// registers as a transfer, labelled as it exports it, is slow, beside a
// fast one of the same service; the latency SLI of both services stays at
// zero.
func TestLatencySLOLeavesOutTheTransferRoutesTheCodeHas(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("no promtool (scripts/prometheus-install.sh)")
	}
	rules, err := filepath.Abs(filepath.Join(root, "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	records, gateway := transferRoutes(t)
	var series strings.Builder
	add := func(job, route, method, fast string) {
		fmt.Fprintf(&series, "      - series: 'medisync_http_request_duration_seconds_count{job=%q,route=%q,method=%q}'\n        values: '0+60x60'\n", job, route, method)
		fmt.Fprintf(&series, "      - series: 'medisync_http_request_duration_seconds_bucket{job=%q,route=%q,method=%q,le=\"0.25\"}'\n        values: '%s'\n", job, route, method, fast)
	}
	for _, r := range records {
		add("records", r[1], r[0], "0+0x60")
	}
	for _, route := range gateway {
		for _, method := range []string{"GET", "POST"} {
			add("gateway", route, method, "0+0x60")
		}
	}
	add("records", "/api/v1/records/patients/{patientId}/encounters", "GET", "0+60x60")
	add("gateway", "/api/v1/doctors/**", "GET", "0+60x60")
	test := "rule_files:\n  - " + rules + "\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" + series.String() + `    promql_expr_test:
      - expr: job:medisync_http_slow_ratio:rate5m
        eval_time: 30m
        exp_samples:
          - labels: 'job:medisync_http_slow_ratio:rate5m{job="gateway"}'
            value: 0
          - labels: 'job:medisync_http_slow_ratio:rate5m{job="records"}'
            value: 0
`
	path := filepath.Join(t.TempDir(), "transfers_test.yml")
	if err := os.WriteFile(path, []byte(test), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\ntransfer routes: records %v, gateway %v", err, out, records, gateway)
	}
}
