package transport

import (
	"context"
	"net/http"

	"github.com/medisync/medisync/doctor/endpoint"
	"github.com/medisync/medisync/shared/rest"
)

// The slot check serves the booking side: whether a span is a slot of the
// doctor's published availability, read from the grid alone.

func decodeCheckSlot(ctx context.Context, r *http.Request) (any, error) {
	p, id, err := callerAndID(ctx, r)
	if err != nil {
		return nil, err
	}
	q := rest.QueryOf(r)
	return endpoint.CheckSlotRequest{Actor: p, DoctorID: id, Start: q.Get("start"), End: q.Get("end")}, q.Err()
}

type slotCheckJSON struct {
	DoctorID  string  `json:"doctorId"`
	UserID    *string `json:"userId"`
	FirstName string  `json:"firstName"`
	LastName  string  `json:"lastName"`
	TimeZone  string  `json:"timeZone"`
	Active    bool    `json:"active"`
	OnGrid    bool    `json:"onGrid"`
}

func encodeCheckSlot(_ context.Context, w http.ResponseWriter, resp any) error {
	c := resp.(endpoint.CheckSlotResponse).Check
	d := c.Doctor
	out := slotCheckJSON{DoctorID: d.ID, FirstName: d.FirstName, LastName: d.LastName, TimeZone: d.TimeZone,
		Active: d.Active, OnGrid: c.OnGrid}
	if d.UserID != "" {
		uid := d.UserID
		out.UserID = &uid
	}
	return write(w, http.StatusOK, out)
}
