// Package endpoint adapts each patient use case to a go-kit endpoint with
// its request and response types.
package endpoint

import (
	"context"

	kitendpoint "github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/page"
)

// Set holds one endpoint per use case.
type Set struct {
	CreatePatient     kitendpoint.Endpoint
	MyPatient         kitendpoint.Endpoint
	GetPatient        kitendpoint.Endpoint
	UpdatePatient     kitendpoint.Endpoint
	DeactivatePatient kitendpoint.Endpoint
	SearchPatients    kitendpoint.Endpoint
	ListHistory       kitendpoint.Endpoint
	GetHistoryEntry   kitendpoint.Endpoint
	RecordHistory     kitendpoint.Endpoint
	AmendHistory      kitendpoint.Endpoint
	RetractHistory    kitendpoint.Endpoint
	HistoryRevisions  kitendpoint.Endpoint
	AuditTrail        kitendpoint.Endpoint
}

// Requests: each carries the caller the transport authenticated.
type (
	CreatePatientRequest struct {
		Actor authn.Principal
		In    service.NewPatient
	}
	MyPatientRequest  struct{ Actor authn.Principal }
	GetPatientRequest struct {
		Actor authn.Principal
		ID    string
	}
	UpdatePatientRequest struct {
		Actor   authn.Principal
		ID      string
		IfMatch int64
		In      service.PatientUpdate
	}
	DeactivatePatientRequest struct {
		Actor   authn.Principal
		ID      string
		IfMatch int64
	}
	SearchPatientsRequest struct {
		Actor authn.Principal
		Query patient.SearchQuery
	}
	ListHistoryRequest struct {
		Actor authn.Principal
		Query patient.HistoryQuery
	}
	EntryRequest struct {
		Actor     authn.Principal
		PatientID string
		EntryID   string
	}
	RecordHistoryRequest struct {
		Actor     authn.Principal
		PatientID string
		In        service.EntryInput
	}
	AmendHistoryRequest struct {
		Actor     authn.Principal
		PatientID string
		EntryID   string
		IfMatch   int64
		In        service.EntryAmendment
	}
	RetractHistoryRequest struct {
		Actor     authn.Principal
		PatientID string
		EntryID   string
		IfMatch   int64
	}
	AuditTrailRequest struct {
		Actor authn.Principal
		Query patient.AuditQuery
	}
)

// Responses. Errors are returned as the endpoint's error, never in a body.
type (
	PatientResponse struct {
		Patient patient.Patient
		Created bool
	}
	PatientPageResponse struct{ Page page.Page[patient.Patient] }
	EntryResponse       struct {
		Entry   patient.HistoryEntry
		Created bool
	}
	EntryPageResponse struct {
		Page page.Page[patient.HistoryEntry]
	}
	RevisionsResponse struct{ Revisions []patient.HistoryEntry }
	AuditPageResponse struct {
		Page page.Page[patient.AuditEvent]
	}
	// NoContentResponse answers a request that has nothing to send back.
	NoContentResponse struct{}
)

// New returns the endpoints of s.
func New(s service.Service) Set {
	return Set{
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
			found, err := s.SearchPatients(ctx, req.Actor, req.Query)
			return respond(PatientPageResponse{Page: found}, err)
		},
		ListHistory: func(ctx context.Context, r any) (any, error) {
			req := r.(ListHistoryRequest)
			entries, err := s.ListHistory(ctx, req.Actor, req.Query)
			return respond(EntryPageResponse{Page: entries}, err)
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
			trail, err := s.AuditTrail(ctx, req.Actor, req.Query)
			return respond(AuditPageResponse{Page: trail}, err)
		},
	}
}

func respond(resp any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return resp, nil
}
