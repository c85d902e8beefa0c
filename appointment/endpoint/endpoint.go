// Package endpoint exposes each use case of the appointment service as a
// go-kit endpoint with its request and response types.
package endpoint

import (
	"context"

	kitendpoint "github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/page"
)

// Set holds one endpoint per use case.
type Set struct {
	Book          kitendpoint.Endpoint
	Get           kitendpoint.Endpoint
	List          kitendpoint.Endpoint
	Reschedule    kitendpoint.Endpoint
	Cancel        kitendpoint.Endpoint
	ChangeStatus  kitendpoint.Endpoint
	Taken         kitendpoint.Endpoint
	JoinWaitlist  kitendpoint.Endpoint
	MyWaitlist    kitendpoint.Endpoint
	WaitlistEntry kitendpoint.Endpoint
	LeaveWaitlist kitendpoint.Endpoint
	AuditTrail    kitendpoint.Endpoint
}

// Request and response types. Every request carries the caller (Actor).
type (
	BookRequest struct {
		Actor authn.Principal
		In    service.BookInput
	}
	BookResponse struct{ Result service.BookResult }
	GetRequest   struct {
		Actor authn.Principal
		ID    string
	}
	ListRequest struct {
		Actor authn.Principal
		In    service.ListInput
	}
	ListResponse struct {
		Page page.Page[appointment.Appointment]
	}
	RescheduleRequest struct {
		Actor   authn.Principal
		ID      string
		IfMatch int64
		In      service.RescheduleInput
	}
	CancelRequest struct {
		Actor   authn.Principal
		ID      string
		IfMatch int64
		In      service.CancelInput
	}
	ChangeStatusRequest struct {
		Actor   authn.Principal
		ID      string
		IfMatch int64
		Status  string
	}
	// AppointmentResponse carries one appointment.
	AppointmentResponse struct{ Appointment appointment.Appointment }
	TakenRequest        struct {
		Actor    authn.Principal
		DoctorID string
		From     string
		To       string
	}
	TakenResponse struct {
		DoctorID string
		Ranges   []service.Range
	}
	JoinWaitlistRequest struct {
		Actor authn.Principal
		In    service.WaitlistInput
	}
	WaitlistEntryResponse struct{ Entry appointment.WaitlistEntry }
	MyWaitlistRequest     struct{ Actor authn.Principal }
	WaitlistResponse      struct{ Entries []appointment.WaitlistEntry }
	WaitlistEntryRequest  struct {
		Actor authn.Principal
		ID    string
	}
	LeaveWaitlistRequest struct {
		Actor authn.Principal
		ID    string
	}
	// NoContentResponse answers deletions.
	NoContentResponse struct{}
	AuditTrailRequest struct {
		Actor authn.Principal
		Query appointment.AuditQuery
	}
	AuditPageResponse struct {
		Page page.Page[appointment.AuditEvent]
	}
)

// New builds the endpoints of s.
func New(s service.Service) Set {
	return Set{
		Book: func(ctx context.Context, req any) (any, error) {
			r := req.(BookRequest)
			res, err := s.Book(ctx, r.Actor, r.In)
			return BookResponse{Result: res}, err
		},
		Get: func(ctx context.Context, req any) (any, error) {
			r := req.(GetRequest)
			a, err := s.Get(ctx, r.Actor, r.ID)
			return AppointmentResponse{Appointment: a}, err
		},
		List: func(ctx context.Context, req any) (any, error) {
			r := req.(ListRequest)
			p, err := s.List(ctx, r.Actor, r.In)
			return ListResponse{Page: p}, err
		},
		Reschedule: func(ctx context.Context, req any) (any, error) {
			r := req.(RescheduleRequest)
			a, err := s.Reschedule(ctx, r.Actor, r.ID, r.IfMatch, r.In)
			return AppointmentResponse{Appointment: a}, err
		},
		Cancel: func(ctx context.Context, req any) (any, error) {
			r := req.(CancelRequest)
			a, err := s.Cancel(ctx, r.Actor, r.ID, r.IfMatch, r.In)
			return AppointmentResponse{Appointment: a}, err
		},
		ChangeStatus: func(ctx context.Context, req any) (any, error) {
			r := req.(ChangeStatusRequest)
			a, err := s.ChangeStatus(ctx, r.Actor, r.ID, r.IfMatch, r.Status)
			return AppointmentResponse{Appointment: a}, err
		},
		Taken: func(ctx context.Context, req any) (any, error) {
			r := req.(TakenRequest)
			rs, err := s.Taken(ctx, r.Actor, r.DoctorID, r.From, r.To)
			return TakenResponse{DoctorID: r.DoctorID, Ranges: rs}, err
		},
		JoinWaitlist: func(ctx context.Context, req any) (any, error) {
			r := req.(JoinWaitlistRequest)
			e, err := s.JoinWaitlist(ctx, r.Actor, r.In)
			return WaitlistEntryResponse{Entry: e}, err
		},
		MyWaitlist: func(ctx context.Context, req any) (any, error) {
			es, err := s.MyWaitlist(ctx, req.(MyWaitlistRequest).Actor)
			return WaitlistResponse{Entries: es}, err
		},
		WaitlistEntry: func(ctx context.Context, req any) (any, error) {
			r := req.(WaitlistEntryRequest)
			e, err := s.WaitlistEntry(ctx, r.Actor, r.ID)
			return WaitlistEntryResponse{Entry: e}, err
		},
		LeaveWaitlist: func(ctx context.Context, req any) (any, error) {
			r := req.(LeaveWaitlistRequest)
			return NoContentResponse{}, s.LeaveWaitlist(ctx, r.Actor, r.ID)
		},
		AuditTrail: func(ctx context.Context, req any) (any, error) {
			r := req.(AuditTrailRequest)
			p, err := s.AuditTrail(ctx, r.Actor, r.Query)
			return AuditPageResponse{Page: p}, err
		},
	}
}
