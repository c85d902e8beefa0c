// Command discovery-load measures a running discovery server over HTTP: it
// registers many instances (half through the registry API, half through the
// Eureka API), renews them as fast as it can for a bounded time through both
// APIs side by side, times one service's listing and the full registry
// fetch of both APIs, reads the server's resident memory, and times how
// long a change takes to reach a blocked reader. It only talks to the URL
// it is given, which should be on the loopback interface.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medisync/medisync/shared/loadkit"
)

type config struct {
	url         string
	token       string
	instances   int
	services    int
	concurrency int
	duration    time.Duration
	rounds      int
	listSamples int
	fetches     int
	watchRounds int
	pid         int
}

func main() {
	var c config
	fs := flag.NewFlagSet("discovery-load", flag.ExitOnError)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:18761", "discovery server to measure (loopback only)")
	fs.StringVar(&c.token, "token", os.Getenv("MEDISYNC_DISCOVERY_TOKEN"), "write token")
	fs.IntVar(&c.instances, "instances", 10000, "instances to register")
	fs.IntVar(&c.services, "services", 100, "services to spread them over")
	fs.IntVar(&c.concurrency, "concurrency", 32, "concurrent connections for registration and heartbeats")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to renew at full speed through each API")
	fs.IntVar(&c.rounds, "rounds", 5, "alternations of the two APIs' renewals within the duration, so that both meet the same background load")
	fs.IntVar(&c.listSamples, "list-samples", 5000, "one-service listings to time")
	fs.IntVar(&c.fetches, "fetches", 40, "full registry fetches to time through each API")
	fs.IntVar(&c.watchRounds, "watch-rounds", 200, "changes to time until a blocked reader sees them")
	fs.IntVar(&c.pid, "pid", 0, "server process whose resident memory to read from /proc (0: skip)")
	_ = fs.Parse(os.Args[1:])
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "discovery-load:", err)
		os.Exit(1)
	}
}

func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address; this tool only loads servers on this machine", host)
}

type loader struct {
	c  config
	hc *http.Client
}

func run(c config, out io.Writer) error {
	if err := loopbackOnly(c.url); err != nil {
		return err
	}
	c.url = strings.TrimRight(c.url, "/")
	tr := &http.Transport{
		MaxIdleConns: c.concurrency * 2, MaxIdleConnsPerHost: c.concurrency * 2, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}
	l := &loader{c: c, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	defer tr.CloseIdleConnections()

	fmt.Fprintf(out, "discovery load: %s, %d instances over %d services, %d connections\n",
		c.url, c.instances, c.services, c.concurrency)
	rssBefore := rss(c.pid)

	// 1. Registration: even instances through our API, odd ones through
	// Eureka's, so that each API renews instances of both kinds.
	start := time.Now()
	n, errs := l.parallel(c.instances, func(i int) error {
		if i%2 == 1 {
			return l.registerEureka(i, 8080)
		}
		return l.register(i, 8080)
	})
	took := time.Since(start)
	if errs > 0 {
		return fmt.Errorf("%d of %d registrations failed", errs, c.instances)
	}
	fmt.Fprintf(out, "registered        %d instances in %s (%.0f/s), half through each API\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())

	// 2. Renewals at full speed through both APIs, alternating.
	own, eur, err := l.renewals()
	if err != nil {
		return err
	}
	rate := own.print(out, "heartbeats", c.pid)
	eurekaRate := eur.print(out, "eureka renewals", c.pid)
	ratio := eurekaRate / rate
	fmt.Fprintf(out, "                  Eureka/own renewal rate %.2f", ratio)
	if c.pid > 0 && own.serverCPU > 0 && eur.serverCPU > 0 {
		fmt.Fprintf(out, " (by server CPU per request %.2f)", float64(own.perRequest())/float64(eur.perRequest()))
	}
	fmt.Fprintln(out)

	// 3. One service's listing with every instance registered.
	list, size, listBytes, err := l.listings()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "list one service  %d instances, %d bytes: p50 %s p99 %s max %s (%d samples)\n",
		size, listBytes, pct(list, 50), pct(list, 99), slices.Max(list), len(list))
	if share, err := l.serverShare("/api/v1/registry/{service}", http.MethodGet); err == nil {
		fmt.Fprintf(out, "                  server-side: %.2f%% within 0.5 ms, %.2f%% within 1 ms\n",
			100*share["0.0005"], 100*share["0.001"])
	}

	// 4. Memory, before the full fetches, whose encodings the server
	// keeps (Eureka's, until the next change) or builds per request.
	rssAfter := rss(c.pid)
	if c.pid > 0 {
		fmt.Fprintf(out, "resident memory   %s before, %s with %d instances (peak %s)\n",
			mb(rssBefore.rss), mb(rssAfter.rss), c.instances, mb(rssAfter.hwm))
	}

	// 5. The full registry through both APIs.
	ownFetch, eurFetch, err := l.fullFetches()
	if err != nil {
		return err
	}
	ownFetch.print(out, "full fetch (ours)")
	eurFetch.print(out, "full fetch (Eureka)")

	if c.pid > 0 {
		m := rss(c.pid)
		fmt.Fprintf(out, "                  resident memory after the full fetches %s (peak %s)\n", mb(m.rss), mb(m.hwm))
	}

	// 6. Change to blocked reader.
	seen, err := l.watchLatency()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "change seen       by a blocked reader: p50 %s p99 %s max %s (%d changes)\n",
		pct(seen, 50), pct(seen, 99), slices.Max(seen), len(seen))

	// 7. Clean up, so the server is left as found.
	_, _ = l.parallel(c.instances, func(i int) error { return l.deregister(i) })

	fmt.Fprintln(out, "targets:")
	check(out, "heartbeats/s >= 20000", rate >= 20000)
	check(out, "Eureka renewals/s >= 0.8 x heartbeats/s", ratio >= 0.8)
	check(out, "list p99 < 1ms", pct(list, 99) < time.Millisecond)
	if c.pid > 0 {
		check(out, "resident memory < 100 MB", rssAfter.rss > 0 && rssAfter.rss < 100<<20)
	}
	check(out, "change seen < 100ms (p99)", pct(seen, 99) < 100*time.Millisecond)
	return nil
}

