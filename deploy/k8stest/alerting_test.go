package k8stest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestPagingAlertsReachSomeone: deploy/prometheus/rules.yml defines alerts
// labelled severity: page, and both Prometheus configurations the project
// ships load them (docker/prometheus.yml for compose,
// deploy/prometheus/kubernetes.yml). A configuration that loads them must
// send them to an Alertmanager, or they only turn red on Prometheus's own
// page and nobody is paged; under compose, that Alertmanager is one of its
// services.
func TestPagingAlertsReachSomeone(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `json:"alert"`
				Labels map[string]string `json:"labels"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	var paging []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && r.Labels["severity"] == "page" {
				paging = append(paging, r.Alert)
			}
		}
	}
	if len(paging) == 0 {
		t.Skip("no paging alert")
	}
	cb, err := os.ReadFile(filepath.Join(root, "docker", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]any `json:"services"`
	}
	if err := yaml.Unmarshal(cb, &compose); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []string{"docker/prometheus.yml", "deploy/prometheus/kubernetes.yml"} {
		b, err := os.ReadFile(filepath.Join(root, cfg))
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			RuleFiles []string `json:"rule_files"`
			Alerting  struct {
				Alertmanagers []struct {
					StaticConfigs []struct {
						Targets []string `json:"targets"`
					} `json:"static_configs"`
				} `json:"alertmanagers"`
			} `json:"alerting"`
		}
		if err := yaml.Unmarshal(b, &p); err != nil {
			t.Fatalf("%s: %v", cfg, err)
		}
		if len(p.RuleFiles) > 0 && len(p.Alerting.Alertmanagers) == 0 {
			t.Errorf("%s loads %v with %d paging alerts %v but names no Alertmanager: none of them is ever delivered",
				cfg, p.RuleFiles, len(paging), paging)
		}
		if cfg != "docker/prometheus.yml" {
			continue
		}
		for _, am := range p.Alerting.Alertmanagers {
			for _, sc := range am.StaticConfigs {
				for _, target := range sc.Targets {
					host, _, _ := strings.Cut(target, ":")
					if _, ok := compose.Services[host]; !ok {
						t.Errorf("%s sends alerts to %s, but docker-compose.yml has no service %q", cfg, target, host)
					}
				}
			}
		}
	}
}
