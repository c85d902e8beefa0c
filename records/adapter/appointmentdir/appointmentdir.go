// Package appointmentdir asks the appointment service about a doctor's
// appointments on the caller's behalf: their token travels on, so the
// appointment service answers with what the caller may see, each call
// bounded by a timeout and guarded by a breaker (shared/peerhttp).
package appointmentdir

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/peerhttp"
)

// ErrUnavailable is answered when the appointment service cannot answer now.
var ErrUnavailable = domainerr.New(domainerr.Unavailable, "the appointment service cannot answer now; try again shortly")

// Client is a service.Appointments over HTTP.
type Client struct{ peer *peerhttp.Client }

var _ service.Appointments = (*Client)(nil)

// New returns the client of the appointment service at o.BaseURL (e.g.
// "http://appointment", resolved through discovery by hc).
func New(hc *http.Client, o peerhttp.Options) *Client {
	return &Client{peer: peerhttp.New(hc, "appointment", o)}
}

type appointmentJSON struct {
	ID           string `json:"id"`
	PatientID    string `json:"patientId"`
	DoctorUserID string `json:"doctorUserId"`
	BookedBy     string `json:"bookedBy"`
	Status       string `json:"status"`
}

func (a appointmentJSON) ref() service.AppointmentRef {
	return service.AppointmentRef{ID: a.ID, PatientID: a.PatientID, DoctorUserID: a.DoctorUserID, BookedBy: a.BookedBy, Status: a.Status}
}

// WithPatient lists the caller's appointments with the patient that are
// booked, under way or fulfilled: the first page of upcoming ones, then of
// past ones, a hundred each. The two pages are asked at once, so that the
// answer takes one call's time, not two: the patient service waits for it
// (through GET …/care) within its own budget.
func (c *Client) WithPatient(ctx context.Context, patientID string) ([]service.AppointmentRef, error) {
	whens := [...]string{"upcoming", "past"}
	var (
		pages [len(whens)][]appointmentJSON
		errs  [len(whens)]error
		wg    sync.WaitGroup
	)
	for i, when := range whens {
		wg.Go(func() {
			q := url.Values{"patientId": {patientID}, "status": {"booked,arrived,checked-in,fulfilled"}, "when": {when}, "limit": {"100"}}
			var page struct {
				Items []appointmentJSON `json:"items"`
			}
			errs[i] = c.get(ctx, "/api/v1/appointments?"+q.Encode(), &page)
			pages[i] = page.Items
		})
	}
	wg.Wait()
	var out []service.AppointmentRef
	for i := range whens {
		if errs[i] != nil {
			return nil, fmt.Errorf("list appointments: %w", errs[i])
		}
		for _, a := range pages[i] {
			out = append(out, a.ref())
		}
	}
	return out, nil
}

// Appointment returns one appointment the caller may see.
func (c *Client) Appointment(ctx context.Context, id string) (service.AppointmentRef, error) {
	var a appointmentJSON
	if err := c.get(ctx, "/api/v1/appointments/"+url.PathEscape(id), &a); err != nil {
		return service.AppointmentRef{}, fmt.Errorf("get appointment: %w", err)
	}
	return a.ref(), nil
}

// get fetches path into dst, turning the peer's answers into domain errors.
func (c *Client) get(ctx context.Context, path string, dst any) error {
	err := c.peer.GetJSON(ctx, path, dst)
	switch status := peerhttp.Status(err); {
	case err == nil:
		return nil
	case status == http.StatusNotFound || status == http.StatusForbidden:
		return record.ErrNotFound
	case status == http.StatusUnauthorized:
		return peerhttp.ErrTokenRefused
	case peerhttp.Down(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		// Another 4xx: this request was wrong, a defect rather than a fault.
		return err
	}
}
