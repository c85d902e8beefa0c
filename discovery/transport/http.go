// Package transport serves the discovery API over HTTP: the registry routes
// of DESIGN.md, the write token, the OpenAPI document and the dashboard.
package transport

import (
	"context"
	_ "embed"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/discovery/endpoint"
	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// DefaultMaxBodyBytes bounds a registration body; metadata is small.
const DefaultMaxBodyBytes = 16 << 10

// Route templates, also the names under which metrics and logs group.
const (
	RouteRegistry  = "/api/v1/registry"
	RouteService   = "/api/v1/registry/{service}"
	RouteInstance  = "/api/v1/registry/{service}/{instanceId}"
	RouteHeartbeat = "/api/v1/registry/{service}/{instanceId}/heartbeat"
	RouteStatus    = "/api/v1/registry/{service}/{instanceId}/status"
)

//go:embed openapi.yaml
var openAPI []byte

// Options configure the handler.
type Options struct {
	// Writers says which tokens writes need; reads stay open.
	Writers Writers
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Dashboard shows what the dashboard page needs beyond the registry.
	Dashboard DashboardInfo
}

// errorRules maps what the error kinds cannot say: a not-found detail names
// the instance the service wrapped around the kinded error, and a full
// registry is 507.
var errorRules = problem.Rules(
	problem.Rule{Target: registry.ErrNotFound, Status: http.StatusNotFound},
	problem.Rule{Target: registry.ErrFull, Status: http.StatusInsufficientStorage},
)

// Register adds the registry API, /openapi.yaml and the dashboard at / to r,
// which answers unknown paths and methods (httpmw.NewRouter).
func Register(r *mux.Router, set endpoint.Set, svc service.Service, o Options) {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(problem.PopulateInstance),
		kithttp.ServerErrorEncoder(problem.ErrorEncoder(errorRules)),
	}
	// Paths are matched before methods: gorilla/mux 1.8.1 forgets a method
	// mismatch when a later route matches the method, answering 404 for 405.
	enc := kithttp.EncodeJSONResponse

	guard := RequireWriter(o.Writers)
	views := newViewEncoder()
	r.Path(RouteHeartbeat).Methods(http.MethodPut).Handler(guard(
		kithttp.NewServer(set.Heartbeat, decodeKey, views.encode, opts...)))
	r.Path(RouteStatus).Methods(http.MethodPut).Handler(guard(
		kithttp.NewServer(set.SetStatus, decodeStatus(o.MaxBodyBytes), enc, opts...)))
	r.Path(RouteInstance).Methods(http.MethodPut).Handler(guard(
		kithttp.NewServer(set.Register, decodeRegister(o.MaxBodyBytes), enc, opts...)))
	r.Path(RouteInstance).Methods(http.MethodDelete).Handler(guard(
		kithttp.NewServer(set.Deregister, decodeKey, enc, opts...)))

	r.Path(RouteRegistry).Methods(http.MethodGet, http.MethodHead).Handler(
		kithttp.NewServer(set.Registry, decodeRegistry, views.encode, opts...))
	r.Path(RouteService).Methods(http.MethodGet, http.MethodHead).Handler(
		kithttp.NewServer(set.Service, decodeService, views.encode, opts...))

	r.Path("/openapi.yaml").Methods(http.MethodGet, http.MethodHead).Handler(rest.OpenAPI(openAPI))
	r.Path("/").Methods(http.MethodGet, http.MethodHead).Handler(Dashboard(svc, o.Dashboard))
}

// viewEncoder writes 200 answers that have reflection-free appenders (views
// and leases) into reused buffers: listings and heartbeats are the hot paths.
type viewEncoder struct{ bufs sync.Pool }

type jsonAppender interface{ AppendJSON([]byte) []byte }

func newViewEncoder() *viewEncoder {
	return &viewEncoder{bufs: sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}}
}

