// Package endpoint adapts each patient use case to a go-kit endpoint with
// its request and response types.
package endpoint

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
)

// Endpoints holds one endpoint per use case.
type Endpoints struct {
	CreatePatient     endpoint.Endpoint
	MyPatient         endpoint.Endpoint
	GetPatient        endpoint.Endpoint
	UpdatePatient     endpoint.Endpoint
	DeactivatePatient endpoint.Endpoint
	SearchPatients    endpoint.Endpoint
	ListHistory       endpoint.Endpoint
	GetHistoryEntry   endpoint.Endpoint
	RecordHistory     endpoint.Endpoint
	AmendHistory      endpoint.Endpoint
	RetractHistory    endpoint.Endpoint
	HistoryRevisions  endpoint.Endpoint
	AuditTrail        endpoint.Endpoint
}

// Requests: each carries the actor the transport authenticated.
type (
	CreatePatientRequest struct {
		Actor service.Actor
		In    service.NewPatient
	}
	MyPatientRequest  struct{ Actor service.Actor }
	GetPatientRequest struct {
		Actor service.Actor
		ID    string
	}
	UpdatePatientRequest struct {
		Actor   service.Actor
		ID      string
		IfMatch int64
		In      service.PatientUpdate
	}
	DeactivatePatientRequest struct {
		Actor   service.Actor
		ID      string
		IfMatch int64
	}
	SearchPatientsRequest struct {
		Actor service.Actor
		Query patient.SearchQuery
	}
	ListHistoryRequest struct {
		Actor service.Actor
		Query patient.HistoryQuery
	}
	EntryRequest struct {
		Actor     service.Actor
		PatientID string
		EntryID   string
	}
	RecordHistoryRequest struct {
		Actor     service.Actor
		PatientID string
		In        service.EntryInput
	}
	AmendHistoryRequest struct {
		Actor     service.Actor
		PatientID string
		EntryID   string
		IfMatch   int64
		In        service.EntryInput
	}
	RetractHistoryRequest struct {
		Actor     service.Actor
		PatientID string
		EntryID   string
		IfMatch   int64
	}
	AuditTrailRequest struct {
		Actor service.Actor
		Query patient.AuditQuery
	}
)

// Responses. Errors are returned as the endpoint's error, never in a body.
type (
	PatientResponse struct {
		Patient patient.Patient
		Created bool
	}
	PatientPageResponse struct{ Page patient.Page[patient.Patient] }
	EntryResponse       struct {
		Entry   patient.HistoryEntry
		Created bool
	}
	EntryPageResponse struct {
		Page patient.Page[patient.HistoryEntry]
	}
	RevisionsResponse struct{ Revisions []patient.HistoryEntry }
	AuditPageResponse struct {
		Page patient.Page[patient.AuditEvent]
	}
	// NoContentResponse answers a request that has nothing to send back.
	NoContentResponse struct{}
)

// MakeEndpoints returns the endpoints of s.
func MakeEndpoints(s service.Service) Endpoints {
	return Endpoints{
		CreatePatient: func(ctx context.Context, r any) (any, error) {
			req := r.(CreatePatientRequest)
			p, err := s.CreatePatient(ctx, req.Actor, req.In)
			return respond(PatientResponse{Patient: p, Created: true}, err)
		},
		MyPatient: func(ctx context.Context, r any) (any, error) {
			p, err := s.MyPatient(ctx, r.(MyPatientRequest).Actor)
			return respond(PatientResponse{Patient: p}, err)
		},
		GetPatient: func(ctx context.Context, r any) (any, error) {
			req := r.(GetPatientRequest)
			p, err := s.GetPatient(ctx, req.Actor, req.ID)
			return respond(PatientResponse{Patient: p}, err)
		},
		UpdatePatient: func(ctx context.Context, r any) (any, error) {
			req := r.(UpdatePatientRequest)
			p, err := s.UpdatePatient(ctx, req.Actor, req.ID, req.IfMatch, req.In)
			return respond(PatientResponse{Patient: p}, err)
		},
		DeactivatePatient: func(ctx context.Context, r any) (any, error) {
			req := r.(DeactivatePatientRequest)
			return respond(NoContentResponse{}, s.DeactivatePatient(ctx, req.Actor, req.ID, req.IfMatch))
		},
		SearchPatients: func(ctx context.Context, r any) (any, error) {
			req := r.(SearchPatientsRequest)
			page, err := s.SearchPatients(ctx, req.Actor, req.Query)
			return respond(PatientPageResponse{Page: page}, err)
		},
		ListHistory: func(ctx context.Context, r any) (any, error) {
			req := r.(ListHistoryRequest)
			page, err := s.ListHistory(ctx, req.Actor, req.Query)
			return respond(EntryPageResponse{Page: page}, err)
		},
		GetHistoryEntry: func(ctx context.Context, r any) (any, error) {
			req := r.(EntryRequest)
			e, err := s.GetHistoryEntry(ctx, req.Actor, req.PatientID, req.EntryID)
			return respond(EntryResponse{Entry: e}, err)
		},
		RecordHistory: func(ctx context.Context, r any) (any, error) {
			req := r.(RecordHistoryRequest)
			e, err := s.RecordHistory(ctx, req.Actor, req.PatientID, req.In)
			return respond(EntryResponse{Entry: e, Created: true}, err)
		},
		AmendHistory: func(ctx context.Context, r any) (any, error) {
			req := r.(AmendHistoryRequest)
			e, err := s.AmendHistory(ctx, req.Actor, req.PatientID, req.EntryID, req.IfMatch, req.In)
			return respond(EntryResponse{Entry: e}, err)
		},
		RetractHistory: func(ctx context.Context, r any) (any, error) {
			req := r.(RetractHistoryRequest)
			return respond(NoContentResponse{}, s.RetractHistory(ctx, req.Actor, req.PatientID, req.EntryID, req.IfMatch))
		},
		HistoryRevisions: func(ctx context.Context, r any) (any, error) {
			req := r.(EntryRequest)
			revs, err := s.HistoryRevisions(ctx, req.Actor, req.PatientID, req.EntryID)
			return respond(RevisionsResponse{Revisions: revs}, err)
		},
		AuditTrail: func(ctx context.Context, r any) (any, error) {
			req := r.(AuditTrailRequest)
			page, err := s.AuditTrail(ctx, req.Actor, req.Query)
			return respond(AuditPageResponse{Page: page}, err)
		},
	}
}

func respond(resp any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return resp, nil
}
