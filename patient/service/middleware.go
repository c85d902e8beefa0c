package service

import (
	"context"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/page"
)

// Middleware logs each call by the one rule of logging.Call (faults at
// error level, the rest at debug) and counts it with its latency by
// metrics.Method.Observe (only faults count as failures); it never logs
// arguments or results, which hold patient data.
func Middleware(logger log.Logger, m metrics.Method) func(Service) Service {
	o := logging.Observer{Logger: logger, Metrics: m}
	return func(next Service) Service { return &observed{next: next, o: o} }
}

type observed struct {
	next Service
	o    logging.Observer
}

func (s *observed) CreatePatient(ctx context.Context, actor authn.Principal, in NewPatient) (p patient.Patient, err error) {
	defer s.o.Done(ctx, "CreatePatient", time.Now(), &err)
	return s.next.CreatePatient(ctx, actor, in)
}

func (s *observed) MyPatient(ctx context.Context, actor authn.Principal) (p patient.Patient, err error) {
	defer s.o.Done(ctx, "MyPatient", time.Now(), &err)
	return s.next.MyPatient(ctx, actor)
}

func (s *observed) GetPatient(ctx context.Context, actor authn.Principal, id string) (p patient.Patient, err error) {
	defer s.o.Done(ctx, "GetPatient", time.Now(), &err)
	return s.next.GetPatient(ctx, actor, id)
}

func (s *observed) UpdatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in PatientUpdate) (p patient.Patient, err error) {
	defer s.o.Done(ctx, "UpdatePatient", time.Now(), &err)
	return s.next.UpdatePatient(ctx, actor, id, ifMatch, in)
}

func (s *observed) DeactivatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64) (err error) {
	defer s.o.Done(ctx, "DeactivatePatient", time.Now(), &err)
	return s.next.DeactivatePatient(ctx, actor, id, ifMatch)
}

func (s *observed) SearchPatients(ctx context.Context, actor authn.Principal, q patient.SearchQuery) (p page.Page[patient.Patient], err error) {
	defer s.o.Done(ctx, "SearchPatients", time.Now(), &err)
	return s.next.SearchPatients(ctx, actor, q)
}

func (s *observed) ListHistory(ctx context.Context, actor authn.Principal, q patient.HistoryQuery) (p page.Page[patient.HistoryEntry], err error) {
	defer s.o.Done(ctx, "ListHistory", time.Now(), &err)
	return s.next.ListHistory(ctx, actor, q)
}

func (s *observed) GetHistoryEntry(ctx context.Context, actor authn.Principal, patientID, entryID string) (e patient.HistoryEntry, err error) {
	defer s.o.Done(ctx, "GetHistoryEntry", time.Now(), &err)
	return s.next.GetHistoryEntry(ctx, actor, patientID, entryID)
}

func (s *observed) RecordHistory(ctx context.Context, actor authn.Principal, patientID string, in EntryInput) (e patient.HistoryEntry, err error) {
	defer s.o.Done(ctx, "RecordHistory", time.Now(), &err)
	return s.next.RecordHistory(ctx, actor, patientID, in)
}

func (s *observed) AmendHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64, in EntryAmendment) (e patient.HistoryEntry, err error) {
	defer s.o.Done(ctx, "AmendHistory", time.Now(), &err)
	return s.next.AmendHistory(ctx, actor, patientID, entryID, ifMatch, in)
}

func (s *observed) RetractHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64) (err error) {
	defer s.o.Done(ctx, "RetractHistory", time.Now(), &err)
	return s.next.RetractHistory(ctx, actor, patientID, entryID, ifMatch)
}

func (s *observed) HistoryRevisions(ctx context.Context, actor authn.Principal, patientID, entryID string) (r []patient.HistoryEntry, err error) {
	defer s.o.Done(ctx, "HistoryRevisions", time.Now(), &err)
	return s.next.HistoryRevisions(ctx, actor, patientID, entryID)
}

func (s *observed) AuditTrail(ctx context.Context, actor authn.Principal, q patient.AuditQuery) (p page.Page[patient.AuditEvent], err error) {
	defer s.o.Done(ctx, "AuditTrail", time.Now(), &err)
	return s.next.AuditTrail(ctx, actor, q)
}
