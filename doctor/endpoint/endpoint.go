// Package endpoint exposes each use case of the doctor service as a go-kit
// endpoint with its request and response types.
package endpoint

import (
	"context"

	kitendpoint "github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/page"
)

// Set holds one endpoint per use case.
type Set struct {
	CreateDoctor         kitendpoint.Endpoint
	MyDoctor             kitendpoint.Endpoint
	GetDoctor            kitendpoint.Endpoint
	UpdateDoctor         kitendpoint.Endpoint
	DeactivateDoctor     kitendpoint.Endpoint
	SearchDoctors        kitendpoint.Endpoint
	ListSpecializations  kitendpoint.Endpoint
	GetSpecialization    kitendpoint.Endpoint
	CreateSpecialization kitendpoint.Endpoint
	UpdateSpecialization kitendpoint.Endpoint
	DeleteSpecialization kitendpoint.Endpoint
	GetAvailability      kitendpoint.Endpoint
	ReplaceAvailability  kitendpoint.Endpoint
	Slots                kitendpoint.Endpoint
	CheckSlot            kitendpoint.Endpoint
}

// Request and response types. Every request carries the caller (Actor),
// which the transport reads from the verified token.
type (
	CreateDoctorRequest struct {
		Actor authn.Principal
		In    service.DoctorInput
	}
	MyDoctorRequest  struct{ Actor authn.Principal }
	GetDoctorRequest struct {
		Actor authn.Principal
		ID    string
	}
	UpdateDoctorRequest struct {
		Actor   authn.Principal
		ID      string
		IfMatch int64
		In      service.DoctorInput
	}
	DeactivateDoctorRequest struct {
		Actor authn.Principal
		ID    string
		// StrandBookings deactivates even when future bookings are left
		// without a working doctor.
		StrandBookings bool
	}
	SearchDoctorsRequest struct {
		Actor authn.Principal
		In    service.SearchInput
	}
	// DoctorResponse carries one doctor; Created tells a new one.
	DoctorResponse struct {
		Doctor  profile.Doctor
		Created bool
	}
	DoctorPageResponse struct{ Page page.Page[profile.Doctor] }
	// NoContentResponse answers deletions.
	NoContentResponse struct{}

	ListSpecializationsRequest struct {
		Actor  authn.Principal
		Limit  int
		Cursor string
	}
	GetSpecializationRequest struct {
		Actor authn.Principal
		ID    string
	}
	CreateSpecializationRequest struct {
		Actor authn.Principal
		In    service.SpecializationInput
	}
	UpdateSpecializationRequest struct {
		Actor   authn.Principal
		ID      string
		IfMatch int64
		In      service.SpecializationInput
	}
	DeleteSpecializationRequest struct {
		Actor authn.Principal
		ID    string
	}
	SpecializationResponse struct {
		Specialization profile.Specialization
		Created        bool
	}
	SpecializationPageResponse struct {
		Page page.Page[profile.Specialization]
	}

	GetAvailabilityRequest struct {
		Actor    authn.Principal
		DoctorID string
	}
	ReplaceAvailabilityRequest struct {
		Actor    authn.Principal
		DoctorID string
		IfMatch  int64
		In       service.AvailabilityInput
	}
	AvailabilityResponse struct{ View service.AvailabilityView }
	SlotsRequest         struct {
		Actor              authn.Principal
		DoctorID, From, To string
	}
	SlotsResponse struct{ List service.SlotList }
	// CheckSlotRequest asks whether [Start, End) is on the doctor's grid.
	CheckSlotRequest struct {
		Actor    authn.Principal
		DoctorID string
		Start    string
		End      string
	}
	CheckSlotResponse struct{ Check service.SlotCheck }
)

// New builds the endpoints of s.
func New(s service.Service) Set {
	return Set{
		CreateDoctor: func(ctx context.Context, req any) (any, error) {
			r := req.(CreateDoctorRequest)
			d, err := s.CreateDoctor(ctx, r.Actor, r.In)
			return DoctorResponse{Doctor: d, Created: true}, err
		},
		MyDoctor: func(ctx context.Context, req any) (any, error) {
			d, err := s.MyDoctor(ctx, req.(MyDoctorRequest).Actor)
			return DoctorResponse{Doctor: d}, err
		},
		GetDoctor: func(ctx context.Context, req any) (any, error) {
			r := req.(GetDoctorRequest)
			d, err := s.GetDoctor(ctx, r.Actor, r.ID)
			return DoctorResponse{Doctor: d}, err
		},
		UpdateDoctor: func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateDoctorRequest)
			d, err := s.UpdateDoctor(ctx, r.Actor, r.ID, r.IfMatch, r.In)
			return DoctorResponse{Doctor: d}, err
		},
		DeactivateDoctor: func(ctx context.Context, req any) (any, error) {
			r := req.(DeactivateDoctorRequest)
			return NoContentResponse{}, s.DeactivateDoctor(ctx, r.Actor, r.ID, r.StrandBookings)
		},
		SearchDoctors: func(ctx context.Context, req any) (any, error) {
			r := req.(SearchDoctorsRequest)
			p, err := s.SearchDoctors(ctx, r.Actor, r.In)
			return DoctorPageResponse{Page: p}, err
		},
		ListSpecializations: func(ctx context.Context, req any) (any, error) {
			r := req.(ListSpecializationsRequest)
			p, err := s.ListSpecializations(ctx, r.Actor, r.Limit, r.Cursor)
			return SpecializationPageResponse{Page: p}, err
		},
		GetSpecialization: func(ctx context.Context, req any) (any, error) {
			r := req.(GetSpecializationRequest)
			sp, err := s.GetSpecialization(ctx, r.Actor, r.ID)
			return SpecializationResponse{Specialization: sp}, err
		},
		CreateSpecialization: func(ctx context.Context, req any) (any, error) {
			r := req.(CreateSpecializationRequest)
			sp, err := s.CreateSpecialization(ctx, r.Actor, r.In)
			return SpecializationResponse{Specialization: sp, Created: true}, err
		},
		UpdateSpecialization: func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateSpecializationRequest)
			sp, err := s.UpdateSpecialization(ctx, r.Actor, r.ID, r.IfMatch, r.In)
			return SpecializationResponse{Specialization: sp}, err
		},
		DeleteSpecialization: func(ctx context.Context, req any) (any, error) {
			r := req.(DeleteSpecializationRequest)
			return NoContentResponse{}, s.DeleteSpecialization(ctx, r.Actor, r.ID)
		},
		GetAvailability: func(ctx context.Context, req any) (any, error) {
			r := req.(GetAvailabilityRequest)
			v, err := s.GetAvailability(ctx, r.Actor, r.DoctorID)
			return AvailabilityResponse{View: v}, err
		},
		ReplaceAvailability: func(ctx context.Context, req any) (any, error) {
			r := req.(ReplaceAvailabilityRequest)
			v, err := s.ReplaceAvailability(ctx, r.Actor, r.DoctorID, r.IfMatch, r.In)
			return AvailabilityResponse{View: v}, err
		},
		Slots: func(ctx context.Context, req any) (any, error) {
			r := req.(SlotsRequest)
			l, err := s.Slots(ctx, r.Actor, r.DoctorID, r.From, r.To)
			return SlotsResponse{List: l}, err
		},
		CheckSlot: func(ctx context.Context, req any) (any, error) {
			r := req.(CheckSlotRequest)
			c, err := s.CheckSlot(ctx, r.Actor, r.DoctorID, r.Start, r.End)
			return CheckSlotResponse{Check: c}, err
		},
	}
}
