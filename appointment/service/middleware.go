package service

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/page"
)

// Middleware logs each call by the one rule of logging.Call and counts it
// with its latency by metrics.Method.Observe; it never logs arguments or
// results, which hold clinical and personal data.
func Middleware(logger log.Logger, m metrics.Method) func(Service) Service {
	o := logging.Observer{Logger: logger, Metrics: m}
	return func(next Service) Service { return &observed{next: next, o: o} }
}

type observed struct {
	next Service
	o    logging.Observer
}

func (s *observed) Book(ctx context.Context, actor authn.Principal, in BookInput) (_ BookResult, err error) {
	defer s.o.Done(ctx, "Book", time.Now(), &err)
	return s.next.Book(ctx, actor, in)
}

func (s *observed) Get(ctx context.Context, actor authn.Principal, id string) (_ appointment.Appointment, err error) {
	defer s.o.Done(ctx, "Get", time.Now(), &err)
	return s.next.Get(ctx, actor, id)
}

func (s *observed) List(ctx context.Context, actor authn.Principal, in ListInput) (_ page.Page[appointment.Appointment], err error) {
	defer s.o.Done(ctx, "List", time.Now(), &err)
	return s.next.List(ctx, actor, in)
}

func (s *observed) Reschedule(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in RescheduleInput) (_ appointment.Appointment, err error) {
	defer s.o.Done(ctx, "Reschedule", time.Now(), &err)
	return s.next.Reschedule(ctx, actor, id, ifMatch, in)
}

func (s *observed) Cancel(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in CancelInput) (_ appointment.Appointment, err error) {
	defer s.o.Done(ctx, "Cancel", time.Now(), &err)
	return s.next.Cancel(ctx, actor, id, ifMatch, in)
}

func (s *observed) ChangeStatus(ctx context.Context, actor authn.Principal, id string, ifMatch int64, status string) (_ appointment.Appointment, err error) {
	defer s.o.Done(ctx, "ChangeStatus", time.Now(), &err)
	return s.next.ChangeStatus(ctx, actor, id, ifMatch, status)
}

func (s *observed) Taken(ctx context.Context, actor authn.Principal, doctorID, from, to string) (_ []Range, err error) {
	defer s.o.Done(ctx, "Taken", time.Now(), &err)
	return s.next.Taken(ctx, actor, doctorID, from, to)
}

func (s *observed) JoinWaitlist(ctx context.Context, actor authn.Principal, in WaitlistInput) (_ appointment.WaitlistEntry, err error) {
	defer s.o.Done(ctx, "JoinWaitlist", time.Now(), &err)
	return s.next.JoinWaitlist(ctx, actor, in)
}

func (s *observed) MyWaitlist(ctx context.Context, actor authn.Principal) (_ []appointment.WaitlistEntry, err error) {
	defer s.o.Done(ctx, "MyWaitlist", time.Now(), &err)
	return s.next.MyWaitlist(ctx, actor)
}

func (s *observed) WaitlistEntry(ctx context.Context, actor authn.Principal, id string) (_ appointment.WaitlistEntry, err error) {
	defer s.o.Done(ctx, "WaitlistEntry", time.Now(), &err)
	return s.next.WaitlistEntry(ctx, actor, id)
}

func (s *observed) LeaveWaitlist(ctx context.Context, actor authn.Principal, id string) (err error) {
	defer s.o.Done(ctx, "LeaveWaitlist", time.Now(), &err)
	return s.next.LeaveWaitlist(ctx, actor, id)
}

func (s *observed) AuditTrail(ctx context.Context, actor authn.Principal, q appointment.AuditQuery) (_ page.Page[appointment.AuditEvent], err error) {
	defer s.o.Done(ctx, "AuditTrail", time.Now(), &err)
	return s.next.AuditTrail(ctx, actor, q)
}

func (s *observed) HandleEvent(ctx context.Context, ev events.Event) (err error) {
	defer s.o.Done(ctx, "HandleEvent", time.Now(), &err)
	return s.next.HandleEvent(ctx, ev)
}
