package k8stest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The services the manifests carry beyond services.txt, landing soon.
var extra = []string{"appointment"}

// defaultShutdown is -shutdown-timeout's default (shared/config).
const defaultShutdown = 15 * time.Second

// migrationBudget is the least time the startup probe must give a service
// to apply its migrations before it listens.
const migrationBudget = 2 * time.Minute

func TestEveryServiceHasAWorkloadAndAService(t *testing.T) {
	names := servicesList(t)
	each(t, func(t *testing.T, r *rendered) {
		for _, s := range append(names, extra...) {
			if s == "discovery" && r.workload(s) == nil {
				// Resolution through Kubernetes Services needs no registry.
				continue
			}
			w := r.workload(s)
			if w == nil {
				t.Errorf("%s has no Deployment", s)
				continue
			}
			found := false
			for _, svc := range r.services {
				found = found || svc.Name == s
			}
			if !found {
				t.Errorf("%s has no Service", s)
			}
		}
	})
}

func TestWorkloadsRunAsNonRootOnAReadOnlyRoot(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, w := range r.workloads {
			pod := w.template.Spec
			psc := pod.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("%s: the pod must run as a non-root user (runAsNonRoot, runAsUser != 0)", w.name)
			}
			if psc != nil && (psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
				t.Errorf("%s: seccomp profile must be RuntimeDefault", w.name)
			}
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Errorf("%s: no service uses the Kubernetes API: automountServiceAccountToken must be false", w.name)
			}
			emptyDirs := map[string]bool{}
			for _, v := range pod.Volumes {
				if v.EmptyDir != nil {
					emptyDirs[v.Name] = true
				}
			}
			for _, c := range pod.Containers {
				sc := c.SecurityContext
				switch {
				case sc == nil:
					t.Errorf("%s/%s: no securityContext", w.name, c.Name)
					continue
				case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
					t.Errorf("%s/%s: root filesystem must be read-only", w.name, c.Name)
				case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
					t.Errorf("%s/%s: privilege escalation must be off", w.name, c.Name)
				case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0:
					t.Errorf("%s/%s: every capability must be dropped", w.name, c.Name)
				case sc.Privileged != nil && *sc.Privileged:
					t.Errorf("%s/%s: privileged", w.name, c.Name)
				}
				tmp := false
				for _, m := range c.VolumeMounts {
					tmp = tmp || (m.MountPath == "/tmp" && emptyDirs[m.Name])
				}
				if !tmp {
					t.Errorf("%s/%s: /tmp must be an emptyDir on a read-only root", w.name, c.Name)
				}
			}
		}
	})
}

func TestProbesPointAtTheHealthEndpoints(t *testing.T) {
	want := map[string]string{"liveness": "/health/live", "readiness": "/health/ready"}
	each(t, func(t *testing.T, r *rendered) {
		for _, w := range r.workloads {
			for _, c := range w.template.Spec.Containers {
				ports := map[string]int32{}
				for _, p := range c.Ports {
					ports[p.Name] = p.ContainerPort
				}
				check := func(kind string, p *corev1.Probe, paths ...string) {
					t.Helper()
					if p == nil || p.HTTPGet == nil {
						t.Errorf("%s/%s: no HTTP %s probe", w.name, c.Name, kind)
						return
					}
					ok := false
					for _, path := range paths {
						ok = ok || p.HTTPGet.Path == path
					}
					if !ok {
						t.Errorf("%s/%s: %s probe on %q, want %v", w.name, c.Name, kind, p.HTTPGet.Path, paths)
					}
					if port := p.HTTPGet.Port; port.Type == intstr.String && ports[port.StrVal] == 0 ||
						port.Type == intstr.Int && !hasPort(c, port.IntVal) {
						t.Errorf("%s/%s: %s probe on port %s, which the container does not declare", w.name, c.Name, kind, port.String())
					}
				}
				check("liveness", c.LivenessProbe, want["liveness"])
				check("readiness", c.ReadinessProbe, want["readiness"])
				check("startup", c.StartupProbe, want["liveness"], want["readiness"])
				if p := c.StartupProbe; p != nil {
					if budget := time.Duration(p.PeriodSeconds*p.FailureThreshold) * time.Second; budget < migrationBudget {
						t.Errorf("%s/%s: the startup probe gives %s, less than the %s migrations may take", w.name, c.Name, budget, migrationBudget)
					}
				}
			}
		}
	})
}

