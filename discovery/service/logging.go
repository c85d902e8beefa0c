package service

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/shared/logging"
)

// LoggingMiddleware logs every change to the registry. Heartbeats and reads
// are frequent and change nothing: reads log at debug level, heartbeats
// only when they fail.
func LoggingMiddleware(logger log.Logger) func(Service) Service {
	return func(next Service) Service { return &loggingService{next: next, logger: logger} }
}

type loggingService struct {
	next   Service
	logger log.Logger
}

func (s *loggingService) log(ctx context.Context, lvl func(log.Logger) log.Logger, err error, kv ...any) {
	l := logging.FromContext(ctx, s.logger)
	if err != nil {
		kv = append(kv, "err", err)
	}
	_ = lvl(l).Log(kv...)
}

func (s *loggingService) Register(ctx context.Context, r registry.Registration) (inst registry.Instance, created bool, err error) {
	defer func(begin time.Time) {
		s.log(ctx, level.Info, err, "method", "Register", "service", r.Service, "instance", r.ID,
			"address", r.Address, "port", r.Port, "status", inst.Status, "created", created, "took", time.Since(begin))
	}(time.Now())
	return s.next.Register(ctx, r)
}

func (s *loggingService) Heartbeat(ctx context.Context, service, id string) (registry.Lease, error) {
	// Successful heartbeats are the bulk of all traffic and are counted in
	// the metrics; only failures are worth a line.
	l, err := s.next.Heartbeat(ctx, service, id)
	if err != nil {
		s.log(ctx, level.Info, err, "method", "Heartbeat", "service", service, "instance", id)
	}
	return l, err
}

func (s *loggingService) SetStatus(ctx context.Context, service, id string, status registry.Status) (inst registry.Instance, err error) {
	defer func(begin time.Time) {
		s.log(ctx, level.Info, err, "method", "SetStatus", "service", service, "instance", id,
			"status", status, "took", time.Since(begin))
	}(time.Now())
	return s.next.SetStatus(ctx, service, id, status)
}

func (s *loggingService) Deregister(ctx context.Context, service, id string) (err error) {
	defer func(begin time.Time) {
		s.log(ctx, level.Info, err, "method", "Deregister", "service", service, "instance", id, "took", time.Since(begin))
	}(time.Now())
	return s.next.Deregister(ctx, service, id)
}

func (s *loggingService) Service(ctx context.Context, name string, q Query) (v registry.ServiceView, err error) {
	defer func(begin time.Time) {
		s.log(ctx, level.Debug, err, "method", "Service", "service", name, "index", q.Index, "wait", q.Wait,
			"answerIndex", v.Index, "took", time.Since(begin))
	}(time.Now())
	return s.next.Service(ctx, name, q)
}

func (s *loggingService) Registry(ctx context.Context, q Query) (v registry.View, err error) {
	defer func(begin time.Time) {
		s.log(ctx, level.Debug, err, "method", "Registry", "index", q.Index, "wait", q.Wait,
			"answerIndex", v.Index, "took", time.Since(begin))
	}(time.Now())
	return s.next.Registry(ctx, q)
}

func (s *loggingService) Evict(ctx context.Context) (out []registry.Instance, err error) {
	out, err = s.next.Evict(ctx)
	for _, i := range out {
		s.log(ctx, level.Warn, nil, "method", "Evict", "msg", "lease lapsed, instance evicted",
			"service", i.Service, "instance", i.ID, "address", i.Address, "port", i.Port,
			"lastHeartbeat", i.LastHeartbeat.Format(time.RFC3339))
	}
	if err != nil {
		s.log(ctx, level.Error, err, "method", "Evict")
	}
	return out, err
}
