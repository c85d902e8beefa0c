// Package discovery is the client of the medisync discovery service: it
// registers an instance and keeps its lease alive with every configured
// discovery server, reads the registry from whichever server answers, follows
// a service through blocking queries, and offers that as a go-kit
// sd.Instancer and as an http.RoundTripper resolving service names.
package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/shared/requestid"
	"github.com/medisync/medisync/shared/server"
)

// Instance statuses.
const (
	StatusUp           = "UP"
	StatusDown         = "DOWN"
	StatusOutOfService = "OUT_OF_SERVICE"
)

// IndexHeader carries the registry index of a response.
const IndexHeader = "X-Registry-Index"

// DefaultWatchWait is how long one blocking query waits for a change.
const DefaultWatchWait = 30 * time.Second

// ErrUnknownInstance is returned when a server does not know the instance
// (a 404 to a heartbeat or status change): the registrar registers again.
var ErrUnknownInstance = errors.New("instance not registered")

// ErrNoServers is returned when the client has no discovery URL.
var ErrNoServers = errors.New("no discovery server configured")

// Instance is one registered instance as the registry shows it.
type Instance struct {
	ID             string            `json:"id"`
	Address        string            `json:"address"`
	Port           int               `json:"port"`
	Status         string            `json:"status"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	TTLSeconds     int               `json:"ttlSeconds,omitempty"`
	RegisteredAt   time.Time         `json:"registeredAt,omitempty"`
	LastHeartbeat  time.Time         `json:"lastHeartbeat"`
	LeaseExpiresAt time.Time         `json:"leaseExpiresAt"`
}

// HostPort is the "host:port" others dial to reach the instance.
func (i Instance) HostPort() string {
	return net.JoinHostPort(i.Address, strconv.Itoa(i.Port))
}

// ServiceView is one service's instances at a registry index.
type ServiceView struct {
	Service   string     `json:"service"`
	Index     uint64     `json:"index"`
	Instances []Instance `json:"instances"`
	// Source is the discovery URL that answered; not part of the wire format.
	Source string `json:"-"`
	// Run names the answering server's run (its start time, the
	// X-Registry-Started header) and Uptime is how long it had been up
	// (X-Registry-Uptime); Run is "" from a server that sends neither.
	Run    string        `json:"-"`
	Uptime time.Duration `json:"-"`
}

// Headers naming the server's run, and its uptime in milliseconds.
const (
	StartedHeader = "X-Registry-Started"
	UptimeHeader  = "X-Registry-Uptime"
)

// setRun reads the run headers of an answer into v.
func (v *ServiceView) setRun(h http.Header) {
	ms, err := strconv.ParseInt(h.Get(UptimeHeader), 10, 64)
	if run := h.Get(StartedHeader); run != "" && err == nil && ms >= 0 {
		v.Run, v.Uptime = run, time.Duration(ms)*time.Millisecond
	}
}

// Up returns the instances whose status is UP.
func (v ServiceView) Up() []Instance {
	return FilterUp(v.Instances)
}

// FilterUp returns the UP instances of in, in order.
func FilterUp(in []Instance) []Instance {
	out := make([]Instance, 0, len(in))
	for _, i := range in {
		if i.Status == StatusUp {
			out = append(out, i)
		}
	}
	return out
}

// RegistryView is every service at a registry index.
type RegistryView struct {
	Index    uint64        `json:"index"`
	Services []ServiceView `json:"services"`
	Source   string        `json:"-"`
}

// StatusError is a non-2xx answer from a discovery server.
type StatusError struct {
	URL    string
	Code   int
	Detail string
	// Fields are the problem's field errors, "field: message", so that a
	// refusal logged says what to change.
	Fields []string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("discovery %s: %d %s", e.URL, e.Code, http.StatusText(e.Code))
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if len(e.Fields) > 0 {
		msg += " (" + strings.Join(e.Fields, "; ") + ")"
	}
	return msg
}

// Option tunes a Client.
type Option func(*Client)

// WithWatchWait sets how long each blocking query waits (default 30 s).
func WithWatchWait(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.watchWait = d
		}
	}
}

// WithRetry sets the first and the longest pause between attempts after a
// failure (defaults 250 ms and 5 s).
func WithRetry(first, longest time.Duration) Option {
	return func(c *Client) {
		if first > 0 {
			c.retryMin = first
		}
		if longest >= c.retryMin {
			c.retryMax = longest
		}
	}
}

// Client talks to one or more discovery servers. Writes go to each server
// separately (see Registrar); reads go to any server, preferring the last
// one that answered.
type Client struct {
	urls      []string
	token     string
	hc        *http.Client
	watchHC   *http.Client
	logger    log.Logger
	watchWait time.Duration
	retryMin  time.Duration
	retryMax  time.Duration

	preferred atomic.Int64
	// authenticated names the services whose unauthenticated instances
	// are ignored (WithAuthenticated).
	authenticated map[string]bool

	mu       sync.Mutex
	watchers map[string]*Instancer
	closed   bool
}

// NewClient returns a client for the discovery servers at urls (for example
// http://127.0.0.1:8761). token is the write token ("" when the servers need
// none). httpClient serves writes and plain reads; nil means a pooled client
// with a 5 s timeout. Blocking queries use a client of their own whose
// deadline allows for the wait.
func NewClient(urls []string, token string, httpClient *http.Client, logger log.Logger, opts ...Option) *Client {
	if httpClient == nil {
		httpClient = server.NewHTTPClient(5 * time.Second)
	}
	if logger == nil {
		logger = log.NewNopLogger()
	}
	clean := make([]string, 0, len(urls))
	for _, u := range urls {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			clean = append(clean, u)
		}
	}
	// A blocking query may legitimately wait longer than any response-header
	// timeout of an ordinary transport, so it gets a transport without one;
	// each query's context carries its own deadline instead.
	wt := server.NewTransport()
	wt.ResponseHeaderTimeout = 0
	c := &Client{
		urls:      clean,
		token:     token,
		hc:        httpClient,
		watchHC:   &http.Client{Transport: requestid.Transport{Base: wt}},
		logger:    logger,
		watchWait: DefaultWatchWait,
		retryMin:  250 * time.Millisecond,
		retryMax:  5 * time.Second,
		watchers:  map[string]*Instancer{},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// URLs returns the discovery server URLs.
func (c *Client) URLs() []string { return append([]string(nil), c.urls...) }

// Close stops the watches started for Transport. Instancers returned by
// Instancer are stopped by their owners.
func (c *Client) Close() {
	c.mu.Lock()
	ws := c.watchers
	c.watchers = map[string]*Instancer{}
	c.closed = true
	c.mu.Unlock()
	for _, w := range ws {
		w.Stop()
	}
}

func instancePath(service, id string) string {
	return "/api/v1/registry/" + url.PathEscape(service) + "/" + url.PathEscape(id)
}

type registerBody struct {
	Address    string            `json:"address"`
	Port       int               `json:"port"`
	TTLSeconds int               `json:"ttlSeconds,omitempty"`
	Status     string            `json:"status,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// RegisterAt registers (or replaces) the instance with the server at base.
func (c *Client) RegisterAt(ctx context.Context, base string, r Registration, status string) error {
	body := registerBody{Address: r.Address, Port: r.Port, Status: status, Metadata: r.Metadata}
	if r.TTL > 0 {
		body.TTLSeconds = ttlSeconds(r.TTL)
	}
	return c.write(ctx, http.MethodPut, base, instancePath(r.Service, r.InstanceID), body)
}

// HeartbeatAt renews the lease at base; ErrUnknownInstance when the server
// does not know the instance.
func (c *Client) HeartbeatAt(ctx context.Context, base, service, id string) error {
	return c.write(ctx, http.MethodPut, base, instancePath(service, id)+"/heartbeat", nil)
}

// SetStatusAt changes the instance's status at base.
func (c *Client) SetStatusAt(ctx context.Context, base, service, id, status string) error {
	return c.write(ctx, http.MethodPut, base, instancePath(service, id)+"/status", map[string]string{"status": status})
}

// DeregisterAt removes the instance at base; an unknown instance is no error.
func (c *Client) DeregisterAt(ctx context.Context, base, service, id string) error {
	err := c.write(ctx, http.MethodDelete, base, instancePath(service, id), nil)
	if errors.Is(err, ErrUnknownInstance) {
		return nil
	}
	return err
}

// Register registers the instance with every server once (no heartbeats;
// use a Registrar for a lease kept alive). It fails only if every server
// fails.
func (c *Client) Register(ctx context.Context, r Registration) error {
	return c.all(ctx, func(ctx context.Context, base string) error { return c.RegisterAt(ctx, base, r, StatusUp) })
}

// Deregister removes the instance from every server.
func (c *Client) Deregister(ctx context.Context, service, id string) error {
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, base := range c.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.DeregisterAt(ctx, base, service, id); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// all runs f against every server concurrently; it fails only if all fail.
func (c *Client) all(ctx context.Context, f func(ctx context.Context, base string) error) error {
	if len(c.urls) == 0 {
		return ErrNoServers
	}
	errs := make([]error, len(c.urls))
	var wg sync.WaitGroup
	for i, base := range c.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(ctx, base)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	return errors.Join(errs...)
}

func (c *Client) write(ctx context.Context, method, base, path string, body any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode discovery request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return fmt.Errorf("discovery request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("discovery %s %s: %w", method, base, err)
	}
	defer drain(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	serr := statusError(base, resp)
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrUnknownInstance, serr)
	}
	return serr
}

func statusError(base string, resp *http.Response) *StatusError {
	var p struct {
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 8<<10)).Decode(&p)
	e := &StatusError{URL: base, Code: resp.StatusCode, Detail: p.Detail}
	for _, f := range p.Errors {
		e.Fields = append(e.Fields, f.Field+": "+f.Message)
	}
	return e
}

