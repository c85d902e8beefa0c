package service

import (
	"context"
	"errors"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/problem"
)

// Middleware decorates a Service.
type Middleware func(Service) Service

// Expected reports whether err is an answer to the caller (not found,
// refused, invalid input...) rather than a fault of the service.
func Expected(err error) bool {
	if err == nil {
		return true
	}
	var fe problem.FieldErrors
	var p *problem.Problem
	return errors.As(err, &fe) || errors.As(err, &p) ||
		errors.Is(err, patient.ErrNotFound) || errors.Is(err, patient.ErrForbidden) ||
		errors.Is(err, patient.ErrProfileExists) || errors.Is(err, patient.ErrStaleVersion) ||
		errors.Is(err, patient.ErrPreconditionRequired) || errors.Is(err, patient.ErrEnteredInError) ||
		errors.Is(err, patient.ErrInvalidCursor) || errors.Is(err, context.Canceled)
}

// LoggingMiddleware logs each call's method, duration and outcome: faults
// at error level, the rest at debug. It never logs arguments or results,
// which hold patient data.
func LoggingMiddleware(logger log.Logger) Middleware {
	return func(next Service) Service { return &logged{next: next, logger: logger} }
}

// InstrumentingMiddleware counts calls and observes their latency per
// method and success (faults only count as failures).
func InstrumentingMiddleware(m metrics.Method) Middleware {
	return func(next Service) Service { return &instrumented{next: next, m: m} }
}

type logged struct {
	next   Service
	logger log.Logger
}

func (l *logged) log(ctx context.Context, method string, begin time.Time, err error) {
	lg := logging.FromContext(ctx, l.logger)
	if !Expected(err) {
		_ = level.Error(lg).Log("method", method, "took", time.Since(begin), "err", err)
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "refused"
	}
	_ = level.Debug(lg).Log("method", method, "took", time.Since(begin), "outcome", outcome)
}

type instrumented struct {
	next Service
	m    metrics.Method
}

func (i *instrumented) observe(method string, begin time.Time, err error) {
	// Expected outcomes (not found, conflict...) count as successful calls.
	if Expected(err) {
		err = nil
	}
	i.m.Observe(method, begin, err)
}

func (l *logged) CreatePatient(ctx context.Context, a Actor, in NewPatient) (p patient.Patient, err error) {
	defer func(b time.Time) { l.log(ctx, "CreatePatient", b, err) }(time.Now())
	return l.next.CreatePatient(ctx, a, in)
}

func (l *logged) MyPatient(ctx context.Context, a Actor) (p patient.Patient, err error) {
	defer func(b time.Time) { l.log(ctx, "MyPatient", b, err) }(time.Now())
	return l.next.MyPatient(ctx, a)
}

func (l *logged) GetPatient(ctx context.Context, a Actor, id string) (p patient.Patient, err error) {
	defer func(b time.Time) { l.log(ctx, "GetPatient", b, err) }(time.Now())
	return l.next.GetPatient(ctx, a, id)
}

func (l *logged) UpdatePatient(ctx context.Context, a Actor, id string, ifMatch int64, in PatientUpdate) (p patient.Patient, err error) {
	defer func(b time.Time) { l.log(ctx, "UpdatePatient", b, err) }(time.Now())
	return l.next.UpdatePatient(ctx, a, id, ifMatch, in)
}

func (l *logged) DeactivatePatient(ctx context.Context, a Actor, id string, ifMatch int64) (err error) {
	defer func(b time.Time) { l.log(ctx, "DeactivatePatient", b, err) }(time.Now())
	return l.next.DeactivatePatient(ctx, a, id, ifMatch)
}

func (l *logged) SearchPatients(ctx context.Context, a Actor, q patient.SearchQuery) (p patient.Page[patient.Patient], err error) {
	defer func(b time.Time) { l.log(ctx, "SearchPatients", b, err) }(time.Now())
	return l.next.SearchPatients(ctx, a, q)
}

func (l *logged) ListHistory(ctx context.Context, a Actor, q patient.HistoryQuery) (p patient.Page[patient.HistoryEntry], err error) {
	defer func(b time.Time) { l.log(ctx, "ListHistory", b, err) }(time.Now())
	return l.next.ListHistory(ctx, a, q)
}

func (l *logged) GetHistoryEntry(ctx context.Context, a Actor, patientID, entryID string) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { l.log(ctx, "GetHistoryEntry", b, err) }(time.Now())
	return l.next.GetHistoryEntry(ctx, a, patientID, entryID)
}

func (l *logged) RecordHistory(ctx context.Context, a Actor, patientID string, in EntryInput) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { l.log(ctx, "RecordHistory", b, err) }(time.Now())
	return l.next.RecordHistory(ctx, a, patientID, in)
}

func (l *logged) AmendHistory(ctx context.Context, a Actor, patientID, entryID string, ifMatch int64, in EntryInput) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { l.log(ctx, "AmendHistory", b, err) }(time.Now())
	return l.next.AmendHistory(ctx, a, patientID, entryID, ifMatch, in)
}