func check(out io.Writer, what string, ok bool) {
	mark := "PASS"
	if !ok {
		mark = "MISS"
	}
	fmt.Fprintf(out, "  %s  %s\n", mark, what)
}

func (l *loader) name(i int) (service, id string) {
	return fmt.Sprintf("load-%d", i%l.c.services), fmt.Sprintf("inst-%d", i)
}

func (l *loader) do(method, path string, body []byte) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, l.c.url+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if l.c.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.c.token)
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (l *loader) register(i, port int) error {
	svc, id := l.name(i)
	body := fmt.Sprintf(`{"address":"10.%d.%d.%d","port":%d,"ttlSeconds":300,"metadata":{"version":"1.4.2","zone":"z%d"}}`,
		i>>16&255, i>>8&255, i&255, port, i%3)
	code, err := l.do(http.MethodPut, "/api/v1/registry/"+svc+"/"+id, []byte(body))
	if err != nil {
		return err
	}
	if code != http.StatusCreated && code != http.StatusOK {
		return fmt.Errorf("register %s/%s: status %d", svc, id, code)
	}
	return nil
}

// lastDirty is the lastDirtyTimestamp of the instance documents the load
// registers through Eureka, which their renewals carry back.
const lastDirty = 1767225600000

// registerEureka registers instance i through the Eureka API, with the
// document a Spring Cloud client sends (JSON).
func (l *loader) registerEureka(i, port int) error {
	svc, id := l.name(i)
	app := strings.ToUpper(svc)
	addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	body := fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":%q,"app":%q,"ipAddr":%q,"status":"UP",`+
		`"port":{"$":%d,"@enabled":"true"},"securePort":{"$":443,"@enabled":"false"},"vipAddress":%q,`+
		`"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},`+
		`"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":300},"lastDirtyTimestamp":"%d",`+
		`"metadata":{"version":"1.4.2","zone":"z%d"}}}`, id, addr, app, addr, port, svc, lastDirty, i%3)
	code, err := l.do(http.MethodPost, "/eureka/apps/"+app, []byte(body))
	if err != nil {
		return err
	}
	if code != http.StatusNoContent {
		return fmt.Errorf("register %s/%s through Eureka: status %d", app, id, code)
	}
	return nil
}

func (l *loader) deregister(i int) error {
	svc, id := l.name(i)
	_, err := l.do(http.MethodDelete, "/api/v1/registry/"+svc+"/"+id, nil)
	return err
}

// parallel runs f for 0..n-1 on the configured number of workers.
func (l *loader) parallel(n int, f func(i int) error) (done int, errs int) {
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < l.c.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return n, int(failed.Load())
}

