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

// Middleware decorates a Service.
type Middleware func(Service) Service

// LoggingMiddleware logs each call by the one rule of logging.Call: faults
// at error level, the rest at debug, never arguments or results, which hold
// patient data.
func LoggingMiddleware(logger log.Logger) Middleware {
	return func(next Service) Service { return &logged{next: next, logger: logger} }
}

// InstrumentingMiddleware counts calls and observes their latency per
// method; only faults count as failures.
func InstrumentingMiddleware(m metrics.Method) Middleware {
	return func(next Service) Service { return &instrumented{next: next, m: m} }
}

type logged struct {
	next   Service
	logger log.Logger
}

type instrumented struct {
	next Service
	m    metrics.Method
}

func (l *logged) CreatePatient(ctx context.Context, actor authn.Principal, in NewPatient) (p patient.Patient, err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "CreatePatient", b, err) }(time.Now())
	return l.next.CreatePatient(ctx, actor, in)
}

func (l *logged) MyPatient(ctx context.Context, actor authn.Principal) (p patient.Patient, err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "MyPatient", b, err) }(time.Now())
	return l.next.MyPatient(ctx, actor)
}

func (l *logged) GetPatient(ctx context.Context, actor authn.Principal, id string) (p patient.Patient, err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "GetPatient", b, err) }(time.Now())
	return l.next.GetPatient(ctx, actor, id)
}

func (l *logged) UpdatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in PatientUpdate) (p patient.Patient, err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "UpdatePatient", b, err) }(time.Now())
	return l.next.UpdatePatient(ctx, actor, id, ifMatch, in)
}

func (l *logged) DeactivatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64) (err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "DeactivatePatient", b, err) }(time.Now())
	return l.next.DeactivatePatient(ctx, actor, id, ifMatch)
}

func (l *logged) SearchPatients(ctx context.Context, actor authn.Principal, q patient.SearchQuery) (p page.Page[patient.Patient], err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "SearchPatients", b, err) }(time.Now())
	return l.next.SearchPatients(ctx, actor, q)
}

func (l *logged) ListHistory(ctx context.Context, actor authn.Principal, q patient.HistoryQuery) (p page.Page[patient.HistoryEntry], err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "ListHistory", b, err) }(time.Now())
	return l.next.ListHistory(ctx, actor, q)
}

func (l *logged) GetHistoryEntry(ctx context.Context, actor authn.Principal, patientID, entryID string) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "GetHistoryEntry", b, err) }(time.Now())
	return l.next.GetHistoryEntry(ctx, actor, patientID, entryID)
}

func (l *logged) RecordHistory(ctx context.Context, actor authn.Principal, patientID string, in EntryInput) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "RecordHistory", b, err) }(time.Now())
	return l.next.RecordHistory(ctx, actor, patientID, in)
}

func (l *logged) AmendHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64, in EntryAmendment) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "AmendHistory", b, err) }(time.Now())
	return l.next.AmendHistory(ctx, actor, patientID, entryID, ifMatch, in)
}

func (l *logged) RetractHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64) (err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "RetractHistory", b, err) }(time.Now())
	return l.next.RetractHistory(ctx, actor, patientID, entryID, ifMatch)
}

func (l *logged) HistoryRevisions(ctx context.Context, actor authn.Principal, patientID, entryID string) (r []patient.HistoryEntry, err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "HistoryRevisions", b, err) }(time.Now())
	return l.next.HistoryRevisions(ctx, actor, patientID, entryID)
}

func (l *logged) AuditTrail(ctx context.Context, actor authn.Principal, q patient.AuditQuery) (p page.Page[patient.AuditEvent], err error) {
	defer func(b time.Time) { logging.Call(ctx, l.logger, "AuditTrail", b, err) }(time.Now())
	return l.next.AuditTrail(ctx, actor, q)
}

func (i *instrumented) CreatePatient(ctx context.Context, actor authn.Principal, in NewPatient) (p patient.Patient, err error) {
	defer func(b time.Time) { i.m.Observe("CreatePatient", b, err) }(time.Now())
	return i.next.CreatePatient(ctx, actor, in)
}

func (i *instrumented) MyPatient(ctx context.Context, actor authn.Principal) (p patient.Patient, err error) {
	defer func(b time.Time) { i.m.Observe("MyPatient", b, err) }(time.Now())
	return i.next.MyPatient(ctx, actor)
}

func (i *instrumented) GetPatient(ctx context.Context, actor authn.Principal, id string) (p patient.Patient, err error) {
	defer func(b time.Time) { i.m.Observe("GetPatient", b, err) }(time.Now())
	return i.next.GetPatient(ctx, actor, id)
}

func (i *instrumented) UpdatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in PatientUpdate) (p patient.Patient, err error) {
	defer func(b time.Time) { i.m.Observe("UpdatePatient", b, err) }(time.Now())
	return i.next.UpdatePatient(ctx, actor, id, ifMatch, in)
}

func (i *instrumented) DeactivatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64) (err error) {
	defer func(b time.Time) { i.m.Observe("DeactivatePatient", b, err) }(time.Now())
	return i.next.DeactivatePatient(ctx, actor, id, ifMatch)
}

func (i *instrumented) SearchPatients(ctx context.Context, actor authn.Principal, q patient.SearchQuery) (p page.Page[patient.Patient], err error) {
	defer func(b time.Time) { i.m.Observe("SearchPatients", b, err) }(time.Now())
	return i.next.SearchPatients(ctx, actor, q)
}

func (i *instrumented) ListHistory(ctx context.Context, actor authn.Principal, q patient.HistoryQuery) (p page.Page[patient.HistoryEntry], err error) {
	defer func(b time.Time) { i.m.Observe("ListHistory", b, err) }(time.Now())
	return i.next.ListHistory(ctx, actor, q)
}

func (i *instrumented) GetHistoryEntry(ctx context.Context, actor authn.Principal, patientID, entryID string) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { i.m.Observe("GetHistoryEntry", b, err) }(time.Now())
	return i.next.GetHistoryEntry(ctx, actor, patientID, entryID)
}

func (i *instrumented) RecordHistory(ctx context.Context, actor authn.Principal, patientID string, in EntryInput) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { i.m.Observe("RecordHistory", b, err) }(time.Now())
	return i.next.RecordHistory(ctx, actor, patientID, in)
}

func (i *instrumented) AmendHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64, in EntryAmendment) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { i.m.Observe("AmendHistory", b, err) }(time.Now())
	return i.next.AmendHistory(ctx, actor, patientID, entryID, ifMatch, in)
}

func (i *instrumented) RetractHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64) (err error) {
	defer func(b time.Time) { i.m.Observe("RetractHistory", b, err) }(time.Now())
	return i.next.RetractHistory(ctx, actor, patientID, entryID, ifMatch)
}

func (i *instrumented) HistoryRevisions(ctx context.Context, actor authn.Principal, patientID, entryID string) (r []patient.HistoryEntry, err error) {
	defer func(b time.Time) { i.m.Observe("HistoryRevisions", b, err) }(time.Now())
	return i.next.HistoryRevisions(ctx, actor, patientID, entryID)
}

func (i *instrumented) AuditTrail(ctx context.Context, actor authn.Principal, q patient.AuditQuery) (p page.Page[patient.AuditEvent], err error) {
	defer func(b time.Time) { i.m.Observe("AuditTrail", b, err) }(time.Now())
	return i.next.AuditTrail(ctx, actor, q)
}
