package loadkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a service binary a load tool started.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // how it exited, once done is closed
	once sync.Once
}

// Start runs cmd (its arguments, environment and output set by the
// caller), a service called name that listens on addr, and waits until its
// /health/ready answers 200, for 30 s at the most. The address must be
// free: another server on it would answer in the child's place. The child
// ends with the tool, however the tool ends, where the system allows it.
func Start(ctx context.Context, name string, cmd *exec.Cmd, addr string) (*Process, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s is in use: %w", addr, err)
	}
	_ = ln.Close()
	endWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/health/ready")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("the %s service exited while starting: %v", name, p.err)
		case <-ctx.Done():
			_ = p.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.Stop()
			return nil, errors.New("the " + name + " service did not become ready within 30s")
		}
	}
}

// PID is the process id of the service.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop ends the service, SIGTERM and SIGKILL 20 s later, and returns how
// it exited: nil after a clean shutdown. It may be called again.
func (p *Process) Stop() error {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p.err
}