// phase is what one kind of renewal achieved over its share of the rounds.
type phase struct {
	count, errs int64
	elapsed     time.Duration
	lat         []time.Duration
	serverCPU   time.Duration
	selfCPU     time.Duration
}

func (p *phase) add(q phase) {
	p.count += q.count
	p.errs += q.errs
	p.elapsed += q.elapsed
	p.lat = append(p.lat, q.lat...)
	p.serverCPU += q.serverCPU
	p.selfCPU += q.selfCPU
}

func (p phase) rate() float64 { return float64(p.count) / p.elapsed.Seconds() }

func (p phase) perRequest() time.Duration {
	if p.count == 0 {
		return 0
	}
	return p.serverCPU / time.Duration(p.count)
}

// print writes the phase's line and returns its rate.
func (p phase) print(out io.Writer, what string, pid int) float64 {
	fmt.Fprintf(out, "%-17s %d in %s = %.0f/s (errors %d; latency p50 %s p99 %s)\n",
		what, p.count, p.elapsed.Round(time.Millisecond), p.rate(), p.errs, pct(p.lat, 50), pct(p.lat, 99))
	if pid > 0 && p.count > 0 {
		per := p.perRequest()
		fmt.Fprintf(out, "                  server CPU %s (%s per request, about %.0f/s per core), load generator CPU %s\n",
			p.serverCPU.Round(10*time.Millisecond), per, float64(time.Second)/float64(per), p.selfCPU.Round(10*time.Millisecond))
	}
	return p.rate()
}

// renewals renews every instance through our heartbeat and through Eureka's
// renewal, as Spring's client sends it (?status=UP&lastDirtyTimestamp=),
// alternating between the two for the configured rounds so that both meet
// the same background load.
func (l *loader) renewals() (own, eureka phase, err error) {
	hb := make([]string, l.c.instances)
	er := make([]string, l.c.instances)
	for i := range hb {
		svc, id := l.name(i)
		hb[i] = "/api/v1/registry/" + svc + "/" + id + "/heartbeat"
		er[i] = "/eureka/apps/" + strings.ToUpper(svc) + "/" + id + "?status=UP&lastDirtyTimestamp=" + strconv.FormatInt(lastDirty, 10)
	}
	rounds := max(l.c.rounds, 1)
	slice := l.c.duration / time.Duration(rounds)
	for range rounds {
		p, err := l.renew(hb, "Bearer "+l.c.token, slice)
		if err != nil {
			return own, eureka, err
		}
		own.add(p)
		// Eureka clients carry the token as the password of the service URL.
		p, err = l.renew(er, "Basic "+base64.StdEncoding.EncodeToString([]byte("load:"+l.c.token)), slice)
		if err != nil {
			return own, eureka, err
		}
		eureka.add(p)
	}
	return own, eureka, nil
}

