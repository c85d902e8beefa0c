package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/runtest"
)

// binaries maps a service name to its built binary, built once in TestMain.
var binaries = map[string]string{}

var services = []string{"discovery", "auth", "doctor", "patient", "appointment", "records", "notification", "gateway"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "medisync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		for _, s := range services {
			bin := filepath.Join(dir, s)
			cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+s)
			cmd.Dir = filepath.Join("..", s)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n", s, err)
				return 1
			}
			binaries[s] = bin
		}
		return m.Run()
	}()
	os.Exit(code)
}

// proc is one running service binary.
type proc struct {
	name string
	addr string
	cmd  *exec.Cmd
	out  *logtest.Buffer
	done chan struct{}
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// start runs a service binary on a free loopback port with env on top of the
// common settings, and waits until it is live.
func start(t *testing.T, name, service string, env map[string]string) *proc {
	t.Helper()
	return startAt(t, name, service, runtest.FreeAddr(t), env)
}

// startAt is start on a given address, to bring an instance back where it was.
func startAt(t *testing.T, name, service, addr string, env map[string]string) *proc {
	t.Helper()
	p := &proc{name: name, addr: addr, out: &logtest.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binaries[service])
	p.cmd.Env = append(os.Environ(), "MEDISYNC_HTTP_ADDR="+p.addr, "MEDISYNC_LOG_LEVEL=debug")
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, tail(p.out.String(), 60))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url("/health/live"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited early:\n%s", name, tail(p.out.String(), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not live after 30s:\n%s", name, tail(p.out.String(), 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a graceful exit.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process at once, without deregistering.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitReady waits until path on p answers 200.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client sends JSON requests and decodes JSON answers.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

type response = apitest.Response

func (c *client) do(method, path, token string, body any, headers ...string) response {
	c.t.Helper()
	req := apitest.NewRequest(c.t, method, c.base+path, body, append(apitest.Bearer(token), headers...)...)
	return apitest.Do(c.t, c.hc, req)
}

// expect fails the test unless r has the status.
func expect(t *testing.T, r response, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
	}
}