func (l *logged) RetractHistory(ctx context.Context, a Actor, patientID, entryID string, ifMatch int64) (err error) {
	defer func(b time.Time) { l.log(ctx, "RetractHistory", b, err) }(time.Now())
	return l.next.RetractHistory(ctx, a, patientID, entryID, ifMatch)
}

func (l *logged) HistoryRevisions(ctx context.Context, a Actor, patientID, entryID string) (r []patient.HistoryEntry, err error) {
	defer func(b time.Time) { l.log(ctx, "HistoryRevisions", b, err) }(time.Now())
	return l.next.HistoryRevisions(ctx, a, patientID, entryID)
}

func (l *logged) AuditTrail(ctx context.Context, a Actor, q patient.AuditQuery) (p patient.Page[patient.AuditEvent], err error) {
	defer func(b time.Time) { l.log(ctx, "AuditTrail", b, err) }(time.Now())
	return l.next.AuditTrail(ctx, a, q)
}

func (i *instrumented) CreatePatient(ctx context.Context, a Actor, in NewPatient) (p patient.Patient, err error) {
	defer func(b time.Time) { i.observe("CreatePatient", b, err) }(time.Now())
	return i.next.CreatePatient(ctx, a, in)
}

func (i *instrumented) MyPatient(ctx context.Context, a Actor) (p patient.Patient, err error) {
	defer func(b time.Time) { i.observe("MyPatient", b, err) }(time.Now())
	return i.next.MyPatient(ctx, a)
}

func (i *instrumented) GetPatient(ctx context.Context, a Actor, id string) (p patient.Patient, err error) {
	defer func(b time.Time) { i.observe("GetPatient", b, err) }(time.Now())
	return i.next.GetPatient(ctx, a, id)
}

func (i *instrumented) UpdatePatient(ctx context.Context, a Actor, id string, ifMatch int64, in PatientUpdate) (p patient.Patient, err error) {
	defer func(b time.Time) { i.observe("UpdatePatient", b, err) }(time.Now())
	return i.next.UpdatePatient(ctx, a, id, ifMatch, in)
}

func (i *instrumented) DeactivatePatient(ctx context.Context, a Actor, id string, ifMatch int64) (err error) {
	defer func(b time.Time) { i.observe("DeactivatePatient", b, err) }(time.Now())
	return i.next.DeactivatePatient(ctx, a, id, ifMatch)
}

func (i *instrumented) SearchPatients(ctx context.Context, a Actor, q patient.SearchQuery) (p patient.Page[patient.Patient], err error) {
	defer func(b time.Time) { i.observe("SearchPatients", b, err) }(time.Now())
	return i.next.SearchPatients(ctx, a, q)
}

func (i *instrumented) ListHistory(ctx context.Context, a Actor, q patient.HistoryQuery) (p patient.Page[patient.HistoryEntry], err error) {
	defer func(b time.Time) { i.observe("ListHistory", b, err) }(time.Now())
	return i.next.ListHistory(ctx, a, q)
}

func (i *instrumented) GetHistoryEntry(ctx context.Context, a Actor, patientID, entryID string) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { i.observe("GetHistoryEntry", b, err) }(time.Now())
	return i.next.GetHistoryEntry(ctx, a, patientID, entryID)
}

func (i *instrumented) RecordHistory(ctx context.Context, a Actor, patientID string, in EntryInput) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { i.observe("RecordHistory", b, err) }(time.Now())
	return i.next.RecordHistory(ctx, a, patientID, in)
}

func (i *instrumented) AmendHistory(ctx context.Context, a Actor, patientID, entryID string, ifMatch int64, in EntryInput) (e patient.HistoryEntry, err error) {
	defer func(b time.Time) { i.observe("AmendHistory", b, err) }(time.Now())
	return i.next.AmendHistory(ctx, a, patientID, entryID, ifMatch, in)
}

func (i *instrumented) RetractHistory(ctx context.Context, a Actor, patientID, entryID string, ifMatch int64) (err error) {
	defer func(b time.Time) { i.observe("RetractHistory", b, err) }(time.Now())
	return i.next.RetractHistory(ctx, a, patientID, entryID, ifMatch)
}

func (i *instrumented) HistoryRevisions(ctx context.Context, a Actor, patientID, entryID string) (r []patient.HistoryEntry, err error) {
	defer func(b time.Time) { i.observe("HistoryRevisions", b, err) }(time.Now())
	return i.next.HistoryRevisions(ctx, a, patientID, entryID)
}

func (i *instrumented) AuditTrail(ctx context.Context, a Actor, q patient.AuditQuery) (p patient.Page[patient.AuditEvent], err error) {
	defer func(b time.Time) { i.observe("AuditTrail", b, err) }(time.Now())
	return i.next.AuditTrail(ctx, a, q)
}