// drain reads what is left of a body so the connection can be reused.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// Lookup returns a service's instances of every status, from any server.
func (c *Client) Lookup(ctx context.Context, service string) (ServiceView, error) {
	var v ServiceView
	src, h, err := c.read(ctx, c.hc, "/api/v1/registry/"+url.PathEscape(service), nil, "", &v)
	v.Source = src
	v.setRun(h)
	return v, err
}

// Instances returns the UP instances of service, from any server.
func (c *Client) Instances(ctx context.Context, service string) ([]Instance, error) {
	v, err := c.Lookup(ctx, service)
	if err != nil {
		return nil, err
	}
	return c.usable(service, v), nil
}

// Services returns every service, from any server.
func (c *Client) Services(ctx context.Context) (RegistryView, error) {
	var v RegistryView
	src, _, err := c.read(ctx, c.hc, "/api/v1/registry", nil, "", &v)
	v.Source = src
	return v, err
}

// Watch is one blocking query: it returns once service's index passes index
// (an index from Lookup or an earlier Watch), or after wait (0 means the
// client's default) with the view unchanged. A server whose own index is
// below index (it restarted) answers at once. When the preferred server
// fails, another one is asked without blocking, since its indexes are its
// own; the view's Source tells which server answered.
func (c *Client) Watch(ctx context.Context, service string, index uint64, wait time.Duration) (ServiceView, error) {
	return c.watch(ctx, service, index, wait, "")
}

