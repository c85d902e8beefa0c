package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/runtest"
)

// TestContainers builds every service's image (scripts/images.sh), starts
// the whole system from them, each on its default SQLite path inside a
// volume, walks the smoke story through the gateway, restarts one container
// and reads back what was written before. It needs podman; skipped without
// it, except under CI=true.
func TestContainers(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("podman is required under CI=true (apt-get install podman buildah runc)")
		}
		t.Skip("podman is not installed (apt-get install podman buildah runc)")
	}
	if testing.Short() {
		t.Skip("builds images: not in -short")
	}
	pm := newPodman(t)
	tag := "e2e"
	pm.script(t, "scripts/images.sh", "MEDISYNC_IMAGE_TAG="+tag)

	names := servicesFromList(t)
	addrs := map[string]string{}
	tokens := map[string]string{}
	for _, s := range names {
		addrs[s] = runtest.FreeAddr(t)
		tokens[s] = randomHex(t, 16)
	}
	var serviceTokens []string
	for _, s := range names {
		if s != "discovery" {
			serviceTokens = append(serviceTokens, s+"="+tokens[s])
		}
	}
	discURL := "http://" + addrs["discovery"]
	sealKey := randomKey(t)
	env := func(s string) map[string]string {
		e := map[string]string{
			"MEDISYNC_HTTP_ADDR":       addrs[s],
			"MEDISYNC_DISCOVERY_URLS":  discURL,
			"MEDISYNC_DISCOVERY_TTL":   "5s",
			"MEDISYNC_DISCOVERY_TOKEN": tokens[s],
			"MEDISYNC_LOG_FORMAT":      "json",
		}
		switch s {
		case "discovery":
			e["MEDISYNC_DISCOVERY_TOKEN"] = randomHex(t, 16)
			e["MEDISYNC_DISCOVERY_SERVICE_TOKENS"] = strings.Join(serviceTokens, ",")
		case "auth":
			e["MEDISYNC_ADMIN_EMAIL"] = adminEmail
			e["MEDISYNC_ADMIN_PASSWORD"] = adminPassword
			e["MEDISYNC_KEY_ENCRYPTION_KEY"] = randomKey(t)
			e["MEDISYNC_EVENT_SEAL_KEY"] = sealKey
			e["MEDISYNC_HASH_MEMORY_KIB"] = "1024"
			e["MEDISYNC_HASH_ITERATIONS"] = "1"
		case "records":
			e["MEDISYNC_BLOB_MASTER_KEY"] = randomKey(t)
		case "notification":
			e["MEDISYNC_MAIL"] = "dev-mailbox"
			e["MEDISYNC_EVENT_SEAL_KEY"] = sealKey
		case "gateway":
			e["MEDISYNC_METRICS_ADDR"] = runtest.FreeAddr(t)
			e["MEDISYNC_RATE_LIMIT_STRICT_BURST"] = "40"
		}
		return e
	}
	for _, s := range names {
		pm.start(t, s, "localhost/medisync/"+s+":"+tag, env(s))
	}
	for _, s := range names {
		pm.waitHealthy(t, s, 90*time.Second)
	}

	gw := "http://" + addrs["gateway"]
	c := &client{t: t, base: gw, hc: &http.Client{Timeout: 15 * time.Second}}
	waitFor(t, "gateway to reach auth", 30*time.Second, func() bool {
		return c.do(http.MethodGet, "/.well-known/jwks.json", "", nil).Status == http.StatusOK
	})
	pm.script(t, "scripts/smoke.sh", "GATEWAY_URL="+gw,
		"MEDISYNC_ADMIN_EMAIL="+adminEmail, "MEDISYNC_ADMIN_PASSWORD="+adminPassword)

	// The build linked in by scripts/images.sh shows in the metric and, for
	// each instance, on the discovery dashboard.
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	commit := strings.TrimSpace(string(head))
	metricsBody := apitest.Do(t, c.hc, apitest.NewRequest(t, http.MethodGet, "http://"+addrs["patient"]+"/metrics", nil)).Body
	if !strings.Contains(string(metricsBody), `medisync_build_info{commit="`+commit+`"`) {
		t.Errorf("patient's medisync_build_info does not name commit %s", commit)
	}
	reg := apitest.Do(t, c.hc, apitest.NewRequest(t, http.MethodGet, discURL+"/api/v1/registry/patient", nil))
	expect(t, reg, http.StatusOK, "registry")
	if !strings.Contains(string(reg.Body), `"build":"`) || !strings.Contains(string(reg.Body), commit[:12]) {
		t.Errorf("patient's registration shows no build of commit %s: %s", commit[:12], reg.Body)
	}

	// The peak resident memory of each service after the story: the figures
	// the Kubernetes requests and limits are sized from (deploy/README.md).
	for _, s := range names {
		t.Logf("peak RSS %-12s %s", s, pm.peakRSS(t, s))
	}

	// A patient written before the restart is read back after it: the
	// database lives in the volume, not in the container.
	email := "container-" + randomHex(t, 4) + "@example.com"
	expect(t, c.do(http.MethodPost, "/api/v1/auth/register", "", map[string]any{
		"email": email, "password": "Container-passw0rd", "fullName": "Cora Tainer",
	}), http.StatusAccepted, "register")
	login := func() string {
		r := c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": email, "password": "Container-passw0rd"})
		expect(t, r, http.StatusOK, "login")
		return r.Str(t, "accessToken")
	}
	token := login()
	created := c.do(http.MethodPost, "/api/v1/patients", token, map[string]any{
		"firstName": "Cora", "lastName": "Tainer", "dateOfBirth": "1985-06-15", "sex": "female",
	})
	expect(t, created, http.StatusCreated, "create profile")
	id := created.Str(t, "id")

	pm.restart(t, "patient")
	pm.waitHealthy(t, "patient", 60*time.Second)
	var me response
	waitFor(t, "patient back behind the gateway", 30*time.Second, func() bool {
		me = c.do(http.MethodGet, "/api/v1/patients/me", token, nil)
		return me.Status == http.StatusOK
	})
	if got := me.Str(t, "id"); got != id {
		t.Fatalf("after the restart the profile is %s, want %s: %s", got, id, me.Body)
	}
	// auth's signing keys and accounts survived too: the same account logs in
	// after auth restarts, and its new token opens the same profile.
	pm.restart(t, "auth")
	pm.waitHealthy(t, "auth", 60*time.Second)
	waitFor(t, "auth back behind the gateway", 30*time.Second, func() bool {
		r := c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": email, "password": "Container-passw0rd"})
		return r.Status == http.StatusOK
	})
	expect(t, c.do(http.MethodGet, "/api/v1/patients/me", login(), nil), http.StatusOK, "profile after auth restarts")
}

