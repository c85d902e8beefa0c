// Package eureka serves Netflix Eureka's REST API over the discovery
// registry, so that Spring Cloud, go-kit (fargo) and Prometheus Eureka
// clients register, renew and read unchanged.
package eureka

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gorilla/mux"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/discovery/transport"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/problem"
)

// Prefixes the API is served under: Spring Cloud's, and Netflix's own.
var Prefixes = []string{"/eureka", "/eureka/v2"}

// RouteRenew is the renewal's (PUT) route template under the first prefix;
// the renewals are the bulk of the traffic and logged at debug level only.
// The cancel (DELETE) shares it.
const RouteRenew = "/eureka/apps/{app}/{id}"

// maxDocBytes bounds an instance document once decompressed.
const maxDocBytes = 64 << 10

// maxURLBytes and maxNameBytes bound the document's strings the registry
// keeps, and maxDocStringBytes all of them with the data center's metadata:
// the registry holds one per instance, up to 50,000 of them, and a deleted
// instance's in the change log for minutes, so a document must not be able
// to hold much more than its metadata may. The total is a
// budget of its own, not Limits.MaxMetadataBytes, so that tighter metadata
// limits do not refuse the URLs Spring clients send.
const (
	maxURLBytes       = 2048
	maxNameBytes      = 255
	maxDocStringBytes = 8 << 10
)

// vipName is the form of each name of a (secure) VIP address: ASCII, so
// that lower-casing it here, EqualFold in /vips and Java's upper-casing
// (Locale.ROOT) in clients agree on which service it names; "recordſ"
// would otherwise pass for another name here and match "records" there.
// Dots and underscores are allowed beside what service names take, as
// VIPs set by hand often hold them.
var vipName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

const vipRule = "each comma-separated name must be ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"

// Options configure the API.
type Options struct {
	// Writers says who may write, as for the registry API.
	Writers transport.Writers
	// Limits are the registry's, for clamping a lease into range.
	Limits registry.Limits
	// Now tells the time (lastDirtyTimestamp of status changes, and the
	// warm-up's end).
	Now func() time.Time
	// ReadsFrom is when listings are first answered: before it, a server
	// just started, still being filled by its clients' next heartbeats,
	// answers them 403 (as Eureka's own server does while it warms up), so
	// that clients keep the registry they hold instead of taking a partial
	// one. The zero time answers at once.
	ReadsFrom time.Time
}

type api struct {
	svc   service.Service
	check func(*http.Request, string) (bool, *problem.Problem)
	o     Options

	mu     sync.Mutex
	cache  cached // the last full listing, by registry index
	deltas cached // the last delta, by registry index and expiry
}

// cached holds a listing's encodings for one registry index; a delta's also
// for one expiry (registry.Delta.Expires), since its changes age out of the
// log without the index moving.
type cached struct {
	index   uint64
	expires time.Time
	body    [2][2][]byte // [xml][gzip]
}

// encoded returns the listing that build renders for index and expires,
// encoded as the request asks, from c when it holds that encoding: clients
// poll it every 30 s, and rendering and encoding it is the cost (the delta
// is open to anyone, and may hold thousands of instances).
//
// The registry's version (index and expires) is read first and decides;
// the listing is only copied out of the registry to be encoded. build
// returns the version the listing is at, and an encoding is kept only when
// that is the version read first (a change may land between the two reads).
func (a *api) encoded(c *cached, index uint64, expires time.Time, r *http.Request, build func() (*Applications, uint64, time.Time, error)) ([]byte, bool, bool, error) {
	asXML, zipped := wantsXML(r), wantsGzip(r)
	x, z := 0, 0
	if asXML {
		x = 1
	}
	if zipped {
		z = 1
	}
	a.mu.Lock()
	if c.index != index || !c.expires.Equal(expires) {
		*c = cached{index: index, expires: expires}
	}
	body := c.body[x][z]
	a.mu.Unlock()
	if body != nil {
		return body, asXML, zipped, nil
	}
	apps, builtIndex, builtExpires, err := build()
	if err != nil {
		return nil, false, false, err
	}
	body, err = encode("applications", apps, asXML)
	if err != nil {
		return nil, false, false, fmt.Errorf("encode applications: %w", err)
	}
	if zipped {
		body = gz(body)
	}
	a.mu.Lock()
	if c.index == index && c.expires.Equal(expires) && builtIndex == index && builtExpires.Equal(expires) {
		c.body[x][z] = body
	}
	a.mu.Unlock()
	return body, asXML, zipped, nil
}

