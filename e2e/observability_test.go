package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// deployDir holds the dashboards, the rules and the list of metrics still
// to come (deploy/metrics-pending.txt).
var deployDir = filepath.Join("..", "deploy")

// query is one PromQL expression of a dashboard panel or a rule.
type query struct {
	where, expr string
}

// grafanaVars stands in for Grafana's variables so that a panel's query
// parses: ranges become 5m, anything else (a service picked) a regexp.
var grafanaVars = regexp.MustCompile(`\$(__rate_interval|__interval|__range)|\$\{?[a-z_]+\}?`)

func substituteVars(expr string) string {
	return grafanaVars.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.HasPrefix(v, "$__") {
			return "5m"
		}
		return ".*"
	})
}

// dashboardQueries reads every target of every panel of deploy/grafana/dashboards.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "grafana", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", deployDir, err)
	}
	var out []query
	uids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				Title      string `json:"title"`
				Type       string `json:"type"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || uids[d.UID] != "" {
			t.Errorf("%s: uid %q is empty or also %s's", f, d.UID, uids[d.UID])
		}
		uids[d.UID] = f
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			where := filepath.Base(f) + ": " + p.Title
			if p.Datasource.UID != "prometheus" || len(p.Targets) == 0 {
				t.Errorf("%s: no query on the provisioned Prometheus (datasource uid %q)", where, p.Datasource.UID)
			}
			for _, tg := range p.Targets {
				out = append(out, query{where, substituteVars(tg.Expr)})
			}
		}
	}
	return out
}

// ruleQueries reads deploy/prometheus/rules.yml: its expressions, and the
// names its recording rules define.
func ruleQueries(t *testing.T) (qs []query, recorded []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Record, Alert, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("rules.yml: %v", err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			qs = append(qs, query{"rules.yml: " + r.Record + r.Alert, r.Expr})
			if r.Record != "" {
				recorded = append(recorded, r.Record)
			}
		}
	}
	return qs, recorded
}

// pendingMetrics reads deploy/metrics-pending.txt.
func pendingMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "metrics-pending.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// selector is one series selector of a query: a metric name, or the
// matchers on __name__ of a selector without one.
type selector struct {
	name    string
	matcher []*labels.Matcher
}

func (s selector) String() string {
	if s.name != "" {
		return s.name
	}
	var parts []string
	for _, m := range s.matcher {
		parts = append(parts, m.String())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// selectors parses expr and lists the series it selects.
func selectors(expr string) ([]selector, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector{name: vs.Name}
		if s.name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName {
					s.matcher = append(s.matcher, m)
				}
			}
		}
		out = append(out, s)
		return nil
	})
	return out, nil
}

// scrape returns the names of the samples at url (the text format names
// each histogram bucket, sum and count apart).
func scrape(t *testing.T, url string, into map[string]bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", url, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			into[l[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardsAndRulesQueryExportedMetrics: every metric a Grafana panel
// or a Prometheus rule of deploy/ asks for is one the services export, after
// the traffic that makes each appear (a counter with labels shows only once
// counted): requests, a status change, a deregistration, an eviction and an
// event consumed. Every service runs, on a broker: the outbox relays and the
// consumers register their metrics only with one.
func TestDashboardsAndRulesQueryExportedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the whole system")
	}
	dash := dashboardQueries(t)
	rules, recorded := ruleQueries(t)
	pending := pendingMetrics(t)

	b := startBookingSystem(t, nil)
	s := b.system
	s.patients = append(s.patients, start(t, "patient-2", "patient", b.env("patient")))
	s.records = startRecords(t, s, b.nats.UserURL("records"))
	b.startNotification(t, 24*time.Hour)
	waitFor(t, "both patient instances registered", 20*time.Second, func() bool {
		return len(registered(t, s.disc, "patient")) == 2
	})
	c := b.c
	tok := login(t, c, adminEmail, adminPassword)
	// An event through auth's outbox, the broker and notification's consumer.
	register(t, c, "olive@e2e.example", "Olive-e2e-Passw0rd!", "Olive Observed")
	waitFor(t, "the registration applied by notification", 20*time.Second, func() bool {
		return consumed(t, s.notification, "notification") >= 1
	})
	expect(t, c.do(http.MethodGet, "/api/v1/doctors?limit=1", tok, nil), http.StatusOK, "list doctors")
	expect(t, c.do(http.MethodGet, "/api/v1/patients/not-a-uuid", tok, nil), http.StatusBadRequest, "bad patient id")
	expect(t, c.do(http.MethodGet, "/api/v1/patients?limit=1", "", nil), http.StatusUnauthorized, "no token at the edge")

	// A status change, then the instance deregistered by its owner.
	reg := func(method, path, body string) {
		req, err := http.NewRequest(method, s.disc.url(path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+discToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: status %d", method, path, resp.StatusCode)
		}
	}
	reg(http.MethodPut, "/api/v1/registry/widget/widget-1", `{"address":"127.0.0.1","port":9}`)
	reg(http.MethodPut, "/api/v1/registry/widget/widget-1/status", `{"status":"DOWN"}`)
	reg(http.MethodDelete, "/api/v1/registry/widget/widget-1", "")
	// An instance that dies without a word is evicted when its lease lapses.
	s.patients[1].kill()
	waitFor(t, "the killed patient instance evicted", 20*time.Second, func() bool {
		return len(registered(t, s.disc, "patient")) == 1
	})

	exported := map[string]bool{"up": true} // written by Prometheus itself
	for _, p := range []*proc{s.disc, s.auth, s.doctor, s.patients[0], s.appointment, s.records, s.notification, s.gateway} {
		scrape(t, p.url("/metrics"), exported)
	}
	for _, name := range pending {
		if exported[name] {
			t.Errorf("%s is exported now: strike it from deploy/metrics-pending.txt", name)
		}
	}
	known := map[string]bool{}
	for name := range exported {
		known[name] = true
	}
	for _, name := range append(recorded, pending...) {
		known[name] = true
	}
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)

	for _, q := range append(dash, rules...) {
		sels, err := selectors(q.expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", q.where, err, q.expr)
			continue
		}
		for _, sel := range sels {
			if sel.name != "" {
				if !known[sel.name] {
					t.Errorf("%s: no service exports %s", q.where, sel.name)
				}
				continue
			}
			if len(sel.matcher) == 0 || !anyMatches(sel.matcher, names) {
				t.Errorf("%s: no exported metric matches %s", q.where, sel)
			}
		}
	}
}

func anyMatches(ms []*labels.Matcher, names []string) bool {
	for _, n := range names {
		ok := true
		for _, m := range ms {
			ok = ok && m.Matches(n)
		}
		if ok {
			return true
		}
	}
	return false
}

// sharedGauges are the gauges every replica of a service sets to the same
// count of state the replicas share: each relay counts the whole outbox
// table. Summed, they count each event once per replica.
var sharedGauges = map[string]bool{"medisync_outbox_backlog": true}

// TestSharedGaugesAreCountedOncePerService: a panel or a rule reads a gauge
// of shared state through max or min over the replicas, never a sum (nor
// per replica, which alerts once per replica).
func TestSharedGaugesAreCountedOncePerService(t *testing.T) {
	qs, _ := ruleQueries(t)
	for _, q := range append(dashboardQueries(t), qs...) {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(q.expr)
		if err != nil {
			t.Errorf("%s: %v", q.where, err)
			continue
		}
		parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok || !sharedGauges[vs.Name] {
				return nil
			}
			var agg *parser.AggregateExpr
			for i := len(path) - 1; i >= 0 && agg == nil; i-- {
				agg, _ = path[i].(*parser.AggregateExpr)
			}
			if agg == nil || (agg.Op != parser.MAX && agg.Op != parser.MIN) {
				t.Errorf("%s: %s is read per replica or summed over them, each replica counting the whole: %s", q.where, vs.Name, q.expr)
			}
			return nil
		})
	}
}

// TestPrometheusRules checks deploy/prometheus/rules.yml and runs its unit
// tests (rules_test.yml) with promtool, which scripts/prometheus-install.sh
// installs; without it the test is skipped, except under CI=true.
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is missing: run scripts/prometheus-install.sh")
		}
		t.Skip("promtool is missing: scripts/prometheus-install.sh installs it")
	}
	dir := filepath.Join(deployDir, "prometheus")
	for _, args := range [][]string{{"check", "rules", "rules.yml"}, {"test", "rules", "rules_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// The compose file's Prometheus configuration, with the rules where
	// compose mounts them.
	conf, err := os.ReadFile(filepath.Join("..", "docker", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs(filepath.Join(dir, "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "prometheus.yml")
	if !strings.Contains(string(conf), "/etc/prometheus/rules.yml") {
		t.Fatal("docker/prometheus.yml does not load /etc/prometheus/rules.yml")
	}
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(string(conf), "/etc/prometheus/rules.yml", rules)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", tmp).CombinedOutput(); err != nil {
		t.Errorf("promtool check config docker/prometheus.yml: %v\n%s", err, out)
	}
}

// TestKubernetesScrapeConfigNamesJobs applies the relabelling of
// deploy/prometheus/kubernetes.yml to pods as Kubernetes discovery lists
// them: a pod of medisync that asks to be scraped is, on the port it names,
// under job = its app.kubernetes.io/name, as the rules and dashboards expect.
func TestKubernetesScrapeConfigNamesJobs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "kubernetes.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		ScrapeConfigs []struct {
			JobName        string            `yaml:"job_name"`
			RelabelConfigs []*relabel.Config `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &conf); err != nil {
		t.Fatalf("kubernetes.yml: %v", err)
	}
	if len(conf.ScrapeConfigs) != 1 {
		t.Fatalf("kubernetes.yml: %d scrape configs, want 1", len(conf.ScrapeConfigs))
	}
	for i, c := range conf.ScrapeConfigs[0].RelabelConfigs {
		if err := c.Validate(model.UTF8Validation); err != nil {
			t.Fatalf("kubernetes.yml: relabel_configs[%d]: %v", i, err)
		}
	}
	pod := func(name, ip, port string, scrape bool, partOf string) map[string]string {
		l := map[string]string{
			"__address__":                                        ip + ":" + port,
			"__meta_kubernetes_namespace":                        "medisync",
			"__meta_kubernetes_pod_name":                         name + "-7d9f",
			"__meta_kubernetes_pod_ip":                           ip,
			"__meta_kubernetes_pod_label_app_kubernetes_io_name": name,
			"__meta_kubernetes_pod_container_port_number":        port,
		}
		if strings.Contains(ip, ":") {
			l["__address__"] = "[" + ip + "]:" + port
		}
		if partOf != "" {
			l["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"] = partOf
		}
		if scrape {
			l["__meta_kubernetes_pod_annotation_prometheus_io_scrape"] = "true"
			l["__meta_kubernetes_pod_annotation_prometheus_io_port"] = map[string]string{"gateway": "9080", "auth": "8081"}[name]
		}
		return l
	}
	for _, tc := range []struct {
		what         string
		labels       map[string]string
		keep         bool
		address, job string
	}{
		{"the gateway, on its metrics port", pod("gateway", "10.1.2.3", "8080", true, "medisync"), true, "10.1.2.3:9080", "gateway"},
		{"auth on IPv6", pod("auth", "fd00::5", "8081", true, "medisync"), true, "[fd00::5]:8081", "auth"},
		{"a pod not asking", pod("auth", "10.1.2.4", "8081", false, "medisync"), false, "", ""},
		{"a pod of another system", pod("auth", "10.1.2.5", "8081", true, ""), false, "", ""},
	} {
		lb := labels.NewBuilder(labels.FromMap(tc.labels))
		keep := relabel.ProcessBuilder(lb, conf.ScrapeConfigs[0].RelabelConfigs...)
		got := lb.Labels()
		if keep != tc.keep {
			t.Errorf("%s: kept=%v, want %v", tc.what, keep, tc.keep)
			continue
		}
		if keep && (got.Get("__address__") != tc.address || got.Get("job") != tc.job) {
			t.Errorf("%s: scraped at %q as job %q, want %q as %q", tc.what, got.Get("__address__"), got.Get("job"), tc.address, tc.job)
		}
	}
}
