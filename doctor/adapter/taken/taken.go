// Package taken holds adapters of the service.TakenSlots port.
package taken

import (
	"context"
	"time"

	"github.com/medisync/medisync/doctor/schedule"
)

// None reports no taken slots: every slot of the working hours is offered.
// It stands in until an appointment service books slots.
type None struct{}

// Taken returns no ranges.
func (None) Taken(context.Context, string, time.Time, time.Time) ([]schedule.Range, error) {
	return nil, nil
}