var errorRules = problem.Rules(
	problem.Rule{Target: registry.ErrNotFound, Status: http.StatusNotFound},
	problem.Rule{Target: registry.ErrFull, Status: http.StatusInsufficientStorage},
)

// Register adds the Eureka API under each of Prefixes to r.
func Register(r *mux.Router, svc service.Service, o Options) {
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &api{svc: svc, check: o.Writers.Checker(), o: o}
	for _, p := range Prefixes {
		r.Path(p+"/apps").Methods(http.MethodGet, http.MethodHead).HandlerFunc(a.warm(a.apps))
		// Spring's and Netflix's Java clients fetch the full registry at
		// "<serviceUrl>apps/"; every other path they call has no trailing
		// slash.
		r.Path(p+"/apps/").Methods(http.MethodGet, http.MethodHead).HandlerFunc(a.warm(a.apps))
		r.Path(p+"/apps/delta").Methods(http.MethodGet, http.MethodHead).HandlerFunc(a.warm(a.delta))
		r.Path(p + "/apps/{app}").Methods(http.MethodPost).HandlerFunc(a.guard(a.register))
		r.Path(p+"/apps/{app}").Methods(http.MethodGet, http.MethodHead).HandlerFunc(a.warm(a.app))
		r.Path(p + "/apps/{app}/{id}").Methods(http.MethodPut).HandlerFunc(bare(a.guard(a.renew)))
		r.Path(p + "/apps/{app}/{id}").Methods(http.MethodDelete).HandlerFunc(a.guard(a.cancel))
		r.Path(p+"/apps/{app}/{id}").Methods(http.MethodGet, http.MethodHead).HandlerFunc(a.instance)
		r.Path(p + "/apps/{app}/{id}/status").Methods(http.MethodPut).HandlerFunc(a.guard(a.setOverride))
		r.Path(p + "/apps/{app}/{id}/status").Methods(http.MethodDelete).HandlerFunc(a.guard(a.deleteOverride))
		r.Path(p + "/apps/{app}/{id}/metadata").Methods(http.MethodPut).HandlerFunc(a.guard(a.metadata))
		r.Path(p+"/instances/{id}").Methods(http.MethodGet, http.MethodHead).HandlerFunc(a.byID)
		r.Path(p+"/vips/{vip}").Methods(http.MethodGet, http.MethodHead).HandlerFunc(a.warm(a.vips(false)))
		r.Path(p+"/svips/{vip}").Methods(http.MethodGet, http.MethodHead).HandlerFunc(a.warm(a.vips(true)))
	}
}

type authKey struct{}

// warm answers a listing 403, with no body and a Retry-After, until
// o.ReadsFrom: Eureka clients keep their registry on any answer but 200.
func (a *api) warm(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if left := a.o.ReadsFrom.Sub(a.o.Now()); left > 0 {
			p := problem.New(http.StatusForbidden, "the registry has just started and is being filled by its clients' heartbeats")
			p.Headers = http.Header{"Retry-After": {strconv.Itoa(int(left.Seconds()) + 1)}}
			reply(w, asBare(r), p)
			return
		}
		next(w, r)
	}
}

// guard applies the write tokens of the registry API to the service the
// Eureka application names.
func (a *api) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ok, p := a.check(r, serviceOf(mux.Vars(r)["app"]))
		if p != nil {
			reply(w, r, p)
			return
		}
		if ok {
			r = r.WithContext(context.WithValue(r.Context(), authKey{}, true))
		}
		next(w, r)
	}
}

func authenticated(ctx context.Context) bool { ok, _ := ctx.Value(authKey{}).(bool); return ok }

// serviceOf maps a Eureka application name to the registry's service name:
// Eureka names are upper case, ours lower case, and matching ignores case.
func serviceOf(app string) string { return strings.ToLower(app) }

func fail(w http.ResponseWriter, r *http.Request, err error) {
	reply(w, r, problem.From(err, errorRules))
}

type bareKey struct{}

// bare marks a route whose error answers carry no body: the renewal, whose
// answer Spring's client decodes as an instance document whatever its
// status, and fails to decode a problem (application/problem+json is an
// application/*+json to it) instead of registering again.
func bare(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { next(w, asBare(r)) }
}

// asBare marks r's error answers bare (bare).
func asBare(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), bareKey{}, true))
}