// watch is Watch for an index that came from the server at source ("" for
// any): another server is asked without blocking, since the index means
// nothing to it.
func (c *Client) watch(ctx context.Context, service string, index uint64, wait time.Duration, source string) (ServiceView, error) {
	if wait <= 0 {
		wait = c.watchWait
	}
	q := url.Values{}
	q.Set("index", strconv.FormatUint(index, 10))
	q.Set("wait", wait.String())
	ctx, cancel := context.WithTimeout(ctx, wait+wait/4+10*time.Second)
	defer cancel()
	var v ServiceView
	src, h, err := c.read(ctx, c.watchHC, "/api/v1/registry/"+url.PathEscape(service), q, source, &v)
	v.Source = src
	v.setRun(h)
	return v, err
}

// read GETs path from the preferred server, then the others in turn. A
// blocking query parameter set is dropped for servers other than the first,
// and for the first too unless it is qFor (when qFor is set). It returns
// the server that answered and the answer's headers.
func (c *Client) read(ctx context.Context, hc *http.Client, path string, q url.Values, qFor string, out any) (string, http.Header, error) {
	n := len(c.urls)
	if n == 0 {
		return "", nil, ErrNoServers
	}
	start := int(c.preferred.Load()) % n
	var errs []error
	for k := 0; k < n; k++ {
		i := (start + k) % n
		base := c.urls[i]
		u := base + path
		if k == 0 && len(q) > 0 && (qFor == "" || qFor == base) {
			u += "?" + q.Encode()
		}
		h, err := c.getJSON(ctx, hc, base, u, out)
		if err == nil {
			c.preferred.Store(int64(i))
			return base, h, nil
		}
		errs = append(errs, err)
		// The next read starts with the next server: one that hangs would
		// otherwise use up every caller's deadline before any other server
		// is asked. A caller giving up says nothing about the server.
		if !errors.Is(ctx.Err(), context.Canceled) {
			c.preferred.CompareAndSwap(int64(i), int64((i+1)%n))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return "", nil, errors.Join(errs...)
}

func (c *Client) getJSON(ctx context.Context, hc *http.Client, base, u string, out any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery GET %s: %w", base, err)
	}
	defer drain(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(base, resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("discovery GET %s: decode: %w", base, err)
	}
	return resp.Header, nil
}
