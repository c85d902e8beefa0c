package discovery

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sync/atomic"
)

// ErrNoInstance is returned by the resolving transport when a service has
// no UP instance.
var ErrNoInstance = errors.New("no UP instance")

// serviceHost matches a bare service name used as a URL host (http://auth/).
var serviceHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Transport returns a RoundTripper that sends a request whose URL host is a
// bare service name without a port, such as http://auth/.well-known/jwks.json,
// to a live UP instance of that service, taking turns among instances. Other
// requests (hosts with a dot or a port, "localhost", IP addresses) pass
// through unchanged. The service is followed through blocking queries from
// its first use until Client.Close. base nil means a pooled transport.
func (c *Client) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = c.hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
	}
	return &resolvingTransport{c: c, base: base}
}

type resolvingTransport struct {
	c    *Client
	base http.RoundTripper
	next atomic.Uint64
}

func isServiceHost(u string, port string) bool {
	return port == "" && u != "localhost" && serviceHost.MatchString(u) && net.ParseIP(u) == nil
}

func (t *resolvingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Hostname()
	if !isServiceHost(host, req.URL.Port()) {
		return t.base.RoundTrip(req)
	}
	w, err := t.c.watcher(host)
	if err != nil {
		return nil, err
	}
	// The first call to a service waits for discovery's first answer no
	// longer than the request may, however long discovery takes.
	select {
	case <-w.answered:
	case <-req.Context().Done():
		return nil, fmt.Errorf("resolve service %q: discovery has not answered yet: %w", host, req.Context().Err())
	}
	up := w.Instances()
	if len(up) == 0 {
		if ev := w.State(); ev.Err != nil {
			return nil, fmt.Errorf("resolve service %q: %w", host, ev.Err)
		}
		return nil, fmt.Errorf("resolve service %q: %w", host, ErrNoInstance)
	}
	// A request without a body can be tried again on another instance when
	// the first one cannot be reached at all.
	tries := 1
	if (req.Body == nil || req.Body == http.NoBody) && len(up) > 1 {
		tries = 2
	}
	// The second try takes the instance after the first one, whatever
	// other requests did to the shared counter meanwhile.
	start := t.next.Add(1) - 1
	var lastErr error
	for k := 0; k < tries; k++ {
		inst := up[int((start+uint64(k))%uint64(len(up)))]
		out := req.Clone(req.Context())
		out.URL.Host = inst.HostPort()
		out.Host = inst.HostPort()
		resp, err := t.base.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			break
		}
	}
	return nil, lastErr
}

// watcher returns the shared Instancer following service, starting it on
// first use; its first lookup runs in the background.
func (c *Client) watcher(service string) (*Instancer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("discovery client closed")
	}
	w, ok := c.watchers[service]
	if !ok {
		w = c.startInstancer(service)
		c.watchers[service] = w
	}
	return w, nil
}
