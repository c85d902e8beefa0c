package service

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/page"
)

// Middleware logs each call by the one rule of logging.Call (faults at
// error level, the rest at debug) and counts it with its latency by
// metrics.Method.Observe; it never logs arguments or results, which hold
// addresses and reset links.
func Middleware(logger log.Logger, m metrics.Method) func(Service) Service {
	o := logging.Observer{Logger: logger, Metrics: m}
	return func(next Service) Service { return &observed{next: next, o: o} }
}

type observed struct {
	next Service
	o    logging.Observer
}

func (s *observed) HandleEvent(ctx context.Context, ev events.Event) (err error) {
	defer s.o.Done(ctx, "HandleEvent", time.Now(), &err)
	return s.next.HandleEvent(ctx, ev)
}

func (s *observed) FireDueReminders(ctx context.Context) (n int, err error) {
	defer s.o.Done(ctx, "FireDueReminders", time.Now(), &err)
	return s.next.FireDueReminders(ctx)
}

func (s *observed) DeliverMail(ctx context.Context) (n int, err error) {
	defer s.o.Done(ctx, "DeliverMail", time.Now(), &err)
	return s.next.DeliverMail(ctx)
}

func (s *observed) Prune(ctx context.Context) (n int, err error) {
	defer s.o.Done(ctx, "Prune", time.Now(), &err)
	return s.next.Prune(ctx)
}

func (s *observed) MyNotifications(ctx context.Context, actor authn.Principal, q notice.InboxQuery) (in Inbox, err error) {
	defer s.o.Done(ctx, "MyNotifications", time.Now(), &err)
	return s.next.MyNotifications(ctx, actor, q)
}

func (s *observed) MarkRead(ctx context.Context, actor authn.Principal, id string) (n notice.Notification, err error) {
	defer s.o.Done(ctx, "MarkRead", time.Now(), &err)
	return s.next.MarkRead(ctx, actor, id)
}

func (s *observed) MarkAllRead(ctx context.Context, actor authn.Principal) (n int, err error) {
	defer s.o.Done(ctx, "MarkAllRead", time.Now(), &err)
	return s.next.MarkAllRead(ctx, actor)
}

func (s *observed) MyPreferences(ctx context.Context, actor authn.Principal) (p notice.Preferences, err error) {
	defer s.o.Done(ctx, "MyPreferences", time.Now(), &err)
	return s.next.MyPreferences(ctx, actor)
}

func (s *observed) UpdatePreferences(ctx context.Context, actor authn.Principal, ifMatch int64, in PreferencesInput) (p notice.Preferences, err error) {
	defer s.o.Done(ctx, "UpdatePreferences", time.Now(), &err)
	return s.next.UpdatePreferences(ctx, actor, ifMatch, in)
}

func (s *observed) Deliveries(ctx context.Context, actor authn.Principal, q notice.DeliveryQuery) (p page.Page[notice.Delivery], err error) {
	defer s.o.Done(ctx, "Deliveries", time.Now(), &err)
	return s.next.Deliveries(ctx, actor, q)
}
