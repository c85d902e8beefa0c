package k8stest

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestURLsOutsideSecretsCarryNoCredentials: a URL a pod reads from a
// ConfigMap or from the manifest itself is in git and in every describe;
// one with a user or a password in it belongs in the service's Secret
// (components/broker-credentials for the broker).
func TestURLsOutsideSecretsCarryNoCredentials(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, w := range r.workloads {
			for _, e := range w.template.Spec.Containers[0].Env {
				if !strings.HasSuffix(e.Name, "_URL") && !strings.HasSuffix(e.Name, "_URLS") {
					continue
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					continue
				}
				for _, raw := range strings.Split(r.envValue(w, e.Name), ",") {
					if u, err := url.Parse(strings.TrimSpace(raw)); err == nil && u.User != nil {
						t.Errorf("%s: %s carries credentials outside a Secret: %s", w.name, e.Name, u.Redacted())
					}
				}
			}
		}
	})
}

// TestBrokerCredentialsComeFromEachServicesSecret renders production with
// components/broker-credentials: every service that reaches the broker
// reads its URL from its own Secret alone.
func TestBrokerCredentialsComeFromEachServicesSecret(t *testing.T) {
	dir := t.TempDir()
	prod, err := filepath.Abs(filepath.Join(root, "deploy", "k8s", "overlays", "prod"))
	if err != nil {
		t.Fatal(err)
	}
	component, err := filepath.Abs(filepath.Join(root, "deploy", "k8s", "components", "broker-credentials"))
	if err != nil {
		t.Fatal(err)
	}
	// kustomize takes no absolute paths: they go relative to the overlay.
	if prod, err = filepath.Rel(dir, prod); err != nil {
		t.Fatal(err)
	}
	if component, err = filepath.Rel(dir, component); err != nil {
		t.Fatal(err)
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"resources:\n  - " + prod + "\ncomponents:\n  - " + component + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		t.Fatal(err)
	}
	r := renderDir(t, "prod with broker-credentials", dir)
	users := 0
	for _, w := range r.workloads {
		for _, e := range w.template.Spec.Containers[0].Env {
			if e.Name != "MEDISYNC_BROKER_URL" {
				continue
			}
			users++
			ref := e.ValueFrom
			switch {
			case ref == nil || ref.SecretKeyRef == nil:
				t.Errorf("%s: MEDISYNC_BROKER_URL not from a Secret: %v", w.name, ref)
			case ref.ConfigMapKeyRef != nil:
				t.Errorf("%s: MEDISYNC_BROKER_URL from a Secret and a ConfigMap at once", w.name)
			case ref.SecretKeyRef.Name != "medisync-"+w.name || ref.SecretKeyRef.Key != "broker-url":
				t.Errorf("%s: MEDISYNC_BROKER_URL from %s key %s, want medisync-%s key broker-url",
					w.name, ref.SecretKeyRef.Name, ref.SecretKeyRef.Key, w.name)
			}
		}
	}
	if users == 0 {
		t.Error("no workload reads MEDISYNC_BROKER_URL")
	}
}
