package service

import (
	"fmt"

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
	typ := TypeDeactivated
	if next.Active {
		typ = TypeReactivated
	}
	ev, err := events.New(typ, 1, next.ID, StatusChangedData{PatientID: next.ID, Version: next.Version, ChangedBy: changedBy}, next.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", typ, err)
	}
	return []events.Event{ev}, nil
}
