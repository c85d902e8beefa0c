package service

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/shared/logging"
)

// LoggingMiddleware logs every call by the one rule (logging.Call), and
// each instance the reaper evicts, since no caller's request shows that.
func LoggingMiddleware(logger log.Logger) func(Service) Service {
	return func(next Service) Service { return &loggingService{next: next, logger: logger} }
}

type loggingService struct {
	next   Service
	logger log.Logger
}

func (s *loggingService) Register(ctx context.Context, r registry.Registration) (inst registry.Instance, created bool, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Register", begin, err) }(time.Now())
	return s.next.Register(ctx, r)
}

func (s *loggingService) Heartbeat(ctx context.Context, service, id string) (registry.Lease, error) {
	// Successful heartbeats are the bulk of all traffic and are counted in
	// the metrics; even a filtered debug line costs on this hottest path.
	begin := time.Now()
	l, err := s.next.Heartbeat(ctx, service, id)
	if err != nil {
		logging.Call(ctx, s.logger, "Heartbeat", begin, err)
	}
	return l, err
}

func (s *loggingService) SetStatus(ctx context.Context, service, id string, status registry.Status) (inst registry.Instance, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "SetStatus", begin, err) }(time.Now())
	return s.next.SetStatus(ctx, service, id, status)
}

func (s *loggingService) Update(ctx context.Context, service, id string, renew bool, f UpdateFunc) (inst registry.Instance, created bool, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Update", begin, err) }(time.Now())
	return s.next.Update(ctx, service, id, renew, f)
}

func (s *loggingService) Deregister(ctx context.Context, service, id string) (err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Deregister", begin, err) }(time.Now())
	return s.next.Deregister(ctx, service, id)
}

func (s *loggingService) Service(ctx context.Context, name string, q Query) (v registry.ServiceView, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Service", begin, err) }(time.Now())
	return s.next.Service(ctx, name, q)
}

func (s *loggingService) Registry(ctx context.Context, q Query) (v registry.View, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Registry", begin, err) }(time.Now())
	return s.next.Registry(ctx, q)
}

func (s *loggingService) Evict(ctx context.Context) (out []registry.Instance, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Evict", begin, err) }(time.Now())
	out, err = s.next.Evict(ctx)
	for _, i := range out {
		_ = level.Warn(logging.FromContext(ctx, s.logger)).Log("msg", "lease lapsed, instance evicted",
			logging.KeyPeer, i.Service, "instance", i.ID, "address", i.Address, "port", i.Port,
			"lastHeartbeat", i.LastHeartbeat.Format(time.RFC3339))
	}
	return out, err
}

func (s *loggingService) Instance(ctx context.Context, service, id string) (inst registry.Instance, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Instance", begin, err) }(time.Now())
	return s.next.Instance(ctx, service, id)
}

func (s *loggingService) Version(ctx context.Context) (v registry.Version, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Version", begin, err) }(time.Now())
	return s.next.Version(ctx)
}

func (s *loggingService) Recent(ctx context.Context) (d registry.Delta, err error) {
	defer func(begin time.Time) { logging.Call(ctx, s.logger, "Recent", begin, err) }(time.Now())
	return s.next.Recent(ctx)
}