// renew sends PUTs to paths, round robin, over the configured number of
// raw keep-alive connections for d.
func (l *loader) renew(paths []string, auth string, d time.Duration) (phase, error) {
	if l.c.token == "" {
		auth = ""
	}
	conns := make([]*rawConn, l.c.concurrency)
	for w := range conns {
		rc, err := dialRaw(l.c.url, auth)
		if err != nil {
			return phase{}, err
		}
		defer func() { _ = rc.conn.Close() }()
		conns[w] = rc
	}
	serverCPU, selfCPU := cpuTime(l.c.pid), cpuTime(os.Getpid())
	var count, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	begin := time.Now()
	deadline := begin.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < l.c.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rc := conns[w]
			var mine []time.Duration
			for i := w; time.Now().Before(deadline); i += l.c.concurrency {
				t := time.Now()
				code, err := rc.do(http.MethodPut, paths[i%len(paths)])
				// Every 16th request is timed, to keep the bookkeeping light.
				if i%16 == w%16 {
					mine = append(mine, time.Since(t))
				}
				if err != nil {
					errs.Add(1)
					// A broken connection is replaced; the loop is bounded by the deadline.
					_ = rc.conn.Close()
					if rc, err = dialRaw(l.c.url, auth); err != nil {
						return
					}
					conns[w] = rc
					continue
				}
				if code != http.StatusOK {
					errs.Add(1)
					continue
				}
				count.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	p := phase{count: count.Load(), errs: errs.Load(), elapsed: time.Since(begin), lat: lat}
	if l.c.pid > 0 {
		p.serverCPU = cpuTime(l.c.pid) - serverCPU
		p.selfCPU = cpuTime(os.Getpid()) - selfCPU
	}
	return p, nil
}

// fetch is the timing of one full registry listing.
type fetch struct {
	lat       []time.Duration
	bytes     int
	instances int
}

func (f fetch) print(out io.Writer, what string) {
	fmt.Fprintf(out, "%-19s %d instances, %.1f MB: p50 %s p99 %s max %s (%d fetches)\n",
		what, f.instances, float64(f.bytes)/(1<<20), pct(f.lat, 50), pct(f.lat, 99), slices.Max(f.lat), len(f.lat))
}

// fullFetches times the whole registry through our API and through
// Eureka's (JSON, uncompressed), alternating, each read to its end over a
// keep-alive connection; the first answer of each is decoded and counted.
func (l *loader) fullFetches() (own, eureka fetch, err error) {
	get := func(path, accept string) ([]byte, time.Duration, error) {
		req, err := http.NewRequest(http.MethodGet, l.c.url+path, nil)
		if err != nil {
			return nil, 0, err
		}
		req.Header.Set("Accept", accept)
		t := time.Now()
		resp, err := l.hc.Do(req)
		if err != nil {
			return nil, 0, err
		}
		b, err := io.ReadAll(resp.Body)
		d := time.Since(t)
		_ = resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		return b, d, err
	}
	for i := range max(l.c.fetches, 1) {
		b, d, err := get("/api/v1/registry", "application/json")
		if err != nil {
			return own, eureka, err
		}
		own.lat = append(own.lat, d)
		if i == 0 {
			var v struct {
				Services []struct{ Instances []json.RawMessage }
			}
			if err := json.Unmarshal(b, &v); err != nil {
				return own, eureka, fmt.Errorf("registry listing: %w", err)
			}
			for _, s := range v.Services {
				own.instances += len(s.Instances)
			}
			own.bytes = len(b)
		}
		b, d, err = get("/eureka/apps", "application/json")
		if err != nil {
			return own, eureka, err
		}
		eureka.lat = append(eureka.lat, d)
		if i == 0 {
			var v struct {
				Applications struct {
					Application []struct{ Instance []json.RawMessage }
				}
			}
			if err := json.Unmarshal(b, &v); err != nil {
				return own, eureka, fmt.Errorf("Eureka listing: %w", err)
			}
			for _, a := range v.Applications.Application {
				eureka.instances += len(a.Instance)
			}
			eureka.bytes = len(b)
		}
	}
	if own.instances < l.c.instances || eureka.instances < l.c.instances {
		return own, eureka, fmt.Errorf("full listings hold %d (ours) and %d (Eureka) instances, want %d", own.instances, eureka.instances, l.c.instances)
	}
	return own, eureka, nil
}

// listings checks one listing with net/http and encoding/json, then times
// many over a raw keep-alive connection, whose client side costs little.
func (l *loader) listings() ([]time.Duration, int, int, error) {
	svc, _ := l.name(0)
	path := "/api/v1/registry/" + svc
	resp, err := l.hc.Get(l.c.url + path)
	if err != nil {
		return nil, 0, 0, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, 0, 0, fmt.Errorf("list %s: status %d: %v", svc, resp.StatusCode, err)
	}
	var v struct{ Instances []json.RawMessage }
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, 0, 0, fmt.Errorf("list %s: %w", svc, err)
	}

	rc, err := dialRaw(l.c.url, "")
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() { _ = rc.conn.Close() }()
	lat := make([]time.Duration, 0, l.c.listSamples)
	for i := 0; i < l.c.listSamples; i++ {
		t := time.Now()
		code, err := rc.do(http.MethodGet, path)
		d := time.Since(t)
		if err != nil || code != http.StatusOK {
			return nil, 0, 0, fmt.Errorf("list %s: status %d: %v", svc, code, err)
		}
		lat = append(lat, d)
	}
	return lat, len(v.Instances), len(b), nil
}

// serverShare reads the server's own latency histogram for one route and
// method and returns the share of requests served within each bound; it
// shows the server's part apart from the client's and the scheduler's.
func (l *loader) serverShare(route, method string) (map[string]float64, error) {
	resp, err := l.hc.Get(l.c.url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	counts := map[string]float64{}
	var total float64
	want := fmt.Sprintf(`medisync_http_request_duration_seconds_bucket{method="%s",route="%s",le="`, method, route)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, want)
		if !ok {
			continue
		}
		le, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		n, _ := strconv.ParseFloat(val, 64)
		if le == "+Inf" {
			total = n
			continue
		}
		counts[le] = n
	}
	if total == 0 {
		return nil, errors.New("no latency histogram for " + route)
	}
	for k, v := range counts {
		counts[k] = v / total
	}
	return counts, sc.Err()
}

