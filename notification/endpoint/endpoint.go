// Package endpoint adapts each notification use case to a go-kit endpoint
// with its request and response types.
package endpoint

import (
	"context"

	kitendpoint "github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/page"
)

// Set holds one endpoint per use case served over HTTP.
type Set struct {
	MyNotifications   kitendpoint.Endpoint
	MarkRead          kitendpoint.Endpoint
	MarkAllRead       kitendpoint.Endpoint
	MyPreferences     kitendpoint.Endpoint
	UpdatePreferences kitendpoint.Endpoint
	Deliveries        kitendpoint.Endpoint
}

// Requests: each carries the caller the transport authenticated.
type (
	InboxRequest struct {
		Actor authn.Principal
		Query notice.InboxQuery
	}
	MarkReadRequest struct {
		Actor authn.Principal
		ID    string
	}
	ActorRequest             struct{ Actor authn.Principal }
	UpdatePreferencesRequest struct {
		Actor   authn.Principal
		IfMatch int64
		In      service.PreferencesInput
	}
	DeliveriesRequest struct {
		Actor authn.Principal
		Query notice.DeliveryQuery
	}
)

// Responses.
type (
	InboxResponse        struct{ Inbox service.Inbox }
	NotificationResponse struct{ Notification notice.Notification }
	MarkedResponse       struct{ Marked int }
	PreferencesResponse  struct{ Preferences notice.Preferences }
	DeliveriesResponse   struct{ Page page.Page[notice.Delivery] }
)

func respond[T any](resp T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// New builds the endpoints over s.
func New(s service.Service) Set {
	return Set{
		MyNotifications: func(ctx context.Context, r any) (any, error) {
			req := r.(InboxRequest)
			in, err := s.MyNotifications(ctx, req.Actor, req.Query)
			return respond(InboxResponse{Inbox: in}, err)
		},
		MarkRead: func(ctx context.Context, r any) (any, error) {
			req := r.(MarkReadRequest)
			n, err := s.MarkRead(ctx, req.Actor, req.ID)
			return respond(NotificationResponse{Notification: n}, err)
		},
		MarkAllRead: func(ctx context.Context, r any) (any, error) {
			n, err := s.MarkAllRead(ctx, r.(ActorRequest).Actor)
			return respond(MarkedResponse{Marked: n}, err)
		},
		MyPreferences: func(ctx context.Context, r any) (any, error) {
			p, err := s.MyPreferences(ctx, r.(ActorRequest).Actor)
			return respond(PreferencesResponse{Preferences: p}, err)
		},
		UpdatePreferences: func(ctx context.Context, r any) (any, error) {
			req := r.(UpdatePreferencesRequest)
			p, err := s.UpdatePreferences(ctx, req.Actor, req.IfMatch, req.In)
			return respond(PreferencesResponse{Preferences: p}, err)
		},
		Deliveries: func(ctx context.Context, r any) (any, error) {
			req := r.(DeliveriesRequest)
			p, err := s.Deliveries(ctx, req.Actor, req.Query)
			return respond(DeliveriesResponse{Page: p}, err)
		},
	}
}