func (e *viewEncoder) encode(ctx context.Context, w http.ResponseWriter, response any) error {
	a, ok := response.(jsonAppender)
	if !ok {
		return kithttp.EncodeJSONResponse(ctx, w, response)
	}
	if h, ok := response.(kithttp.Headerer); ok {
		for k, vs := range h.Headers() {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
	}
	bp := e.bufs.Get().(*[]byte)
	b := a.AppendJSON((*bp)[:0])
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	if cap(b) <= 1<<20 { // very large buffers are left to the collector
		*bp = b
		e.bufs.Put(bp)
	}
	return err
}

// OpenAPI returns the service's OpenAPI document, served at /openapi.yaml.
func OpenAPI() []byte { return openAPI }

func key(r *http.Request) endpoint.InstanceKey {
	v := mux.Vars(r)
	return endpoint.InstanceKey{Service: v["service"], ID: v["instanceId"]}
}

// decodeKey reads the instance from the path; a heartbeat's or a
// deregistration's body, if any, is ignored.
func decodeKey(_ context.Context, r *http.Request) (any, error) {
	k := key(r)
	if err := registry.CheckKey(k.Service, k.ID); err != nil {
		return nil, err
	}
	return k, nil
}

// registerBody holds status and the metadata values by pointer to tell
// what was sent from what was not: "status": "" is not an omitted status,
// nor is a null metadata value an empty one, and the document refuses both.
type registerBody struct {
	Address    string             `json:"address"`
	Port       int                `json:"port"`
	TTLSeconds int                `json:"ttlSeconds"`
	Status     *string            `json:"status"`
	Metadata   map[string]*string `json:"metadata"`
}

// fields returns the status ("" when omitted) and the metadata, or the
// values sent that the document refuses, each named.
func (b registerBody) fields() (string, map[string]string, error) {
	var fe problem.FieldErrors
	status := ""
	if b.Status != nil {
		if status = *b.Status; status == "" {
			fe.Add("status", registry.StatusRule)
		}
	}
	var md map[string]string
	if b.Metadata != nil {
		md = make(map[string]string, len(b.Metadata))
		for _, k := range slices.Sorted(maps.Keys(b.Metadata)) {
			if v := b.Metadata[k]; v != nil {
				md[k] = *v
			} else {
				fe.Add("metadata."+k, "must be a string")
			}
		}
	}
	if len(fe) > 0 {
		return "", nil, fe
	}
	return status, md, nil
}

func decodeRegister(max int64) kithttp.DecodeRequestFunc {
	return func(ctx context.Context, r *http.Request) (any, error) {
		k := key(r)
		if err := registry.CheckKey(k.Service, k.ID); err != nil {
			return nil, err
		}
		var b registerBody
		if err := httpjson.Decode(r, &b, max); err != nil {
			return nil, err
		}
		status, md, err := b.fields()
		if err != nil {
			return nil, err
		}
		return endpoint.RegisterRequest{
			InstanceKey: k, Address: b.Address, Port: b.Port, TTLSeconds: b.TTLSeconds,
			Status: status, Metadata: markAuthenticated(ctx, md),
		}, nil
	}
}

func decodeStatus(max int64) kithttp.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		k := key(r)
		if err := registry.CheckKey(k.Service, k.ID); err != nil {
			return nil, err
		}
		var b struct {
			Status string `json:"status"`
		}
		if err := httpjson.Decode(r, &b, max); err != nil {
			return nil, err
		}
		if _, ok := registry.ParseStatus(b.Status); !ok {
			return nil, problem.FieldErrors{{Field: "status", Message: registry.StatusRule}}
		}
		return endpoint.StatusRequest{InstanceKey: k, Status: b.Status}, nil
	}
}

func decodeService(_ context.Context, r *http.Request) (any, error) {
	name := mux.Vars(r)["service"]
	if err := registry.CheckService(name); err != nil {
		return nil, err
	}
	q, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	markBlocking(r, q)
	return endpoint.ServiceRequest{Service: name, Query: q}, nil
}

func decodeRegistry(_ context.Context, r *http.Request) (any, error) {
	q, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	markBlocking(r, q)
	return endpoint.RegistryRequest{Query: q}, nil
}

// markBlocking times a blocking query apart from the other requests: it
// waits for a change by design, up to minutes, and would otherwise put the
// request-latency percentiles at its wait.
func markBlocking(r *http.Request, q service.Query) {
	if q.Wait > 0 {
		httpmw.LongPoll(r.Context())
	}
}

// parseQuery reads index and wait. A query blocks only when it names an
// index; the wait then defaults to 30 s and is cut to 5 min. A wait is a Go
// duration ("30s", "2m") or whole seconds ("30").
func parseQuery(r *http.Request) (service.Query, error) {
	var q service.Query
	vals := rest.QueryOf(r)
	idx, ws := vals.Get("index"), vals.Get("wait")
	if err := vals.Err(); err != nil {
		return q, err
	}
	var fe problem.FieldErrors
	hasIndex := idx != ""
	if hasIndex {
		n, err := strconv.ParseUint(idx, 10, 64)
		if err != nil {
			fe.Add("index", "must be a non-negative integer")
		}
		q.Index = n
	}
	wait := service.DefaultWait
	if ws != "" {
		d, err := parseWait(ws)
		if err != nil {
			fe.Add("wait", "must be a duration such as 30s or 2m, or whole seconds, and not negative")
		}
		wait = min(d, service.MaxWait)
	}
	if err := fe.Err(); err != nil {
		return q, err
	}
	if hasIndex {
		q.Wait = wait
	}
	return q, nil
}

func parseWait(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(service.MaxWait/time.Second) {
			if n < 0 {
				return 0, strconv.ErrRange
			}
			return service.MaxWait, nil
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, strconv.ErrRange
	}
	return d, nil
}