func hasPort(c corev1.Container, port int32) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == port {
			return true
		}
	}
	return false
}

func TestResourcesAreBounded(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, w := range r.workloads {
			for _, c := range w.template.Spec.Containers {
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					req, okReq := c.Resources.Requests[res]
					lim, okLim := c.Resources.Limits[res]
					if !okReq || !okLim || req.IsZero() || lim.IsZero() {
						t.Errorf("%s/%s: %s needs a request and a limit", w.name, c.Name, res)
						continue
					}
					if req.Cmp(lim) > 0 {
						t.Errorf("%s/%s: %s request %s above the limit %s", w.name, c.Name, res, req.String(), lim.String())
					}
				}
			}
		}
	})
}

// goMemLimit parses a GOMEMLIMIT value as the Go runtime does: bytes, with
// an optional B, KiB, MiB, GiB or TiB suffix.
func goMemLimit(v string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}

// TestGoMemLimitLeavesHeadroom: GOMEMLIMIT is a soft limit the GC aims
// under; at the whole container limit, memory the runtime does not count and
// the GC's lag take the pod over it and the kernel kills it first. Each
// container with a memory limit sets GOMEMLIMIT to at most 90% of it (and
// at least 80%, or the heap is cramped for nothing), written as a value: a
// resourceFieldRef gives the whole limit, or with a divisor a count of
// units that the runtime would read as bytes.
func TestGoMemLimitLeavesHeadroom(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, w := range r.workloads {
			for _, c := range w.template.Spec.Containers {
				lim, ok := c.Resources.Limits[corev1.ResourceMemory]
				if !ok {
					continue
				}
				var env *corev1.EnvVar
				for i := range c.Env {
					if c.Env[i].Name == "GOMEMLIMIT" {
						env = &c.Env[i]
					}
				}
				switch {
				case env == nil:
					t.Errorf("%s/%s: memory limit %s but no GOMEMLIMIT", w.name, c.Name, lim.String())
					continue
				case env.ValueFrom != nil:
					t.Errorf("%s/%s: GOMEMLIMIT from %+v, want a value, 90%% of the limit %s", w.name, c.Name, env.ValueFrom, lim.String())
					continue
				}
				got, err := goMemLimit(env.Value)
				if err != nil {
					t.Errorf("%s/%s: GOMEMLIMIT %q: %v", w.name, c.Name, env.Value, err)
					continue
				}
				if limit := lim.Value(); got*10 > limit*9 || got*10 < limit*8 {
					t.Errorf("%s/%s: GOMEMLIMIT %s is %.1f%% of the memory limit %s, want 80-90%%",
						w.name, c.Name, env.Value, 100*float64(got)/float64(limit), lim.String())
				}
			}
		}
	})
}

func TestGracePeriodCoversTheDrain(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, w := range r.workloads {
			pod := w.template.Spec
			for _, c := range pod.Containers {
				drain := defaultShutdown
				for _, e := range c.Env {
					if e.Name == "MEDISYNC_SHUTDOWN_TIMEOUT" {
						d, err := time.ParseDuration(e.Value)
						if err != nil {
							t.Fatalf("%s: MEDISYNC_SHUTDOWN_TIMEOUT %q: %v", w.name, e.Value, err)
						}
						drain = d
					}
				}
				if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
					if c.Lifecycle.PreStop.Sleep == nil {
						t.Errorf("%s/%s: the image has no shell: preStop can only sleep", w.name, c.Name)
					} else {
						drain += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
					}
				}
				if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= drain {
					t.Errorf("%s: terminationGracePeriodSeconds must exceed the preStop pause and the drain (%s)", w.name, drain)
				}
			}
		}
	})
}

// secretName matches a variable that holds a secret: it must come from a
// Secret, never be written in a manifest.
var secretName = regexp.MustCompile(`PASSWORD|TOKEN|SECRET|_KEY$|DSN|EMAIL|USERNAME`)

// runtimeEnv are the variables read by the Go runtime or used only to build
// others ($(POD_IP)).
var runtimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOGC": true, "POD_IP": true}