// watchLatency times, for each round, from just before a change is sent
// until a reader blocked on the service receives the answer.
func (l *loader) watchLatency() ([]time.Duration, error) {
	const svc, id = "load-watch", "watched"
	regBody := func(port int) []byte {
		return []byte(fmt.Sprintf(`{"address":"127.0.0.1","port":%d,"ttlSeconds":300}`, port))
	}
	if code, err := l.do(http.MethodPut, "/api/v1/registry/"+svc+"/"+id, regBody(1)); err != nil || code >= 300 {
		return nil, fmt.Errorf("register watched instance: %d %v", code, err)
	}
	defer func() { _, _ = l.do(http.MethodDelete, "/api/v1/registry/"+svc+"/"+id, nil) }()
	index, err := l.index(svc)
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, 0, l.c.watchRounds)
	for r := 0; r < l.c.watchRounds; r++ {
		type answer struct {
			index uint64
			at    time.Time
			err   error
		}
		got := make(chan answer, 1)
		ready := make(chan struct{})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			u := fmt.Sprintf("%s/api/v1/registry/%s?index=%d&wait=20s", l.c.url, svc, index)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			close(ready)
			resp, err := l.hc.Do(req)
			if err != nil {
				got <- answer{err: err}
				return
			}
			at := time.Now()
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			n, _ := strconv.ParseUint(resp.Header.Get("X-Registry-Index"), 10, 64)
			got <- answer{index: n, at: at}
		}()
		<-ready
		// Give the reader time to be parked on the server before changing.
		time.Sleep(5 * time.Millisecond)
		sent := time.Now()
		if code, err := l.do(http.MethodPut, "/api/v1/registry/"+svc+"/"+id, regBody(2+r%2)); err != nil || code >= 300 {
			return nil, fmt.Errorf("change watched instance: %d %v", code, err)
		}
		a := <-got
		if a.err != nil {
			return nil, a.err
		}
		if a.index <= index {
			return nil, errors.New("blocked reader answered without the change")
		}
		index = a.index
		d := a.at.Sub(sent)
		if d < 0 {
			d = 0
		}
		out = append(out, d)
	}
	return out, nil
}

func (l *loader) index(svc string) (uint64, error) {
	resp, err := l.hc.Get(l.c.url + "/api/v1/registry/" + svc)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return strconv.ParseUint(resp.Header.Get("X-Registry-Index"), 10, 64)
}

// pct is the percentile p (in percent) of d, to the microsecond.
func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return loadkit.Percentile(s, float64(p)/100).Round(time.Microsecond)
}

type mem struct{ rss, hwm int64 }

// rss reads VmRSS and VmHWM (peak) of pid from /proc, in bytes.
func rss(pid int) mem {
	var m mem
	if pid <= 0 {
		return m
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			m.rss = n << 10
		case "VmHWM":
			m.hwm = n << 10
		}
	}
	return m
}

// cpuTime reads the user+system CPU time of pid from /proc/<pid>/stat.
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields count from after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// rawConn sends bodiless requests over one keep-alive connection with
// hand-written HTTP/1.1, so that the load generator spends far less CPU per
// request than net/http's client would and leaves the cores to the server.
type rawConn struct {
	conn net.Conn
	r    *bufio.Reader
	host string
	auth string
	buf  []byte
}

// dialRaw connects to base; auth is the Authorization header's value, or
// empty for none.
func dialRaw(base, auth string) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return nil, err
	}
	rc := &rawConn{conn: conn, r: bufio.NewReaderSize(conn, 16<<10), host: u.Host}
	if auth != "" {
		rc.auth = "Authorization: " + auth + "\r\n"
	}
	return rc, nil
}

// do sends one request and returns the status code, the body discarded.
func (c *rawConn) do(method, path string) (int, error) {
	c.buf = append(c.buf[:0], method...)
	c.buf = append(c.buf, ' ')
	c.buf = append(c.buf, path...)
	c.buf = append(c.buf, " HTTP/1.1\r\nHost: "...)
	c.buf = append(c.buf, c.host...)
	c.buf = append(c.buf, "\r\n"...)
	c.buf = append(c.buf, c.auth...)
	c.buf = append(c.buf, "Content-Length: 0\r\n\r\n"...)
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(c.buf); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	if _, err := c.r.Discard(length); err != nil {
		return 0, err
	}
	return code, nil
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }
