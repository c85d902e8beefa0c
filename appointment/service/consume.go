package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/logging"
)

// TypeEncounterSigned is the event the service consumes, schema version 1
// (docs/events/records.encounter_signed.v1.json): a doctor signed an
// encounter's note.
const TypeEncounterSigned = "records.encounter_signed"

// The patient service's events the service consumes, schema version 1
// (docs/events/patient.deactivated.v1.json, patient.reactivated.v1.json):
// a patient's record became inactive, or active again.
const (
	TypePatientDeactivated = "patient.deactivated"
	TypePatientReactivated = "patient.reactivated"
)

// Topics are the broker subjects the service subscribes to.
var Topics = []string{"medisync." + TypeEncounterSigned, "medisync." + TypePatientDeactivated, "medisync." + TypePatientReactivated}

// ErrMalformed marks an event no retry can apply: unknown schema version,
// data that does not decode, ids that are not UUIDs. The broker
// dead-letters it at once.
var ErrMalformed = errors.New("malformed event")

func malformed(ev events.Event, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s: %s", ErrMalformed, ev.Type, ev.ID, fmt.Sprintf(format, args...))
}

// encounterSigned is the data of records.encounter_signed. AppointmentID is
// kept raw to tell null (an encounter without an appointment) from a
// missing field (a malformed event).
type encounterSigned struct {
	EncounterID   string          `json:"encounterId"`
	PatientID     string          `json:"patientId"`
	DoctorUserID  string          `json:"doctorUserId"`
	AppointmentID json.RawMessage `json:"appointmentId"`
	SignedAt      time.Time       `json:"signedAt"`
}

// signed is a checked encounterSigned, ids canonical; AppointmentID is ""
// for none.
type signed struct {
	PatientID     string
	DoctorUserID  string
	AppointmentID string
	SignedAt      time.Time
}

// maxStaleRetries bounds how often a fulfilment is tried again at once when
// a concurrent change of the appointment won the race between its read and
// its write; past it the broker redelivers with backoff.
const maxStaleRetries = 3

func (s *service) HandleEvent(ctx context.Context, ev events.Event) error {
	switch ev.Type {
	case TypeEncounterSigned:
	case TypePatientDeactivated, TypePatientReactivated:
		return s.patientStatus(ctx, ev)
	default:
		// Not ours: the subscription names its topics, so this is a
		// producer's new type, harmless to pass over.
		return nil
	}
	d, err := decodeSigned(ev)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		_, err := s.repo.Apply(ctx, ev, s.now(), func(ctx context.Context, tx Tx) error {
			return s.fulfil(ctx, tx, ev, d)
		})
		if errors.Is(err, appointment.ErrStale) && attempt < maxStaleRetries {
			continue
		}
		if err != nil {
			return fmt.Errorf("apply %s %s: %w", ev.Type, ev.ID, err)
		}
		return nil
	}
}

