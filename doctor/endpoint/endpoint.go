// Package endpoint exposes each use case of the doctor service as a go-kit
// endpoint with its request and response types.
package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
)

// Set holds one endpoint per use case.
type Set struct {
	CreateDoctor         endpoint.Endpoint
	MyDoctor             endpoint.Endpoint
	GetDoctor            endpoint.Endpoint
	UpdateDoctor         endpoint.Endpoint
	DeactivateDoctor     endpoint.Endpoint
	SearchDoctors        endpoint.Endpoint
	ListSpecializations  endpoint.Endpoint
	GetSpecialization    endpoint.Endpoint
	CreateSpecialization endpoint.Endpoint
	UpdateSpecialization endpoint.Endpoint
	DeleteSpecialization endpoint.Endpoint
	GetAvailability      endpoint.Endpoint
	ReplaceAvailability  endpoint.Endpoint
	Slots                endpoint.Endpoint
}

// Request and response types.
type (
	CreateDoctorRequest struct{ In service.DoctorInput }
	MyDoctorRequest     struct{}
	GetDoctorRequest    struct{ ID string }
	UpdateDoctorRequest struct {
		ID      string
		IfMatch int64
		In      service.DoctorInput
	}
	DeactivateDoctorRequest struct{ ID string }
	SearchDoctorsRequest    struct{ In service.SearchInput }
	// DoctorResponse carries one doctor; Created tells a new one.
	DoctorResponse struct {
		Doctor  profile.Doctor
		Created bool
	}
	DoctorPageResponse struct{ Page service.DoctorPage }
	// NoContentResponse answers deletions.
	NoContentResponse struct{}

	ListSpecializationsRequest  struct{ Limit, Cursor string }
	GetSpecializationRequest    struct{ ID string }
	CreateSpecializationRequest struct {
		In service.SpecializationInput
	}
	UpdateSpecializationRequest struct {
		ID      string
		IfMatch int64
		In      service.SpecializationInput
	}
	DeleteSpecializationRequest struct{ ID string }
	SpecializationResponse      struct {
		Specialization profile.Specialization
		Created        bool
	}
	SpecializationPageResponse struct{ Page service.SpecializationPage }

	GetAvailabilityRequest     struct{ DoctorID string }
	ReplaceAvailabilityRequest struct {
		DoctorID string
		IfMatch  int64
		In       schedule.Input
	}
	AvailabilityResponse struct{ View service.AvailabilityView }
	SlotsRequest         struct{ DoctorID, From, To string }
	SlotsResponse        struct{ List service.SlotList }
)

// New builds the endpoints of s.
func New(s service.Service) Set {
	return Set{
		CreateDoctor: func(ctx context.Context, req any) (any, error) {
			r := req.(CreateDoctorRequest)
			d, err := s.CreateDoctor(ctx, r.In)
			return DoctorResponse{Doctor: d, Created: true}, err
		},
		MyDoctor: func(ctx context.Context, _ any) (any, error) {
			d, err := s.MyDoctor(ctx)
			return DoctorResponse{Doctor: d}, err
		},
		GetDoctor: func(ctx context.Context, req any) (any, error) {
			d, err := s.GetDoctor(ctx, req.(GetDoctorRequest).ID)
			return DoctorResponse{Doctor: d}, err
		},
		UpdateDoctor: func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateDoctorRequest)
			d, err := s.UpdateDoctor(ctx, r.ID, r.IfMatch, r.In)
			return DoctorResponse{Doctor: d}, err
		},
		DeactivateDoctor: func(ctx context.Context, req any) (any, error) {
			return NoContentResponse{}, s.DeactivateDoctor(ctx, req.(DeactivateDoctorRequest).ID)
		},
		SearchDoctors: func(ctx context.Context, req any) (any, error) {
			p, err := s.SearchDoctors(ctx, req.(SearchDoctorsRequest).In)
			return DoctorPageResponse{Page: p}, err
		},
		ListSpecializations: func(ctx context.Context, req any) (any, error) {
			r := req.(ListSpecializationsRequest)
			p, err := s.ListSpecializations(ctx, r.Limit, r.Cursor)
			return SpecializationPageResponse{Page: p}, err
		},
		GetSpecialization: func(ctx context.Context, req any) (any, error) {
			sp, err := s.GetSpecialization(ctx, req.(GetSpecializationRequest).ID)
			return SpecializationResponse{Specialization: sp}, err
		},
		CreateSpecialization: func(ctx context.Context, req any) (any, error) {
			sp, err := s.CreateSpecialization(ctx, req.(CreateSpecializationRequest).In)
			return SpecializationResponse{Specialization: sp, Created: true}, err
		},
		UpdateSpecialization: func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateSpecializationRequest)
			sp, err := s.UpdateSpecialization(ctx, r.ID, r.IfMatch, r.In)
			return SpecializationResponse{Specialization: sp}, err
		},
		DeleteSpecialization: func(ctx context.Context, req any) (any, error) {
			return NoContentResponse{}, s.DeleteSpecialization(ctx, req.(DeleteSpecializationRequest).ID)
		},
		GetAvailability: func(ctx context.Context, req any) (any, error) {
			v, err := s.GetAvailability(ctx, req.(GetAvailabilityRequest).DoctorID)
			return AvailabilityResponse{View: v}, err
		},
		ReplaceAvailability: func(ctx context.Context, req any) (any, error) {
			r := req.(ReplaceAvailabilityRequest)
			v, err := s.ReplaceAvailability(ctx, r.DoctorID, r.IfMatch, r.In)
			return AvailabilityResponse{View: v}, err
		},
		Slots: func(ctx context.Context, req any) (any, error) {
			r := req.(SlotsRequest)
			l, err := s.Slots(ctx, r.DoctorID, r.From, r.To)
			return SlotsResponse{List: l}, err
		},
	}
}