// reply answers with p: a problem document, except for a 404 and on a bare
// route, which answer with the status alone, as Eureka's server does.
func reply(w http.ResponseWriter, r *http.Request, p *problem.Problem) {
	isBare, _ := r.Context().Value(bareKey{}).(bool)
	if p.Status != http.StatusNotFound && !isBare {
		problem.Write(w, r, p)
		return
	}
	status := p.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	for k, vs := range p.Headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
}

func field(name, msg string) error { return domainerr.Field(name, msg) }

// key reads and checks the application and instance ID of the path.
func key(r *http.Request) (svc, id string, err error) {
	v := mux.Vars(r)
	svc, id = serviceOf(v["app"]), v["id"]
	var fe problem.FieldErrors
	if !registry.ValidService(svc) {
		fe.Add("app", "must be 1 to 63 letters, digits or '-', starting and ending with a letter or digit")
	}
	if _, ok := v["id"]; ok && !registry.ValidInstanceID(id) {
		fe.Add("id", "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
	return svc, id, fe.Err()
}

// readBody reads a request body, gunzipping it when the client compressed
// it, within maxDocBytes.
func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, field("body", "is not valid gzip")
		}
		defer zr.Close()
		rd = zr
	}
	b, err := io.ReadAll(io.LimitReader(rd, maxDocBytes+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, problem.New(http.StatusRequestEntityTooLarge, "the request body is too large")
	case err != nil:
		return nil, field("body", "could not be read")
	case len(b) > maxDocBytes:
		return nil, problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("the instance document must be at most %d bytes", maxDocBytes))
	}
	return b, nil
}

func isXMLType(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "xml")
}