func TestEnvironmentIsWhatTheBinariesRead(t *testing.T) {
	flags := binaryFlags(t, append(servicesList(t), extra...))
	each(t, func(t *testing.T, r *rendered) {
		configMaps := map[string]map[string]string{}
		for _, c := range r.configMaps {
			configMaps[c.Name] = c.Data
		}
		for _, w := range r.workloads {
			known, built := flags[w.name]
			if !built {
				t.Logf("%s: no cmd/%s in this tree; its variables are not checked against its flags", w.name, w.name)
			}
			for _, c := range w.template.Spec.Containers {
				seen := map[string]bool{}
				for _, e := range c.Env {
					if seen[e.Name] {
						t.Errorf("%s: %s set twice", w.name, e.Name)
					}
					seen[e.Name] = true
					switch {
					case runtimeEnv[e.Name]:
					case !strings.HasPrefix(e.Name, "MEDISYNC_"):
						t.Errorf("%s: %s is no setting of medisync", w.name, e.Name)
					case built && !known[e.Name]:
						t.Errorf("%s: %s is not a flag of %s (-h lists none such)", w.name, e.Name, w.name)
					}
					if secretName.MatchString(e.Name) && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
						t.Errorf("%s: %s must come from a Secret", w.name, e.Name)
					}
					if e.ValueFrom == nil {
						continue
					}
					if ref := e.ValueFrom.SecretKeyRef; ref != nil && ref.Name != "medisync-"+w.name {
						t.Errorf("%s: %s from Secret %s; each service reads its own, medisync-%s", w.name, e.Name, ref.Name, w.name)
					}
					if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
						data, ok := configMaps[ref.Name]
						if _, has := data[ref.Key]; !ok || !has {
							t.Errorf("%s: %s from ConfigMap %s key %s, which the render lacks", w.name, e.Name, ref.Name, ref.Key)
						}
					}
				}
			}
		}
	})
}

func TestImagesAreFullyNamed(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, w := range r.workloads {
			for _, c := range w.template.Spec.Containers {
				registry, _, ok := strings.Cut(c.Image, "/")
				if !ok || (!strings.Contains(registry, ".") && registry != "localhost") {
					t.Errorf("%s: image %q names no registry", w.name, c.Image)
				}
				if r.overlay == "prod" && (strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":")) {
					t.Errorf("%s: production runs a versioned image, not %q", w.name, c.Image)
				}
				if !strings.HasSuffix(c.Image, "/"+w.name+c.Image[strings.LastIndex(c.Image, ":"):]) {
					t.Errorf("%s: runs image %q, not its own", w.name, c.Image)
				}
			}
		}
	})
}

func TestServicesAndBudgetsSelectWorkloads(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, s := range r.services {
			var target *workload
			for i := range r.workloads {
				if selects(s.Spec.Selector, r.workloads[i].template.Labels) {
					target = &r.workloads[i]
				}
			}
			if target == nil {
				t.Errorf("Service %s selects no Deployment", s.Name)
				continue
			}
			for _, p := range s.Spec.Ports {
				named := false
				for _, c := range target.template.Spec.Containers {
					for _, cp := range c.Ports {
						named = named || (p.TargetPort.Type == intstr.String && cp.Name == p.TargetPort.StrVal) ||
							(p.TargetPort.Type == intstr.Int && cp.ContainerPort == p.TargetPort.IntVal)
					}
				}
				if !named {
					t.Errorf("Service %s port %s targets %s, which %s does not declare", s.Name, p.Name, p.TargetPort.String(), target.name)
				}
			}
		}
		for _, w := range r.workloads {
			covered := false
			for _, p := range r.pdbs {
				covered = covered || (p.Spec.Selector != nil && selects(p.Spec.Selector.MatchLabels, w.template.Labels))
			}
			if !covered {
				t.Errorf("%s has no PodDisruptionBudget", w.name)
			}
		}
		for _, p := range r.pdbs {
			found := false
			for _, w := range r.workloads {
				found = found || (p.Spec.Selector != nil && selects(p.Spec.Selector.MatchLabels, w.template.Labels))
			}
			if !found {
				t.Errorf("PodDisruptionBudget %s selects no workload", p.Name)
			}
		}
	})
}

