package service

import (
	"fmt"
	"time"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/events"
)

// The event types the service writes to its outbox, schema version 1
// (docs/events/<type>.v1.json): a record's status changed. The appointment
// service takes a deactivated patient off every waitlist.
const (
	TypeDeactivated = "patient.deactivated"
	TypeReactivated = "patient.reactivated"
)

// StatusChangedData is the data of both types: ids and the record's version
// only, no personal or clinical detail. The version orders the changes of
// one record for a consumer that receives them out of order.
type StatusChangedData struct {
	PatientID string `json:"patientId"`
	Version   int64  `json:"version"`
	ChangedBy string `json:"changedBy"`
}

// statusEvents returns the event of next's status when it differs from
// prev's (none otherwise), written by changedBy in the transaction of the
// change.
func statusEvents(prev, next patient.Patient, changedBy string) ([]events.Event, error) {
	if prev.Active == next.Active {
		return nil, nil
	}
	ev, err := statusEvent(next, changedBy, next.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{ev}, nil
}

// statusEvent is the event saying p is active or not at its version,
// written by changedBy at at.
func statusEvent(p patient.Patient, changedBy string, at time.Time) (events.Event, error) {
	typ := TypeDeactivated
	if p.Active {
		typ = TypeReactivated
	}
	ev, err := events.New(typ, 1, p.ID, StatusChangedData{PatientID: p.ID, Version: p.Version, ChangedBy: changedBy}, at)
	if err != nil {
		return events.Event{}, fmt.Errorf("event %s: %w", typ, err)
	}
	return ev, nil
}
