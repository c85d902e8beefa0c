package service

import (
	"fmt"
	"time"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/events"
)

// The event types the service writes to its outbox, schema version 1.
const (
	TypeBooked        = "appointment.booked"
	TypeRescheduled   = "appointment.rescheduled"
	TypeCancelled     = "appointment.cancelled"
	TypeStatusChanged = "appointment.status_changed"
	EventVersion      = 1
)

// EventData is the data of every appointment event. It carries ids, times
// and codes only: never the reason for the visit nor a cancellation note.
type EventData struct {
	AppointmentID      string     `json:"appointmentId"`
	PatientID          string     `json:"patientId"`
	PatientUserID      string     `json:"patientUserId"`
	DoctorID           string     `json:"doctorId"`
	DoctorUserID       string     `json:"doctorUserId"`
	DoctorName         string     `json:"doctorName"`
	TimeZone           string     `json:"timeZone"`
	Start              time.Time  `json:"start"`
	End                time.Time  `json:"end"`
	Status             string     `json:"status"`
	PreviousStart      *time.Time `json:"previousStart,omitempty"`
	PreviousEnd        *time.Time `json:"previousEnd,omitempty"`
	CancellationReason string     `json:"cancellationReason,omitempty"`
	PreviousStatus     string     `json:"previousStatus,omitempty"`
	// ChangedBy is the user who made a reschedule, a cancellation or a
	// status change (the signing doctor for a fulfilment by a signed
	// encounter); a booking's event has none.
	ChangedBy string `json:"changedBy,omitempty"`
	Version   int64  `json:"version"`
}

// newEvent describes ap after a change of type typ; prev is the
// appointment before a reschedule or a status change.
func newEvent(typ string, ap appointment.Appointment, now time.Time, prev *appointment.Appointment) (events.Event, error) {
	d := EventData{
		AppointmentID: ap.ID, PatientID: ap.PatientID, PatientUserID: ap.PatientUserID,
		DoctorID: ap.DoctorID, DoctorUserID: ap.DoctorUserID, DoctorName: ap.DoctorName, TimeZone: ap.TimeZone,
		Start: ap.Start.UTC(), End: ap.End.UTC(), Status: string(ap.Status), Version: ap.Version,
	}
	if typ != TypeBooked {
		d.ChangedBy = ap.UpdatedBy
	}
	switch typ {
	case TypeRescheduled:
		ps, pe := prev.Start.UTC(), prev.End.UTC()
		d.PreviousStart, d.PreviousEnd = &ps, &pe
	case TypeCancelled:
		d.CancellationReason = string(ap.CancellationReason)
	case TypeStatusChanged:
		d.PreviousStatus = string(prev.Status)
	}
	ev, err := events.New(typ, EventVersion, ap.ID, d, now)
	if err != nil {
		return events.Event{}, fmt.Errorf("event %s: %w", typ, err)
	}
	return ev, nil
}
