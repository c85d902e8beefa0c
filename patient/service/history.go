package service

import (
	"context"
	"fmt"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/page"
)

func (s *service) ListHistory(ctx context.Context, actor authn.Principal, q patient.HistoryQuery) (page.Page[patient.HistoryEntry], error) {
	if err := s.loadHistory(ctx, actor, q.PatientID, patient.ActionRead, patient.ResourceHistory, ""); err != nil {
		return page.Page[patient.HistoryEntry]{}, err
	}
	entries, err := s.history.ListEntries(ctx, q)
	if err != nil {
		return page.Page[patient.HistoryEntry]{}, err
	}
	if err := s.record(ctx, s.event(ctx, actor, patient.ActionRead, patient.ResourceHistory, q.PatientID, "", patient.OutcomeAllowed)); err != nil {
		return page.Page[patient.HistoryEntry]{}, err
	}
	return entries, nil
}

func (s *service) GetHistoryEntry(ctx context.Context, actor authn.Principal, patientID, entryID string) (patient.HistoryEntry, error) {
	if err := s.loadHistory(ctx, actor, patientID, patient.ActionRead, patient.ResourceHistory, entryID); err != nil {
		return patient.HistoryEntry{}, err
	}
	e, err := s.history.EntryByID(ctx, patientID, entryID)
	if err != nil {
		return patient.HistoryEntry{}, err
	}
	if err := s.record(ctx, s.event(ctx, actor, patient.ActionRead, patient.ResourceHistory, patientID, entryID, patient.OutcomeAllowed)); err != nil {
		return patient.HistoryEntry{}, err
	}
	return e, nil
}

// clinical normalizes and validates what a clinician wrote.
func (s *service) clinical(c patient.Clinical) (patient.Clinical, domainerr.FieldErrors) {
	c.Normalize()
	return c, c.Validate(s.today())
}

func (s *service) RecordHistory(ctx context.Context, actor authn.Principal, patientID string, in EntryInput) (patient.HistoryEntry, error) {
	if err := s.loadHistory(ctx, actor, patientID, patient.ActionCreate, patient.ResourceHistory, ""); err != nil {
		return patient.HistoryEntry{}, err
	}
	c, fe := s.clinical(in.Clinical)
	if in.RecordedBy != nil {
		fe.Add("recordedBy", "is set by the server from the caller's credentials")
	}
	if err := fe.Err(); err != nil {
		return patient.HistoryEntry{}, err
	}
	e := patient.HistoryEntry{
		ID: s.newID(), PatientID: patientID, Clinical: c,
		RecordedBy: actor.UserID, RecordedAt: s.now(), Version: 1,
	}
	ev := s.event(ctx, actor, patient.ActionCreate, patient.ResourceHistory, patientID, e.ID, patient.OutcomeAllowed)
	if err := s.history.CreateEntry(ctx, e, ev); err != nil {
		return patient.HistoryEntry{}, err
	}
	return e, nil
}

func (s *service) AmendHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64, in EntryAmendment) (patient.HistoryEntry, error) {
	if err := s.loadHistory(ctx, actor, patientID, patient.ActionUpdate, patient.ResourceHistory, entryID); err != nil {
		return patient.HistoryEntry{}, err
	}
	cur, err := s.history.EntryByID(ctx, patientID, entryID)
	if err != nil {
		return patient.HistoryEntry{}, err
	}
	if cur.Status == patient.StatusEnteredInError {
		return patient.HistoryEntry{}, patient.ErrEnteredInError
	}
	if ifMatch == 0 {
		return patient.HistoryEntry{}, patient.ErrPreconditionRequired
	}
	if ifMatch != cur.Version {
		return patient.HistoryEntry{}, domainerr.StaleFor(ifMatch, patient.ErrStaleVersion)
	}
	c, fe := s.clinical(in.Clinical)
	if in.ID != nil && canonicalID(*in.ID) != cur.ID {
		fe.Add("id", serverSet)
	}
	if in.PatientID != nil && canonicalID(*in.PatientID) != cur.PatientID {
		fe.Add("patientId", serverSet)
	}
	if in.RecordedBy != nil && *in.RecordedBy != cur.RecordedBy {
		fe.Add("recordedBy", "is set by the server from the caller's credentials")
	}
	sentBackTime(&fe, "recordedAt", in.RecordedAt, cur.RecordedAt)
	sentBack(&fe, "amendedBy", in.AmendedBy, cur.AmendedBy)
	sentBackTime(&fe, "amendedAt", in.AmendedAt, cur.AmendedAt)
	sentBackVersion(&fe, in.Version, cur.Version)
	if err := fe.Err(); err != nil {
		return patient.HistoryEntry{}, err
	}
	next := cur
	next.Clinical, next.AmendedBy, next.AmendedAt, next.Version = c, actor.UserID, s.now(), ifMatch+1
	ev := s.event(ctx, actor, patient.ActionUpdate, patient.ResourceHistory, patientID, entryID, patient.OutcomeAllowed)
	if err := s.history.UpdateEntry(ctx, next, ev); err != nil {
		return patient.HistoryEntry{}, err
	}
	return next, nil
}

func (s *service) RetractHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64) error {
	if err := s.loadHistory(ctx, actor, patientID, patient.ActionDelete, patient.ResourceHistory, entryID); err != nil {
		return err
	}
	cur, err := s.history.EntryByID(ctx, patientID, entryID)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		if ifMatch != 0 && ifMatch != cur.Version {
			return domainerr.StaleFor(ifMatch, patient.ErrStaleVersion)
		}
		ev := s.event(ctx, actor, patient.ActionDelete, patient.ResourceHistory, patientID, entryID, patient.OutcomeAllowed)
		if cur.Status == patient.StatusEnteredInError {
			return s.record(ctx, ev)
		}
		next := cur
		next.Status, next.AmendedBy, next.AmendedAt, next.Version = patient.StatusEnteredInError, actor.UserID, s.now(), cur.Version+1
		err := s.history.UpdateEntry(ctx, next, ev)
		if !retryUnconditional(ifMatch, err, attempt) {
			return err
		}
		if cur, err = s.history.EntryByID(ctx, patientID, entryID); err != nil {
			return fmt.Errorf("read the entry again: %w", err)
		}
	}
}

func (s *service) HistoryRevisions(ctx context.Context, actor authn.Principal, patientID, entryID string) ([]patient.HistoryEntry, error) {
	if err := s.loadHistory(ctx, actor, patientID, patient.ActionRead, patient.ResourceRevisions, entryID); err != nil {
		return nil, err
	}
	revs, err := s.history.Revisions(ctx, patientID, entryID)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, patient.ErrNotFound
	}
	if err := s.record(ctx, s.event(ctx, actor, patient.ActionRead, patient.ResourceRevisions, patientID, entryID, patient.OutcomeAllowed)); err != nil {
		return nil, err
	}
	return revs, nil
}

func (s *service) AuditTrail(ctx context.Context, actor authn.Principal, q patient.AuditQuery) (page.Page[patient.AuditEvent], error) {
	if _, err := s.load(ctx, actor, q.PatientID, patient.ActionRead, patient.ResourceAudit, "", canAudit); err != nil {
		return page.Page[patient.AuditEvent]{}, err
	}
	// Reading the trail is itself on the trail, recorded first so that it
	// shows on the page it produces.
	if err := s.record(ctx, s.event(ctx, actor, patient.ActionRead, patient.ResourceAudit, q.PatientID, "", patient.OutcomeAllowed)); err != nil {
		return page.Page[patient.AuditEvent]{}, err
	}
	return s.audit.ListAudit(ctx, q)
}
