package k8stest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// root is the repository root, seen from this package.
const root = "../.."

// overlays are the kustomizations rendered and checked.
var overlays = []string{"dev", "prod"}

// rendered holds one overlay's objects, decoded strictly into the API types.
type rendered struct {
	overlay    string
	workloads  []workload
	services   []corev1.Service
	configMaps []corev1.ConfigMap
	pdbs       []policyv1.PodDisruptionBudget
	hpas       []autoscalingv2.HorizontalPodAutoscaler
	policies   []networkingv1.NetworkPolicy
	namespaces []corev1.Namespace
}

// workload is a Deployment or a StatefulSet, by what the rules need.
type workload struct {
	kind, name string
	replicas   *int32
	labels     map[string]string
	template   corev1.PodTemplateSpec
}

// render runs kustomize on an overlay, as kubectl kustomize does, and
// decodes every object strictly: an unknown field is an error.
func render(t *testing.T, overlay string) *rendered {
	t.Helper()
	return renderDir(t, overlay, filepath.Join(root, "deploy", "k8s", "overlays", overlay))
}

// renderDir renders the kustomization in dir as render does, naming the
// result overlay.
func renderDir(t *testing.T, overlay, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", overlay, err)
	}
	r := &rendered{overlay: overlay}
	for _, res := range m.Resources() {
		doc, err := res.AsYAML()
		if err != nil {
			t.Fatalf("%s: %v", res.CurId(), err)
		}
		strict := func(into any) {
			t.Helper()
			if err := yaml.UnmarshalStrict(doc, into); err != nil {
				t.Fatalf("%s %s: %v", overlay, res.CurId(), err)
			}
		}
		switch kind := res.GetKind(); kind {
		case "Deployment":
			var d appsv1.Deployment
			strict(&d)
			r.workloads = append(r.workloads, workload{kind, d.Name, d.Spec.Replicas, d.Spec.Selector.MatchLabels, d.Spec.Template})
		case "StatefulSet":
			var s appsv1.StatefulSet
			strict(&s)
			r.workloads = append(r.workloads, workload{kind, s.Name, s.Spec.Replicas, s.Spec.Selector.MatchLabels, s.Spec.Template})
		case "Service":
			var s corev1.Service
			strict(&s)
			r.services = append(r.services, s)
		case "ConfigMap":
			var c corev1.ConfigMap
			strict(&c)
			r.configMaps = append(r.configMaps, c)
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			strict(&p)
			r.pdbs = append(r.pdbs, p)
		case "HorizontalPodAutoscaler":
			var h autoscalingv2.HorizontalPodAutoscaler
			strict(&h)
			r.hpas = append(r.hpas, h)
		case "NetworkPolicy":
			var p networkingv1.NetworkPolicy
			strict(&p)
			r.policies = append(r.policies, p)
		case "Namespace":
			var n corev1.Namespace
			strict(&n)
			r.namespaces = append(r.namespaces, n)
		default:
			t.Fatalf("%s: %s is of a kind the rules do not cover (%s)", overlay, res.CurId(), kind)
		}
	}
	return r
}

var (
	renders   = map[string]*rendered{}
	rendersMu sync.Mutex
)

// each runs check on every overlay, rendered once per test binary.
func each(t *testing.T, check func(t *testing.T, r *rendered)) {
	for _, o := range overlays {
		t.Run(o, func(t *testing.T) {
			rendersMu.Lock()
			r, ok := renders[o]
			if !ok {
				r = render(t, o)
				renders[o] = r
			}
			rendersMu.Unlock()
			check(t, r)
		})
	}
}

func (r *rendered) workload(name string) *workload {
	for i := range r.workloads {
		if r.workloads[i].name == name {
			return &r.workloads[i]
		}
	}
	return nil
}

// selects reports whether selector picks pods labelled labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// servicesList reads the names of services.txt.
func servicesList(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "services.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && !strings.HasPrefix(fields[0], "#") {
			names = append(names, fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

var (
	flagsOnce sync.Once
	flagsBy   map[string]map[string]bool
	flagsErr  error
)

// binaryFlags builds every service binary there is and reads the flags its
// -h lists: the settings it really reads, each also a MEDISYNC_* variable.
func binaryFlags(t *testing.T, services []string) map[string]map[string]bool {
	t.Helper()
	flagsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "medisync-flags-")
		if err != nil {
			flagsErr = err
			return
		}
		defer os.RemoveAll(dir)
		flagsBy = map[string]map[string]bool{}
		flagLine := regexp.MustCompile(`^\s+-([a-z0-9][a-z0-9.-]*)`)
		for _, s := range services {
			if _, err := os.Stat(filepath.Join(root, s, "cmd", s)); err != nil {
				continue // not in this tree: its manifests are checked without it
			}
			bin := filepath.Join(dir, s)
			build := exec.Command("go", "build", "-o", bin, "./cmd/"+s)
			build.Dir = filepath.Join(root, s)
			if out, err := build.CombinedOutput(); err != nil {
				flagsErr = fmt.Errorf("build %s: %v\n%s", s, err, out)
				return
			}
			var usage bytes.Buffer
			help := exec.Command(bin, "-h")
			help.Env = []string{"HOME=" + dir}
			help.Stdout, help.Stderr = &usage, &usage
			if err := help.Run(); err != nil {
				flagsErr = fmt.Errorf("%s -h: %v\n%s", s, err, usage.String())
				return
			}
			set := map[string]bool{}
			for _, line := range strings.Split(usage.String(), "\n") {
				if m := flagLine.FindStringSubmatch(line); m != nil {
					set["MEDISYNC_"+strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(m[1]))] = true
				}
			}
			if len(set) == 0 {
				flagsErr = fmt.Errorf("%s -h listed no flags:\n%s", s, usage.String())
				return
			}
			flagsBy[s] = set
		}
	})
	if flagsErr != nil {
		t.Fatal(flagsErr)
	}
	return flagsBy
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
