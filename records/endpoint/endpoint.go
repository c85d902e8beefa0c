// Package endpoint adapts each records use case to a go-kit endpoint with
// its request and response types.
package endpoint

import (
	"context"
	"io"

	kitendpoint "github.com/go-kit/kit/endpoint"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/authn"
)

// Set holds one endpoint per use case.
type Set struct {
	OpenEncounter      kitendpoint.Endpoint
	GetEncounter       kitendpoint.Endpoint
	ListEncounters     kitendpoint.Endpoint
	UpdateEncounter    kitendpoint.Endpoint
	SignEncounter      kitendpoint.Endpoint
	RetractEncounter   kitendpoint.Endpoint
	AddAddendum        kitendpoint.Endpoint
	EncounterRevisions kitendpoint.Endpoint
	UploadDocument     kitendpoint.Endpoint
	ReplaceDocument    kitendpoint.Endpoint
	GetDocument        kitendpoint.Endpoint
	ListDocuments      kitendpoint.Endpoint
	RetractDocument    kitendpoint.Endpoint
	OpenContent        kitendpoint.Endpoint
	ContentLink        kitendpoint.Endpoint
	AuditTrail         kitendpoint.Endpoint
	Treating           kitendpoint.Endpoint
}

// Requests: each carries the caller the transport authenticated and, for
// reads of clinical content, the break-glass reason given.
type (
	// ItemRequest names one encounter or document of a patient.
	ItemRequest struct {
		Actor     authn.Principal
		Reason    string
		PatientID string
		ID        string
	}
	OpenEncounterRequest struct {
		Actor     authn.Principal
		PatientID string
		In        record.Clinical
	}
	ListEncountersRequest struct {
		Actor  authn.Principal
		Reason string
		Query  record.EncounterQuery
	}
	UpdateEncounterRequest struct {
		ItemRequest
		IfMatch int64
		In      service.EncounterUpdate
	}
	SignEncounterRequest struct {
		ItemRequest
		IfMatch int64
	}
	RetractRequest struct {
		ItemRequest
		IfMatch int64
		Why     string
	}
	AddendumRequest struct {
		ItemRequest
		Text string
	}
	UploadRequest struct {
		Actor     authn.Principal
		PatientID string
		Replaces  string // a document id for a new version, "" for a new document
		Meta      record.DocumentMeta
		Body      io.Reader
	}
	ListDocumentsRequest struct {
		Actor authn.Principal
		Query record.DocumentQuery
	}
	AuditRequest struct {
		Actor authn.Principal
		Query record.AuditQuery
	}
)

// TreatingResponse tells a doctor whether they treat the patient.
type TreatingResponse struct {
	PatientID string
	Treating  bool
}

// ContentResponse is a document's content to stream; the transport closes
// Blob.
type ContentResponse struct {
	Doc  record.Document
	Blob service.Blob
}

// New builds the endpoints over s.
func New(s service.Service) Set {
	return Set{
		OpenEncounter: func(ctx context.Context, req any) (any, error) {
			r := req.(OpenEncounterRequest)
			return s.OpenEncounter(ctx, r.Actor, r.PatientID, r.In)
		},
		GetEncounter: func(ctx context.Context, req any) (any, error) {
			r := req.(ItemRequest)
			return s.GetEncounter(ctx, r.Actor, r.Reason, r.PatientID, r.ID)
		},
		ListEncounters: func(ctx context.Context, req any) (any, error) {
			r := req.(ListEncountersRequest)
			return s.ListEncounters(ctx, r.Actor, r.Reason, r.Query)
		},
		UpdateEncounter: func(ctx context.Context, req any) (any, error) {
			r := req.(UpdateEncounterRequest)
			return s.UpdateEncounter(ctx, r.Actor, r.PatientID, r.ID, r.IfMatch, r.In)
		},
		SignEncounter: func(ctx context.Context, req any) (any, error) {
			r := req.(SignEncounterRequest)
			return s.SignEncounter(ctx, r.Actor, r.PatientID, r.ID, r.IfMatch)
		},
		RetractEncounter: func(ctx context.Context, req any) (any, error) {
			r := req.(RetractRequest)
			return s.RetractEncounter(ctx, r.Actor, r.PatientID, r.ID, r.IfMatch, r.Why)
		},
		AddAddendum: func(ctx context.Context, req any) (any, error) {
			r := req.(AddendumRequest)
			return s.AddAddendum(ctx, r.Actor, r.PatientID, r.ID, r.Text)
		},
		EncounterRevisions: func(ctx context.Context, req any) (any, error) {
			r := req.(ItemRequest)
			return s.EncounterRevisions(ctx, r.Actor, r.Reason, r.PatientID, r.ID)
		},
		UploadDocument: func(ctx context.Context, req any) (any, error) {
			r := req.(UploadRequest)
			return s.UploadDocument(ctx, r.Actor, r.PatientID, r.Meta, r.Body)
		},
		ReplaceDocument: func(ctx context.Context, req any) (any, error) {
			r := req.(UploadRequest)
			return s.ReplaceDocument(ctx, r.Actor, r.PatientID, r.Replaces, r.Meta, r.Body)
		},
		GetDocument: func(ctx context.Context, req any) (any, error) {
			r := req.(ItemRequest)
			return s.GetDocument(ctx, r.Actor, r.PatientID, r.ID)
		},
		ListDocuments: func(ctx context.Context, req any) (any, error) {
			r := req.(ListDocumentsRequest)
			return s.ListDocuments(ctx, r.Actor, r.Query)
		},
		RetractDocument: func(ctx context.Context, req any) (any, error) {
			r := req.(RetractRequest)
			return s.RetractDocument(ctx, r.Actor, r.PatientID, r.ID, r.IfMatch, r.Why)
		},
		OpenContent: func(ctx context.Context, req any) (any, error) {
			r := req.(ItemRequest)
			d, b, err := s.OpenContent(ctx, r.Actor, r.Reason, r.PatientID, r.ID)
			if err != nil {
				return nil, err
			}
			return ContentResponse{Doc: d, Blob: b}, nil
		},
		ContentLink: func(ctx context.Context, req any) (any, error) {
			r := req.(ItemRequest)
			return s.ContentLink(ctx, r.Actor, r.Reason, r.PatientID, r.ID)
		},
		AuditTrail: func(ctx context.Context, req any) (any, error) {
			r := req.(AuditRequest)
			return s.AuditTrail(ctx, r.Actor, r.Query)
		},
		Treating: func(ctx context.Context, req any) (any, error) {
			r := req.(ItemRequest)
			ok, err := s.Treating(ctx, r.Actor, r.PatientID)
			if err != nil {
				return nil, err
			}
			return TreatingResponse{PatientID: r.PatientID, Treating: ok}, nil
		},
	}
}