func TestStatelessServicesScale(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		scaled := map[string]bool{}
		for _, h := range r.hpas {
			ref := h.Spec.ScaleTargetRef
			w := r.workload(ref.Name)
			if ref.Kind != "Deployment" || w == nil || w.kind != "Deployment" {
				t.Errorf("HorizontalPodAutoscaler %s targets %s %s, which is no Deployment here", h.Name, ref.Kind, ref.Name)
				continue
			}
			scaled[ref.Name] = true
			if w.replicas != nil {
				t.Errorf("%s: replicas set while an autoscaler owns them", w.name)
			}
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
				t.Errorf("HorizontalPodAutoscaler %s: bad bounds", h.Name)
			}
		}
		for _, w := range r.workloads {
			if w.kind == "Deployment" && !scaled[w.name] {
				t.Errorf("%s: every service but the registry is stateless and has an autoscaler", w.name)
			}
		}
		if !scaled["gateway"] {
			t.Error("the gateway has no autoscaler")
		}
		if r.overlay == "prod" {
			if d := r.workload("discovery"); d == nil || d.replicas == nil || *d.replicas != 2 {
				t.Error("production runs two discovery replicas")
			}
		}
	})
}

// The calls the system makes, besides every service to discovery and to
// auth: the gateway calls every service, and these peers call each other.
var peerCalls = map[string][]string{
	"appointment": {"doctor", "patient"},
	"doctor":      {"appointment"},
	"patient":     {"records"},
	"records":     {"patient", "appointment"},
}

func TestNetworkPoliciesAllowOnlyTheCallsTheSystemMakes(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		deny := false
		for _, p := range r.policies {
			if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 && len(p.Spec.PolicyTypes) == 2 {
				deny = true
			}
		}
		if !deny {
			t.Fatal("no default-deny policy: pods take and make any connection")
		}
		expected := func(from, to string) bool {
			switch {
			case from == to, from == "discovery":
				// The registry calls no one.
				return false
			case from == "gateway" && to != "gateway", to == "auth", to == "discovery":
				return true
			}
			for _, p := range peerCalls[from] {
				if p == to {
					return true
				}
			}
			return false
		}
		for _, from := range r.workloads {
			for _, to := range r.workloads {
				port := servicePort(to)
				got := allowed(r.policies, from.template.Labels, to.template.Labels, port)
				if want := expected(from.name, to.name); got != want {
					t.Errorf("%s -> %s:%d allowed=%v, want %v", from.name, to.name, port, got, want)
				}
			}
			// From outside the namespace's pods: only the gateway.
			outside := map[string]string{"app.kubernetes.io/name": "ingress-controller"}
			if got := ingressAllows(r.policies, outside, from.template.Labels, servicePort(from), false); got != (from.name == "gateway") {
				t.Errorf("outside -> %s allowed=%v", from.name, got)
			}
			// Another pod of the system (a job, say) is no caller: it may
			// register with discovery and reach the gateway, nothing else.
			stranger := map[string]string{"app.kubernetes.io/name": "stranger", "app.kubernetes.io/part-of": "medisync"}
			if got := ingressAllows(r.policies, stranger, from.template.Labels, servicePort(from), true); got != (from.name == "gateway" || from.name == "discovery") {
				t.Errorf("another medisync pod -> %s allowed=%v", from.name, got)
			}
		}
	})
}

// backing are the servers the clinic runs beside the services, in the
// namespace: each is reached on its port by exactly the workloads whose
// variable names it.
var backing = []struct {
	name, env string
	port      int32
}{
	{"nats", "MEDISYNC_BROKER_URL", 4222},
	{"redis", "MEDISYNC_RATE_LIMIT_REDIS_URL", 6379},
}

func TestNetworkPoliciesAllowTheBackingServersToTheirClientsOnly(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, b := range backing {
			server := map[string]string{"app.kubernetes.io/name": b.name}
			for _, w := range r.workloads {
				uses := r.envValue(w, b.env) != ""
				if got := allowed(r.policies, w.template.Labels, server, b.port); got != uses {
					t.Errorf("%s -> %s:%d allowed=%v, want %v (%s set: %v)", w.name, b.name, b.port, got, uses, b.env, uses)
				}
				if got := allowed(r.policies, server, w.template.Labels, servicePort(w)); got {
					t.Errorf("%s -> %s:%d allowed", b.name, w.name, servicePort(w))
				}
			}
		}
		// The NATS servers of a cluster route to each other.
		nats := map[string]string{"app.kubernetes.io/name": "nats"}
		if !allowed(r.policies, nats, nats, 6222) {
			t.Error("nats -> nats:6222 (cluster routes) refused")
		}
	})
}

