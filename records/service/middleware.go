package service

import (
	"context"
	"io"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/page"
)

// Middleware logs each call by the one rule of logging.Call (faults at
// error level, the rest at debug) and counts it with its latency by
// metrics.Method.Observe; it never logs arguments or results, which hold
// clinical data.
func Middleware(logger log.Logger, m metrics.Method) func(Service) Service {
	o := logging.Observer{Logger: logger, Metrics: m}
	return func(next Service) Service { return &observed{next: next, o: o} }
}

type observed struct {
	next Service
	o    logging.Observer
}

func (s *observed) OpenEncounter(ctx context.Context, actor authn.Principal, patientID string, in record.Clinical) (e record.Encounter, err error) {
	defer s.o.Done(ctx, "OpenEncounter", time.Now(), &err)
	return s.next.OpenEncounter(ctx, actor, patientID, in)
}

func (s *observed) GetEncounter(ctx context.Context, actor authn.Principal, reason, patientID, id string) (v EncounterView, err error) {
	defer s.o.Done(ctx, "GetEncounter", time.Now(), &err)
	return s.next.GetEncounter(ctx, actor, reason, patientID, id)
}

func (s *observed) ListEncounters(ctx context.Context, actor authn.Principal, reason string, q record.EncounterQuery) (p page.Page[record.Encounter], err error) {
	defer s.o.Done(ctx, "ListEncounters", time.Now(), &err)
	return s.next.ListEncounters(ctx, actor, reason, q)
}

func (s *observed) UpdateEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, in EncounterUpdate) (e record.Encounter, err error) {
	defer s.o.Done(ctx, "UpdateEncounter", time.Now(), &err)
	return s.next.UpdateEncounter(ctx, actor, patientID, id, ifMatch, in)
}

func (s *observed) SignEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64) (e record.Encounter, err error) {
	defer s.o.Done(ctx, "SignEncounter", time.Now(), &err)
	return s.next.SignEncounter(ctx, actor, patientID, id, ifMatch)
}

func (s *observed) RetractEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, why string) (e record.Encounter, err error) {
	defer s.o.Done(ctx, "RetractEncounter", time.Now(), &err)
	return s.next.RetractEncounter(ctx, actor, patientID, id, ifMatch, why)
}

func (s *observed) AddAddendum(ctx context.Context, actor authn.Principal, patientID, id, text string) (a record.Addendum, err error) {
	defer s.o.Done(ctx, "AddAddendum", time.Now(), &err)
	return s.next.AddAddendum(ctx, actor, patientID, id, text)
}

func (s *observed) EncounterRevisions(ctx context.Context, actor authn.Principal, reason, patientID, id string) (r []record.Encounter, err error) {
	defer s.o.Done(ctx, "EncounterRevisions", time.Now(), &err)
	return s.next.EncounterRevisions(ctx, actor, reason, patientID, id)
}

func (s *observed) UploadDocument(ctx context.Context, actor authn.Principal, patientID string, meta record.DocumentMeta, body io.Reader) (d record.Document, err error) {
	defer s.o.Done(ctx, "UploadDocument", time.Now(), &err)
	return s.next.UploadDocument(ctx, actor, patientID, meta, body)
}

func (s *observed) ReplaceDocument(ctx context.Context, actor authn.Principal, patientID, id string, meta record.DocumentMeta, body io.Reader) (d record.Document, err error) {
	defer s.o.Done(ctx, "ReplaceDocument", time.Now(), &err)
	return s.next.ReplaceDocument(ctx, actor, patientID, id, meta, body)
}

func (s *observed) GetDocument(ctx context.Context, actor authn.Principal, patientID, id string) (d record.Document, err error) {
	defer s.o.Done(ctx, "GetDocument", time.Now(), &err)
	return s.next.GetDocument(ctx, actor, patientID, id)
}

func (s *observed) ListDocuments(ctx context.Context, actor authn.Principal, q record.DocumentQuery) (p page.Page[record.Document], err error) {
	defer s.o.Done(ctx, "ListDocuments", time.Now(), &err)
	return s.next.ListDocuments(ctx, actor, q)
}

func (s *observed) RetractDocument(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, why string) (d record.Document, err error) {
	defer s.o.Done(ctx, "RetractDocument", time.Now(), &err)
	return s.next.RetractDocument(ctx, actor, patientID, id, ifMatch, why)
}

func (s *observed) OpenContent(ctx context.Context, actor authn.Principal, reason, patientID, id string) (d record.Document, b Blob, err error) {
	defer s.o.Done(ctx, "OpenContent", time.Now(), &err)
	return s.next.OpenContent(ctx, actor, reason, patientID, id)
}

func (s *observed) ContentLink(ctx context.Context, actor authn.Principal, reason, patientID, id string) (l Link, err error) {
	defer s.o.Done(ctx, "ContentLink", time.Now(), &err)
	return s.next.ContentLink(ctx, actor, reason, patientID, id)
}

func (s *observed) Treating(ctx context.Context, actor authn.Principal, patientID string) (ok bool, err error) {
	defer s.o.Done(ctx, "Treating", time.Now(), &err)
	return s.next.Treating(ctx, actor, patientID)
}

func (s *observed) AuditTrail(ctx context.Context, actor authn.Principal, q record.AuditQuery) (p page.Page[record.AuditEvent], err error) {
	defer s.o.Done(ctx, "AuditTrail", time.Now(), &err)
	return s.next.AuditTrail(ctx, actor, q)
}