// register is POST /apps/{app}: the instance document, JSON or XML,
// possibly gzipped; 204 once registered.
func (a *api) register(w http.ResponseWriter, r *http.Request) {
	svc, _, err := key(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" && !isXMLType(ct) && !strings.Contains(strings.ToLower(ct), "json") {
		reply(w, r, problem.New(http.StatusUnsupportedMediaType, "the instance document must be application/json or application/xml"))
		return
	}
	body, err := readBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	in, err := decodeInstance(body, isXMLType(ct))
	if err != nil {
		fail(w, r, problem.BadRequest(err.Error(), problem.FieldError{Field: "instance", Message: "must be a Eureka instance document"}))
		return
	}
	if in.App != "" && serviceOf(in.App) != svc {
		fail(w, r, field("instance.app", "must name the application of the path"))
		return
	}
	if err := a.checkVIPs(r, svc, in); err != nil {
		fail(w, r, err)
		return
	}
	id, idField := idOf(in)
	if !registry.ValidInstanceID(id) {
		// The registry would refuse the ID alone, under the path's name for
		// it; the document's field is named, with any other it refuses.
		_, err := a.registration(svc, id, idField, in, nil, authenticated(r.Context()))
		fail(w, r, err)
		return
	}
	// The override an operator set is kept, read under the registry's lock
	// so that one set meanwhile is not lost.
	auth := authenticated(r.Context())
	if _, _, err := a.svc.Update(r.Context(), svc, id, true, func(cur *registry.Instance) (registry.Registration, error) {
		var prev *Doc
		if cur != nil {
			prev = docOf(*cur)
		}
		return a.registration(svc, id, idField, in, prev, auth)
	}); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// idOf is the ID of the instance a document describes, and the field it
// is read from, as Eureka's InstanceInfo.getId and fargo's Instance.Id take
// it: instanceId; without one, an Amazon instance's data-center
// instance-id, under which such clients renew; else hostName.
func idOf(in inInstance) (id, field string) {
	if in.InstanceID != "" {
		return in.InstanceID, "instance.instanceId"
	}
	if in.DataCenterInfo.Name == "Amazon" {
		if id := in.DataCenterInfo.Metadata["instance-id"]; id != "" {
			return id, "instance.dataCenterInfo.metadata.instance-id"
		}
	}
	return in.HostName, "instance.hostName"
}

// checkVIPs refuses a (secure) VIP address naming another service that has
// a token of its own, unless the request could write under that service.
// Spring clients find http://auth/ by VIP, so without it the shared token
// could draw the traffic of such a service (docs/adr/0011). Other names are
// free, as registering under them is. A name not of vipName's form is
// refused first (400), as the comparison below would not be the clients'.
func (a *api) checkVIPs(r *http.Request, svc string, in inInstance) error {
	fields := []struct{ name, vips string }{
		{"instance.vipAddress", in.VIPAddress}, {"instance.secureVipAddress", in.SecureVIPAddress},
	}
	var bad problem.FieldErrors
	for _, f := range fields {
		if f.vips == "" {
			continue // omitted: the application's own name
		}
		for _, vip := range strings.Split(f.vips, ",") {
			if !vipName.MatchString(strings.TrimSpace(vip)) {
				bad.Add(f.name, vipRule)
				break
			}
		}
	}
	if err := bad.Err(); err != nil {
		return err
	}
	var fe problem.FieldErrors
	for _, f := range fields {
		for _, vip := range strings.Split(f.vips, ",") {
			// Matched as the VIP queries match: trimmed, whatever the case.
			other := serviceOf(strings.TrimSpace(vip))
			if _, own := a.o.Writers.Services[other]; !own || other == svc {
				continue
			}
			if _, refused := a.check(r, other); refused != nil {
				fe.Add(f.name, fmt.Sprintf("names %q, a service whose own token this request does not hold", other))
				break
			}
		}
	}
	if len(fe) == 0 {
		return nil
	}
	p := problem.Forbidden("a VIP address names a service this request may not register")
	p.Errors = fe
	return p
}

// registration turns an instance document into a registration, keeping a
// status override set earlier (prev).
func (a *api) registration(svc, id, idField string, in inInstance, prev *Doc, auth bool) (registry.Registration, error) {
	var fe problem.FieldErrors
	// The strings kept with the instance are bounded one by one and, with
	// the data center's metadata, together.
	total := 0
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"instance.hostName", in.HostName, maxNameBytes},
		{"instance.ipAddr", in.IPAddr, maxNameBytes},
		{"instance.app", in.App, maxNameBytes},
		{"instance.appGroupName", in.AppGroupName, maxNameBytes},
		{"instance.asgName", in.ASGName, maxNameBytes},
		{"instance.vipAddress", in.VIPAddress, maxNameBytes},
		{"instance.secureVipAddress", in.SecureVIPAddress, maxNameBytes},
		{"instance.dataCenterInfo.name", in.DataCenterInfo.Name, maxNameBytes},
		{"instance.dataCenterInfo.@class", in.DataCenterInfo.Class, maxNameBytes},
		{"instance.homePageUrl", in.HomePageURL, maxURLBytes},
		{"instance.statusPageUrl", in.StatusPageURL, maxURLBytes},
		{"instance.healthCheckUrl", in.HealthCheckURL, maxURLBytes},
		{"instance.secureHealthCheckUrl", in.SecureHealthCheckURL, maxURLBytes},
	} {
		total += len(f.v)
		switch {
		case len(f.v) > f.max:
			fe.Add(f.name, fmt.Sprintf("must be at most %d bytes", f.max))
		case !registry.ValidText(f.v):
			// Every reader is served these as they are: a terminal, a log
			// or a page showing them must not be steered by them.
			fe.Add(f.name, "must be UTF-8 text without control characters")
		}
	}
	if err := a.o.Limits.CheckMetadata("instance.dataCenterInfo.metadata", in.DataCenterInfo.Metadata); err != nil {
		var dfe problem.FieldErrors
		if errors.As(err, &dfe) {
			fe = append(fe, dfe...)
		}
	}
	for k, v := range in.DataCenterInfo.Metadata {
		total += len(k) + len(v)
	}
	if total > maxDocStringBytes {
		fe.Add("instance", fmt.Sprintf("its URLs, names and dataCenterInfo.metadata must total at most %d bytes", maxDocStringBytes))
	}
	if !registry.ValidInstanceID(id) && !named(fe, idField) {
		fe.Add(idField, "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
	}
	// The instance is reached at its host name if that is one, else at
	// ipAddr: on a Docker Compose network a Spring client sends the
	// container's reverse-DNS name, whose network part may hold an
	// underscore (billing-1.medisync_default), beside an address that
	// works. Such a hostName is kept as text to show. An ipAddr sent is an
	// address either way. A string refused above is not named twice.
	address := in.HostName
	if !registry.ValidAddress(address) {
		address = in.IPAddr
	}
	if address == "" && !named(fe, "instance.hostName") {
		fe.Add("instance.hostName", "hostName or ipAddr must be an IP address or a host name")
	}
	if in.IPAddr != "" && !named(fe, "instance.ipAddr") {
		ok := validIPAddr(in.IPAddr)
		if address == in.IPAddr {
			ok = registry.ValidAddress(in.IPAddr) // the address, which a zone cannot be part of
		}
		if !ok {
			fe.Add("instance.ipAddr", "must be an IP address or a host name")
		}
	}
	if in.Port == nil || in.Port.Number < 1 || in.Port.Number > 65535 {
		fe.Add("instance.port", "must be between 1 and 65535")
	}
	reported := registry.Up
	if in.Status != "" {
		st, ok := registry.ParseStatus(in.Status)
		if !ok {
			fe.Add("instance.status", registry.StatusRule)
		}
		reported = st
	}
	if err := fe.Err(); err != nil {
		return registry.Registration{}, err
	}
	d := &Doc{core: core{
		App: strings.ToUpper(svc), HostName: in.HostName, IPAddr: in.IPAddr,
		VIPAddress: in.VIPAddress, SecureVIPAddress: in.SecureVIPAddress,
		Port: int(in.Port.Number), PortEnabled: bool(in.Port.Enabled),
		HomePageURL: in.HomePageURL, StatusPageURL: in.StatusPageURL, HealthCheckURL: in.HealthCheckURL,
		SecureHealthCheckURL: in.SecureHealthCheckURL, CountryID: int64(in.CountryID),
		DataCenterClass: in.DataCenterInfo.Class, DataCenterName: in.DataCenterInfo.Name,
		RenewalIntervalSecs: int64(in.LeaseInfo.RenewalIntervalInSecs), DurationSecs: int64(in.LeaseInfo.DurationInSecs),
		AppGroupName: in.AppGroupName, ASGName: in.ASGName, Reported: reported,
		LastDirty: int64(in.LastDirtyTimestamp), Coord: bool(in.Coord),
	}}
	if in.App != "" {
		d.App = in.App
	}
	if in.SecurePort != nil {
		d.SecurePort, d.SecurePortEnabled = int(in.SecurePort.Number), bool(in.SecurePort.Enabled)
	}
	if d.DataCenterName == "" {
		d.DataCenterName = "MyOwn"
	}
	if d.DataCenterClass == "" {
		d.DataCenterClass = ClassMyOwn
		if d.DataCenterName == "Amazon" {
			d.DataCenterClass = ClassAmazon
		}
	}
	if len(in.DataCenterInfo.Metadata) > 0 {
		d.DataCenterMetadata = map[string]string(in.DataCenterInfo.Metadata)
	}
	if d.RenewalIntervalSecs <= 0 {
		d.RenewalIntervalSecs = defaultRenewal
	}
	if d.DurationSecs <= 0 {
		d.DurationSecs = defaultDuration
	}
	if d.VIPAddress == "" {
		d.VIPAddress = svc
	}
	if prev != nil {
		d.Override = prev.Override
	}
	status := statusOf(reported, d.Override)
	return registry.Registration{
		Service: svc, ID: id, Address: address, Port: int(in.Port.Number),
		TTLSeconds: a.ttl(d.DurationSecs), Status: status,
		Metadata: transport.MarkAuthenticated(map[string]string(in.Metadata), auth), Extra: d,
	}, nil
}

