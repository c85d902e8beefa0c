// Package endpoint turns each discovery use case into a go-kit endpoint with
// its request and response types.
package endpoint

import (
	"context"
	"net/http"
	"strconv"
	"time"

	kitendpoint "github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	sd "github.com/medisync/medisync/shared/discovery"
)

// Set holds every discovery endpoint.
type Set struct {
	Register   kitendpoint.Endpoint
	Heartbeat  kitendpoint.Endpoint
	SetStatus  kitendpoint.Endpoint
	Deregister kitendpoint.Endpoint
	Service    kitendpoint.Endpoint
	Registry   kitendpoint.Endpoint
}

// New builds the endpoints over s.
func New(s service.Service) Set {
	return Set{
		Register:   makeRegister(s),
		Heartbeat:  makeHeartbeat(s),
		SetStatus:  makeSetStatus(s),
		Deregister: makeDeregister(s),
		Service:    makeService(s),
		Registry:   makeRegistry(s),
	}
}

// InstanceKey names an instance in a path.
type InstanceKey struct {
	Service string
	ID      string
}

// RegisterRequest registers or replaces an instance.
type RegisterRequest struct {
	InstanceKey
	Address    string
	Port       int
	TTLSeconds int
	Status     string
	Metadata   map[string]string
}

// Instance is an instance on the wire.
type Instance struct {
	ID             string            `json:"id"`
	Address        string            `json:"address"`
	Port           int               `json:"port"`
	Status         string            `json:"status"`
	Metadata       map[string]string `json:"metadata"`
	TTLSeconds     int               `json:"ttlSeconds"`
	RegisteredAt   time.Time         `json:"registeredAt"`
	LastHeartbeat  time.Time         `json:"lastHeartbeat"`
	LeaseExpiresAt time.Time         `json:"leaseExpiresAt"`
}

// FromInstance converts a domain instance for the wire.
func FromInstance(i registry.Instance) Instance {
	md := i.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return Instance{
		ID: i.ID, Address: i.Address, Port: i.Port, Status: string(i.Status), Metadata: md,
		TTLSeconds: int(i.TTL / time.Second), RegisteredAt: i.RegisteredAt,
		LastHeartbeat: i.LastHeartbeat, LeaseExpiresAt: i.LeaseExpiresAt,
	}
}

// InstanceResponse answers a registration or a status change.
type InstanceResponse struct {
	Service string `json:"service"`
	Instance
	Created bool   `json:"-"`
	Index   uint64 `json:"-"`
}

// StatusCode is 201 for a new instance, 200 otherwise.
func (r InstanceResponse) StatusCode() int {
	if r.Created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func makeRegister(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RegisterRequest)
		inst, created, err := s.Register(ctx, registry.Registration{
			Service: req.Service, ID: req.ID, Address: req.Address, Port: req.Port,
			TTLSeconds: req.TTLSeconds, Status: registry.Status(req.Status), Metadata: req.Metadata,
		})
		if err != nil {
			return nil, err
		}
		return InstanceResponse{Service: inst.Service, Instance: FromInstance(inst), Created: created}, nil
	}
}

// LeaseResponse answers a heartbeat.
type LeaseResponse struct {
	Service        string    `json:"service"`
	ID             string    `json:"id"`
	TTLSeconds     int       `json:"ttlSeconds"`
	LastHeartbeat  time.Time `json:"lastHeartbeat"`
	LeaseExpiresAt time.Time `json:"leaseExpiresAt"`
}

func makeHeartbeat(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(InstanceKey)
		l, err := s.Heartbeat(ctx, req.Service, req.ID)
		if err != nil {
			return nil, err
		}
		return LeaseResponse{Service: l.Service, ID: l.ID, TTLSeconds: int(l.TTL / time.Second),
			LastHeartbeat: l.LastHeartbeat, LeaseExpiresAt: l.LeaseExpiresAt}, nil
	}
}

// StatusRequest changes an instance's status.
type StatusRequest struct {
	InstanceKey
	Status string
}

func makeSetStatus(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(StatusRequest)
		inst, err := s.SetStatus(ctx, req.Service, req.ID, registry.Status(req.Status))
		if err != nil {
			return nil, err
		}
		return InstanceResponse{Service: inst.Service, Instance: FromInstance(inst)}, nil
	}
}

// NoContent is an empty 204 answer.
type NoContent struct{}

// StatusCode is 204.
func (NoContent) StatusCode() int { return http.StatusNoContent }

func makeDeregister(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(InstanceKey)
		if err := s.Deregister(ctx, req.Service, req.ID); err != nil {
			return nil, err
		}
		return NoContent{}, nil
	}
}

// ServiceRequest reads one service, optionally blocking.
type ServiceRequest struct {
	Service string
	Query   service.Query
}

// ServiceResponse is one service's instances at an index. It holds the
// domain view and writes the wire form straight from it (see json.go), so a
// listing makes no intermediate copy of every instance.
type ServiceResponse struct {
	View registry.ServiceView
}

// Headers sends the index as X-Registry-Index too, and the server's run:
// the headers are new to the protocol, so older clients ignore them.
func (r ServiceResponse) Headers() http.Header {
	return runHeaders(r.View.Index, r.View.StartedAt, r.View.Uptime)
}

// runHeaders are a listing's headers, named where readers parse them
// (shared/discovery): the index, the server's run (its start time) and how
// long it has been up in milliseconds, by its own clock, so that a reader
// can tell how far a restarted registry has been filled again without
// comparing clocks.
func runHeaders(index uint64, started time.Time, uptime time.Duration) http.Header {
	return http.Header{
		sd.IndexHeader:   {strconv.FormatUint(index, 10)},
		sd.StartedHeader: {started.UTC().Format(time.RFC3339Nano)},
		sd.UptimeHeader:  {strconv.FormatInt(max(uptime, 0).Milliseconds(), 10)},
	}
}

// MarshalJSON writes {"service", "index", "instances"}.
func (r ServiceResponse) MarshalJSON() ([]byte, error) {
	return appendServiceView(nil, r.View), nil
}

func makeService(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(ServiceRequest)
		v, err := s.Service(ctx, req.Service, req.Query)
		if err != nil {
			return nil, err
		}
		return ServiceResponse{View: v}, nil
	}
}

// RegistryRequest reads every service, optionally blocking.
type RegistryRequest struct {
	Query service.Query
}

// RegistryResponse is every service at an index: {"index", "startedAt",
// "services"}.
type RegistryResponse struct {
	View registry.View
}

// Headers sends the index as X-Registry-Index too, and the server's run.
func (r RegistryResponse) Headers() http.Header {
	return runHeaders(r.View.Index, r.View.StartedAt, r.View.Uptime)
}

// MarshalJSON writes the registry as its wire form.
func (r RegistryResponse) MarshalJSON() ([]byte, error) {
	b := r.AppendJSON(nil)
	return b[:len(b)-1], nil
}

func makeRegistry(s service.Service) kitendpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RegistryRequest)
		v, err := s.Registry(ctx, req.Query)
		if err != nil {
			return nil, err
		}
		return RegistryResponse{View: v}, nil
	}
}