func decodeSigned(ev events.Event) (signed, error) {
	if !strings.HasSuffix(ev.DataSchema, ".v1.json") {
		return signed{}, malformed(ev, "schema %q is not version 1", ev.DataSchema)
	}
	var raw encounterSigned
	if err := ev.Decode(&raw); err != nil {
		return signed{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var (
		d        signed
		okP, okD bool
	)
	d.PatientID, okP = ids.Canonical(raw.PatientID)
	d.DoctorUserID, okD = ids.Canonical(raw.DoctorUserID)
	if !ids.Valid(raw.EncounterID) || !okP || !okD {
		return signed{}, malformed(ev, "encounterId, patientId and doctorUserId must be UUIDs")
	}
	if raw.SignedAt.IsZero() {
		return signed{}, malformed(ev, "signedAt is required")
	}
	d.SignedAt = raw.SignedAt.UTC()
	switch {
	case raw.AppointmentID == nil:
		return signed{}, malformed(ev, "appointmentId is required (null for none)")
	case bytes.Equal(raw.AppointmentID, []byte("null")):
	default:
		var id string
		if err := json.Unmarshal(raw.AppointmentID, &id); err != nil {
			return signed{}, malformed(ev, "appointmentId must be a UUID or null")
		}
		var ok bool
		if d.AppointmentID, ok = ids.Canonical(id); !ok {
			return signed{}, malformed(ev, "appointmentId must be a UUID or null")
		}
	}
	return d, nil
}

// fulfil marks the appointment of a signed encounter fulfilled, inside the
// event's transaction. Whatever it passes over is acknowledged: a
// redelivery would find the same appointment, so only a fault is worth
// another try.
func (s *service) fulfil(ctx context.Context, tx Tx, ev events.Event, d signed) error {
	if d.AppointmentID == "" {
		return nil
	}
	warn := func(msg string) {
		_ = level.Warn(logging.FromContext(ctx, s.opts.Logger)).Log("msg", msg, "eventId", ev.ID, "appointmentId", d.AppointmentID)
	}
	cur, err := tx.Get(ctx, d.AppointmentID)
	switch {
	case errors.Is(err, appointment.ErrNotFound):
		warn("signed encounter names an unknown appointment")
		return nil
	case err != nil:
		return err
	}
	// Records checked the link when the encounter was opened; the
	// appointment is ours to guard, so a mismatch changes nothing.
	if cur.PatientID != d.PatientID || cur.DoctorUserID != d.DoctorUserID {
		warn("signed encounter does not match its appointment's patient or doctor")
		return nil
	}
	switch {
	case cur.Status == appointment.Fulfilled:
		return nil
	case !appointment.CanMove(cur.Status, appointment.Fulfilled):
		warn("signed encounter's appointment can no longer be fulfilled")
		return nil
	case d.SignedAt.Before(cur.Start) && cur.Status == appointment.Booked:
		// Before its start, a signature proves the visit only once the
		// patient is there (arrived, checked in, seen early); for a visit
		// merely booked it documents another one.
		warn("signed encounter predates its appointment's start")
		return nil
	}
	// The doctor who signed made the change: the event names them, and they
	// are the appointment's doctor (checked above).
	next, out, err := s.statusChanged(cur, appointment.Fulfilled, d.DoctorUserID)
	if err != nil {
		return err
	}
	// On the patient's trail as the doctor's change, with the event's id
	// for the request that made it.
	audit := s.event(ctx, authn.Principal{UserID: d.DoctorUserID, Roles: []string{authn.RoleDoctor}}, appointment.ActionStatus, next,
		appointment.OutcomeAllowed)
	audit.RequestID = ev.ID
	return tx.Update(ctx, next, cur.Version, audit, out)
}

// patientStatusData is the data of patient.deactivated and
// patient.reactivated.
type patientStatusData struct {
	PatientID string `json:"patientId"`
	Version   int64  `json:"version"`
}

// patientStatus applies a patient's status change, in one transaction with
// its claim: the status is recorded (an older version than the one
// recorded changes nothing), and a deactivation takes the patient off
// every waitlist, each entry's removal on their trail on the service's own
// account, so that a slot freed later goes to a patient who may book it.
// Entries taken off do not come back on a reactivation.
func (s *service) patientStatus(ctx context.Context, ev events.Event) error {
	if !strings.HasSuffix(ev.DataSchema, ".v1.json") {
		return malformed(ev, "schema %q is not version 1", ev.DataSchema)
	}
	var d patientStatusData
	if err := ev.Decode(&d); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	patientID, ok := ids.Canonical(d.PatientID)
	if !ok {
		return malformed(ev, "patientId must be a UUID")
	}
	if d.Version < 1 {
		return malformed(ev, "version must be positive")
	}
	active := ev.Type == TypePatientReactivated
	_, err := s.repo.Apply(ctx, ev, s.now(), func(ctx context.Context, tx Tx) error {
		newer, err := tx.SetPatientStatus(ctx, patientID, active, d.Version, ev.Time)
		if err != nil || !newer || active {
			return err
		}
		_, err = tx.RemoveWaits(ctx, patientID, func(e appointment.WaitlistEntry) appointment.AuditEvent {
			audit := s.auditEvent(ctx, authn.Principal{}, appointment.ActionLeave, appointment.ResourceWaitlist, e.PatientID, e.ID,
				appointment.OutcomeAllowed)
			// The service's own doing, for the event that told it: no
			// user, and the event's id for the request.
			audit.Role, audit.RequestID = RoleService, ev.ID
			return audit
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", ev.Type, ev.ID, err)
	}
	return nil
}