// validIPAddr accepts what a client may send as its ipAddr: an address the
// registry takes, or an IPv6 address with its zone (fe80::1%eth0), which a
// Java client reports for a link-local address.
func validIPAddr(s string) bool {
	if registry.ValidAddress(s) {
		return true
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() != "" && registry.ValidText(s)
}

// named reports whether fe already names field.
func named(fe problem.FieldErrors, field string) bool {
	return slices.ContainsFunc(fe, func(e problem.FieldError) bool { return e.Field == field })
}

// ttl clamps a Eureka lease duration into the registry's range: Eureka
// clients cannot be told that theirs is refused.
func (a *api) ttl(secs int64) int {
	lo, hi := int64(a.o.Limits.MinTTL/time.Second), int64(a.o.Limits.MaxTTL/time.Second)
	return int(min(max(secs, lo), hi))
}

// renew is PUT /apps/{app}/{id}: 200, or 404 for an unknown instance or one
// the client has newer information about (lastDirtyTimestamp), so that the
// client registers again. A status the client reports is applied, under
// an override only when other than UP or OUT_OF_SERVICE (statusOf).
func (a *api) renew(w http.ResponseWriter, r *http.Request) {
	svc, id, err := key(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	lease, err := a.svc.Heartbeat(r.Context(), svc, id)
	if err != nil {
		fail(w, r, err)
		return
	}
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		d, _ := lease.Extra.(*Doc)
		if s := q.Get("lastDirtyTimestamp"); s != "" && d != nil {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > d.LastDirty {
				reply(w, r, problem.NotFound("the client holds a newer instance document: register again"))
				return
			}
		}
		if s := q.Get("status"); s != "" {
			st, ok := registry.ParseStatus(s)
			if !ok {
				fail(w, r, field("status", registry.StatusRule))
				return
			}
			if err := a.report(r.Context(), svc, id, lease, st); err != nil {
				fail(w, r, err)
				return
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

// report applies the status an instance reports with its renewal, to the
// instance as it is then: an override set since the renewal read it holds.
// A status the lease already shows, by far the most common case, costs no
// write lock.
func (a *api) report(ctx context.Context, svc, id string, lease registry.Lease, st registry.Status) error {
	if rep, _ := statuses(lease.Status, lease.Extra); rep == st {
		return nil
	}
	_, _, err := a.svc.Update(ctx, svc, id, false, func(cur *registry.Instance) (registry.Registration, error) {
		if cur == nil {
			return registry.Registration{}, registry.ErrNotFound
		}
		reg := registrationOf(*cur)
		if d := docOf(*cur); d != nil {
			if d.Reported != st {
				nd := *d
				nd.Reported = st
				withDoc(&reg, &nd)
			}
		} else {
			_, ov := statuses(cur.Status, cur.Extra)
			setNative(&reg, st, ov)
		}
		return reg, nil
	})
	return err
}

// change applies f to the instance's registration and, for one registered
// through Eureka, a copy of its document (nil otherwise), under the
// registry's lock; the lease is left alone.
func (a *api) change(ctx context.Context, svc, id string, f func(reg *registry.Registration, d *Doc)) error {
	_, _, err := a.svc.Update(ctx, svc, id, false, func(cur *registry.Instance) (registry.Registration, error) {
		if cur == nil {
			return registry.Registration{}, registry.ErrNotFound
		}
		reg := registrationOf(*cur)
		var nd *Doc
		if d := docOf(*cur); d != nil {
			c := *d
			nd = &c
		}
		f(&reg, nd)
		if nd != nil {
			withDoc(&reg, nd)
		}
		return reg, nil
	})
	return err
}

// registrationOf is the registration that leaves inst as it is.
func registrationOf(inst registry.Instance) registry.Registration {
	return registry.Registration{
		Service: inst.Service, ID: inst.ID, Address: inst.Address, Port: inst.Port,
		TTLSeconds: int(inst.TTL / time.Second), Status: inst.Status, Metadata: inst.Metadata, Extra: inst.Extra,
	}
}

// withDoc sets a Eureka document on reg, with the status it implies
// (statusOf).
func withDoc(reg *registry.Registration, d *Doc) {
	reg.Extra = d
	reg.Status = statusOf(d.Reported, d.Override)
}

// statusOf is the status of an instance that reports reported, under
// override ("" for none): the override only while the instance reports UP
// or OUT_OF_SERVICE; any other status it reports (DOWN, STARTING, UNKNOWN)
// wins, as Eureka's server rules (DownOrStartingRule, which matches every
// status but UP and OUT_OF_SERVICE, before OverrideExistsRule), so that an
// instance whose health fails leaves traffic whatever an operator set.
func statusOf(reported, override registry.Status) registry.Status {
	if override == "" || reported != registry.Up && reported != registry.OutOfService {
		return reported
	}
	return override
}

// held is what the registry keeps (registry.Extra) of an instance
// registered through our own API while a status override set through
// Eureka's holds over it: the status the instance itself has, to go back to
// once the override is removed. It is never modified once registered. A
// status set through our own API ends it (WithStatus).
type held struct {
	Reported registry.Status
	Override registry.Status
}

// Equal reports whether other holds the same statuses (registry.Extra).
func (h *held) Equal(other registry.Extra) bool {
	o, ok := other.(*held)
	return ok && *o == *h
}

// Size is about the bytes h holds (registry.Extra).
func (h *held) Size() int { return int(unsafe.Sizeof(*h)) + len(h.Reported) + len(h.Override) }

// WithStatus is nil (registry.StatusExtra): a status set through our own
// API is the one the instance reports, and ends the override.
func (h *held) WithStatus(_ time.Time, status registry.Status) (registry.Extra, registry.Status) {
	return nil, status
}

// statuses is the status an instance of status and extra reports, and the
// override set over it through Eureka's API ("" for none), whichever API
// registered it.
func statuses(status registry.Status, extra registry.Extra) (reported, override registry.Status) {
	switch x := extra.(type) {
	case *held:
		if x != nil {
			return x.Reported, x.Override
		}
	case *Doc:
		if x != nil {
			return x.Reported, x.Override
		}
	}
	return status, ""
}

// overridden is what an override's setting (set, of st) or removal (set
// false; st the status to give back, "" for the one reported) leaves of
// reported: the status the instance reports, and the override over it.
func overridden(reported registry.Status, set bool, st registry.Status) (registry.Status, registry.Status) {
	switch {
	case set:
		return reported, st
	case st != "":
		return st, ""
	}
	return reported, ""
}

// setNative sets on reg, an instance registered through our own API, the
// status it reports and the override over it ("" for none).
func setNative(reg *registry.Registration, reported, override registry.Status) {
	if override == "" {
		reg.Extra, reg.Status = nil, reported
		return
	}
	reg.Extra, reg.Status = &held{Reported: reported, Override: override}, statusOf(reported, override)
}

// cancel is DELETE /apps/{app}/{id}: 200.
func (a *api) cancel(w http.ResponseWriter, r *http.Request) {
	svc, id, err := key(r)
	if err == nil {
		err = a.svc.Deregister(r.Context(), svc, id)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// setOverride is PUT /apps/{app}/{id}/status?value=OUT_OF_SERVICE: the
// status holds, until removed, while the instance reports UP or
// OUT_OF_SERVICE (statusOf).
func (a *api) setOverride(w http.ResponseWriter, r *http.Request) {
	a.override(w, r, true)
}

// deleteOverride is DELETE /apps/{app}/{id}/status[?value=UP]: the
// override goes, and the status becomes value until the instance reports
// its own; without one, the status the instance last reported or
// registered with. Eureka's server sets UNKNOWN there and answers the next
// renewal 404, but clients that never report a status (ours, fargo's)
// would then have to register again to be back in service.
func (a *api) deleteOverride(w http.ResponseWriter, r *http.Request) {
	a.override(w, r, false)
}

func (a *api) override(w http.ResponseWriter, r *http.Request, set bool) {
	svc, id, err := key(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var st registry.Status
	if v := r.URL.Query().Get("value"); v != "" || set {
		var ok bool
		if st, ok = registry.ParseStatus(v); !ok {
			fail(w, r, field("value", registry.StatusRule))
			return
		}
	}
	now := a.o.Now().UnixMilli()
	err = a.change(r.Context(), svc, id, func(reg *registry.Registration, d *Doc) {
		if d == nil {
			reported, _ := statuses(reg.Status, reg.Extra)
			reported, override := overridden(reported, set, st)
			setNative(reg, reported, override)
			return
		}
		d.Reported, d.Override = overridden(d.Reported, set, st)
		d.LastDirty = now
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// metadata is PUT /apps/{app}/{id}/metadata?key=value...: the pairs are
// added to the instance's metadata.
func (a *api) metadata(w http.ResponseWriter, r *http.Request) {
	svc, id, err := key(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	auth := authenticated(r.Context())
	err = a.change(r.Context(), svc, id, func(reg *registry.Registration, _ *Doc) {
		md := reg.Metadata // a copy, for this update alone
		if md == nil {
			md = map[string]string{}
		}
		for k, vs := range r.URL.Query() {
			md[k] = vs[len(vs)-1]
		}
		reg.Metadata = transport.MarkAuthenticated(md, auth)
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// wantsXML reads the Accept header: JSON when it names JSON before (or
// without) XML; XML otherwise, also without an Accept header, as Eureka's
// server answers (Prometheus's eureka_sd_configs sends none and reads XML).
func wantsXML(r *http.Request) bool {
	acc := strings.ToLower(r.Header.Get("Accept"))
	x, j := strings.Index(acc, "xml"), strings.Index(acc, "json")
	return j < 0 || x >= 0 && x < j
}

func wantsGzip(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("Accept-Encoding")), "gzip")
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// write sends an encoded body, compressed when the client asks.
func write(w http.ResponseWriter, r *http.Request, body []byte, asXML, zipped bool) {
	h := w.Header()
	if asXML {
		h.Set("Content-Type", "application/xml")
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Add("Vary", "Accept, Accept-Encoding")
	if zipped {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// send encodes v under root as the client asks.
func send(w http.ResponseWriter, r *http.Request, root string, v any) {
	asXML := wantsXML(r)
	b, err := encode(root, v, asXML)
	if err != nil {
		fail(w, r, fmt.Errorf("encode %s: %w", root, err))
		return
	}
	zipped := wantsGzip(r)
	if zipped {
		b = gz(b)
	}
	write(w, r, b, asXML, zipped)
}

// apps is GET /apps, the full registry. Its encodings are kept until the
// registry changes (the index moves), so a fleet of clients fetching every
// 30 s costs one encoding per change; renewal timestamps in it are those of
// the last change, as Eureka's response cache shows them.
func (a *api) apps(w http.ResponseWriter, r *http.Request) {
	ver, err := a.svc.Version(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	body, asXML, zipped, err := a.encoded(&a.cache, ver.Index, time.Time{}, r, func() (*Applications, uint64, time.Time, error) {
		v, err := a.svc.Registry(r.Context(), service.Query{})
		return fullListing(v), v.Index, time.Time{}, err
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	write(w, r, body, asXML, zipped)
}

// delta is GET /apps/delta: the changes of the last few minutes, each
// instance with its actionType, and the hash code of the whole registry.
// Its encodings are kept as the full listing's are, until the index moves
// or the oldest change leaves the log.
func (a *api) delta(w http.ResponseWriter, r *http.Request) {
	ver, err := a.svc.Version(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	body, asXML, zipped, err := a.encoded(&a.deltas, ver.Index, ver.DeltaExpires, r, func() (*Applications, uint64, time.Time, error) {
		d, err := a.svc.Recent(r.Context())
		return deltaListing(d), d.Index, d.Expires, err
	})
	if err != nil {
		fail(w, r, err)
		return
	}
	write(w, r, body, asXML, zipped)
}

// app is GET /apps/{app}: 404 when it has no instance.
func (a *api) app(w http.ResponseWriter, r *http.Request) {
	svc, _, err := key(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	v, err := a.svc.Service(r.Context(), svc, service.Query{})
	if err != nil {
		fail(w, r, err)
		return
	}
	if len(v.Instances) == 0 {
		reply(w, r, problem.NotFound(fmt.Sprintf("application %q has no instance", AppName(svc))))
		return
	}
	app := &Application{Name: AppName(svc)}
	for _, i := range v.Instances {
		app.Instances = append(app.Instances, render(i, registry.Added))
	}
	app.Name = app.Instances[0].App
	send(w, r, "application", app)
}

// instance is GET /apps/{app}/{id}.
func (a *api) instance(w http.ResponseWriter, r *http.Request) {
	svc, id, err := key(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	inst, err := a.svc.Instance(r.Context(), svc, id)
	if err != nil {
		fail(w, r, err)
		return
	}
	send(w, r, "instance", render(inst, registry.Added))
}

// byID is GET /instances/{id}: the instance of any application.
func (a *api) byID(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if !registry.ValidInstanceID(id) {
		fail(w, r, field("id", "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"))
		return
	}
	v, err := a.svc.Registry(r.Context(), service.Query{})
	if err != nil {
		fail(w, r, err)
		return
	}
	for _, s := range v.Services {
		for _, i := range s.Instances {
			if i.ID == id {
				send(w, r, "instance", render(i, registry.Added))
				return
			}
		}
	}
	reply(w, r, problem.NotFound(fmt.Sprintf("no instance %q", id)))
}

// vips is GET /vips/{vip} and /svips/{vip}: the instances whose (secure) VIP
// address, one of a comma-separated list, is vip, whatever the case.
func (a *api) vips(secure bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vip := mux.Vars(r)["vip"]
		if vip == "" || len(vip) > 255 {
			fail(w, r, field("vip", "must be 1 to 255 characters"))
			return
		}
		v, err := a.svc.Registry(r.Context(), service.Query{})
		if err != nil {
			fail(w, r, err)
			return
		}
		send(w, r, "applications", listingOf(v, func(_ registry.Instance, out *Instance) bool {
			addrs := out.VIPAddress
			if secure {
				addrs = out.SecureVIPAddress
			}
			for _, a := range strings.Split(addrs, ",") {
				if strings.EqualFold(strings.TrimSpace(a), vip) {
					return true
				}
			}
			return false
		}))
	}
}