// envValue is a variable of the workload's first container as the pod sees
// it: its value, or the ConfigMap key it names.
func (r *rendered) envValue(w workload, name string) string {
	for _, e := range w.template.Spec.Containers[0].Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom == nil {
			return e.Value
		}
		if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
			for _, c := range r.configMaps {
				if c.Name == ref.Name {
					return c.Data[ref.Key]
				}
			}
		}
		return "(from " + e.ValueFrom.String() + ")"
	}
	return ""
}

// TestProductionSetsTheSiteValues: production runs several gateways behind
// an ingress controller, and mails links to a public page.
func TestProductionSetsTheSiteValues(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		if r.overlay != "prod" {
			return
		}
		want := []struct{ workload, env, prefix string }{
			{"gateway", "MEDISYNC_TRUSTED_PROXIES", ""},
			{"gateway", "MEDISYNC_RATE_LIMIT_REDIS_URL", "redis"},
			{"auth", "MEDISYNC_RESET_URL", "https://"},
			{"notification", "MEDISYNC_MAIL_FROM", ""},
		}
		for _, v := range want {
			w := r.workload(v.workload)
			if w == nil {
				t.Errorf("no %s", v.workload)
				continue
			}
			if got := r.envValue(*w, v.env); got == "" || !strings.HasPrefix(got, v.prefix) {
				t.Errorf("%s: %s is %q, want a value starting %q", v.workload, v.env, got, v.prefix)
			}
		}
	})
}

func servicePort(w workload) int32 {
	for _, p := range w.template.Spec.Containers[0].Ports {
		if p.Name == "http" {
			return p.ContainerPort
		}
	}
	return 0
}

// allowed is whether a pod labelled from may open a connection to a pod
// labelled to on port: some policy lets it out and some lets it in.
func allowed(policies []networkingv1.NetworkPolicy, from, to map[string]string, port int32) bool {
	return egressAllows(policies, from, to, port) && ingressAllows(policies, from, to, port, true)
}

func egressAllows(policies []networkingv1.NetworkPolicy, from, to map[string]string, port int32) bool {
	for _, p := range policies {
		if !podSelected(p.Spec.PodSelector.MatchLabels, from) {
			continue
		}
		for _, rule := range p.Spec.Egress {
			if portsAllow(rule.Ports, port) && peersAllow(rule.To, to, true) {
				return true
			}
		}
	}
	return false
}

func ingressAllows(policies []networkingv1.NetworkPolicy, from, to map[string]string, port int32, sameNamespace bool) bool {
	for _, p := range policies {
		if !podSelected(p.Spec.PodSelector.MatchLabels, to) {
			continue
		}
		for _, rule := range p.Spec.Ingress {
			if portsAllow(rule.Ports, port) && peersAllow(rule.From, from, sameNamespace) {
				return true
			}
		}
	}
	return false
}

// podSelected is a policy's podSelector: empty selects every pod.
func podSelected(selector, labels map[string]string) bool {
	return len(selector) == 0 || selects(selector, labels)
}

func portsAllow(ports []networkingv1.NetworkPolicyPort, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Port == nil || (p.Port.Type == intstr.Int && p.Port.IntVal == port) {
			return true
		}
	}
	return false
}

// peersAllow is whether a rule's peers include a pod labelled labels, of
// this namespace or (sameNamespace false) of a namespace without labels.
func peersAllow(peers []networkingv1.NetworkPolicyPeer, labels map[string]string, sameNamespace bool) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			continue // addresses outside the cluster
		}
		if p.NamespaceSelector != nil {
			if len(p.NamespaceSelector.MatchLabels) > 0 || len(p.NamespaceSelector.MatchExpressions) > 0 {
				continue // a labelled namespace (monitoring), not ours
			}
		} else if !sameNamespace {
			continue
		}
		if p.PodSelector == nil || podSelected(p.PodSelector.MatchLabels, labels) {
			return true
		}
	}
	return false
}