// podman runs containers in a storage of its own, removed at the end,
// with the settings of scripts/podman.sh.
type podman struct {
	root, prefix string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	root, err := os.MkdirTemp("", "medisync-podman-")
	if err != nil {
		t.Fatal(err)
	}
	pm := &podman{root: root, prefix: "medisync-e2e-" + randomHex(t, 3)}
	t.Cleanup(func() {
		out, _ := pm.cmd("ps", "-a", "--format", "{{.Names}}").Output()
		for _, n := range strings.Fields(string(out)) {
			if t.Failed() {
				logs, _ := pm.cmd("logs", "--tail", "40", n).CombinedOutput()
				t.Logf("--- %s ---\n%s", n, logs)
			}
			_ = pm.cmd("rm", "-f", "-t", "5", n).Run()
		}
		_ = pm.cmd("volume", "prune", "-f").Run()
		_ = pm.cmd("system", "reset", "-f").Run()
		_ = os.RemoveAll(root)
	})
	return pm
}

// cmd is podman with args, through podman_cmd of scripts/podman.sh.
func (p *podman) cmd(args ...string) *exec.Cmd {
	c := exec.Command("bash", append([]string{"-c", `. scripts/podman.sh && podman_cmd "$@"`, "podman"}, args...)...)
	c.Dir = ".."
	c.Env = append(os.Environ(), "MEDISYNC_PODMAN_ROOT="+p.root)
	return c
}

// script runs a project script with env added, failing the test on error.
func (p *podman) script(t *testing.T, path string, env ...string) {
	t.Helper()
	c := exec.Command("bash", path)
	c.Dir = ".."
	c.Env = append(append(os.Environ(), "MEDISYNC_PODMAN_ROOT="+p.root), env...)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", path, err, tail(string(out), 60))
	}
	t.Logf("%s:\n%s", path, tail(string(out), 15))
}

func (p *podman) name(service string) string { return p.prefix + "-" + service }

// start runs the image detached on the host network, its data folder in a
// named volume.
func (p *podman) start(t *testing.T, service, image string, env map[string]string) {
	t.Helper()
	args := []string{"run", "-d", "--name", p.name(service), "--network", "host",
		"-v", p.name(service) + "-data:/var/lib/medisync/data"}
	for k, v := range env {
		args = append(args, "-e", k+"="+v)
	}
	args = append(args, image)
	if out, err := p.cmd(args...).CombinedOutput(); err != nil {
		t.Fatalf("start %s: %v\n%s", service, err, out)
	}
}

// waitHealthy runs the image's own health check (the binary's -healthcheck
// mode, inside the container) until it passes.
func (p *podman) waitHealthy(t *testing.T, service string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := p.cmd("healthcheck", "run", p.name(service)).CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			logs, _ := p.cmd("logs", "--tail", "30", p.name(service)).CombinedOutput()
			t.Fatalf("%s not healthy after %s: %v %s\n%s", service, timeout, err, out, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// peakRSS is the high-water mark of the container's process's resident
// memory (VmHWM), read on the host.
func (p *podman) peakRSS(t *testing.T, service string) string {
	t.Helper()
	out, err := p.cmd("inspect", "--format", "{{.State.Pid}}", p.name(service)).Output()
	if err != nil {
		return "unknown: " + err.Error()
	}
	status, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(out)), "status"))
	if err != nil {
		return "unknown: " + err.Error()
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

// restart stops the container gracefully (SIGTERM) and starts it again.
func (p *podman) restart(t *testing.T, service string) {
	t.Helper()
	if out, err := p.cmd("restart", "-t", "20", p.name(service)).CombinedOutput(); err != nil {
		t.Fatalf("restart %s: %v\n%s", service, err, out)
	}
}

// servicesFromList reads the service names of services.txt, in start order.
func servicesFromList(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "services.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		names = append(names, fields[0])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
