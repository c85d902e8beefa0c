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
	return func(next Service) Service { return &observed{next: next, logger: logger, m: m} }
}

type observed struct {
	next   Service
	logger log.Logger
	m      metrics.Method
}

// observe ends a call begun at begin; it is deferred with a pointer to the
// call's named error, so that it sees the error the call returns.
func (s *observed) observe(ctx context.Context, method string, begin time.Time, err *error) {
	logging.Call(ctx, s.logger, method, begin, *err)
	s.m.Observe(method, begin, *err)
}

func (s *observed) CreatePatient(ctx context.Context, actor authn.Principal, in NewPatient) (p patient.Patient, err error) {
	defer s.observe(ctx, "CreatePatient", time.Now(), &err)
	return s.next.CreatePatient(ctx, actor, in)
}

func (s *observed) MyPatient(ctx context.Context, actor authn.Principal) (p patient.Patient, err error) {
	defer s.observe(ctx, "MyPatient", time.Now(), &err)
	return s.next.MyPatient(ctx, actor)
}

func (s *observed) GetPatient(ctx context.Context, actor authn.Principal, id string) (p patient.Patient, err error) {
	defer s.observe(ctx, "GetPatient", time.Now(), &err)
	return s.next.GetPatient(ctx, actor, id)
}

func (s *observed) UpdatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in PatientUpdate) (p patient.Patient, err error) {
	defer s.observe(ctx, "UpdatePatient", time.Now(), &err)
	return s.next.UpdatePatient(ctx, actor, id, ifMatch, in)
}

func (s *observed) DeactivatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64) (err error) {
	defer s.observe(ctx, "DeactivatePatient", time.Now(), &err)
	return s.next.DeactivatePatient(ctx, actor, id, ifMatch)
}

func (s *observed) SearchPatients(ctx context.Context, actor authn.Principal, q patient.SearchQuery) (p page.Page[patient.Patient], err error) {
	defer s.observe(ctx, "SearchPatients", time.Now(), &err)
	return s.next.SearchPatients(ctx, actor, q)
}

func (s *observed) ListHistory(ctx context.Context, actor authn.Principal, q patient.HistoryQuery) (p page.Page[patient.HistoryEntry], err error) {
	defer s.observe(ctx, "ListHistory", time.Now(), &err)
	return s.next.ListHistory(ctx, actor, q)
}

func (s *observed) GetHistoryEntry(ctx context.Context, actor authn.Principal, patientID, entryID string) (e patient.HistoryEntry, err error) {
	defer s.observe(ctx, "GetHistoryEntry", time.Now(), &err)
	return s.next.GetHistoryEntry(ctx, actor, patientID, entryID)
}

func (s *observed) RecordHistory(ctx context.Context, actor authn.Principal, patientID string, in EntryInput) (e patient.HistoryEntry, err error) {
	defer s.observe(ctx, "RecordHistory", time.Now(), &err)
	return s.next.RecordHistory(ctx, actor, patientID, in)
}

func (s *observed) AmendHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64, in EntryAmendment) (e patient.HistoryEntry, err error) {
	defer s.observe(ctx, "AmendHistory", time.Now(), &err)
	return s.next.AmendHistory(ctx, actor, patientID, entryID, ifMatch, in)
}

func (s *observed) RetractHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64) (err error) {
	defer s.observe(ctx, "RetractHistory", time.Now(), &err)
	return s.next.RetractHistory(ctx, actor, patientID, entryID, ifMatch)
}

func (s *observed) HistoryRevisions(ctx context.Context, actor authn.Principal, patientID, entryID string) (r []patient.HistoryEntry, err error) {
	defer s.observe(ctx, "HistoryRevisions", time.Now(), &err)
	return s.next.HistoryRevisions(ctx, actor, patientID, entryID)
}

func (s *observed) AuditTrail(ctx context.Context, actor authn.Principal, q patient.AuditQuery) (p page.Page[patient.AuditEvent], err error) {
	defer s.observe(ctx, "AuditTrail", time.Now(), &err)
	return s.next.AuditTrail(ctx, actor, q)
}
