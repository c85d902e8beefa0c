package taken

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/peerhttp"
)

// HTTP asks the appointment service which times of a doctor are booked,
// on the caller's behalf (their bearer token travels on). Every call is
// bounded by Timeout, and a circuit breaker stops calling a service that
// keeps failing (shared/peerhttp), so a slots request fails fast (503)
// instead of offering slots that may be taken.
type HTTP struct{ peer *peerhttp.Client }

// HTTPOptions configure NewHTTP; BaseURL is the appointment service's
// ("http://appointment" resolves through discovery with the service's HTTP
// client).
type HTTPOptions = peerhttp.Options

// NewHTTP returns the adapter calling through client.
func NewHTTP(client *http.Client, o HTTPOptions) *HTTP {
	if o.MaxBody <= 0 {
		o.MaxBody = 8 << 20 // a long window of a busy doctor
	}
	return &HTTP{peer: peerhttp.New(client, "appointment", o)}
}

// Taken implements service.TakenSlots.
func (h *HTTP) Taken(ctx context.Context, doctorID string, from, to time.Time) ([]schedule.Range, error) {
	if !to.After(from) {
		return nil, nil
	}
	q := url.Values{}
	q.Set("doctorId", doctorID)
	q.Set("from", from.UTC().Format(time.RFC3339))
	q.Set("to", to.UTC().Format(time.RFC3339))
	var body struct {
		Taken []struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"taken"`
	}
	if err := h.peer.GetJSON(ctx, "/api/v1/appointments/taken?"+q.Encode(), &body); err != nil {
		return nil, fmt.Errorf("taken times: %w", err)
	}
	out := make([]schedule.Range, 0, len(body.Taken))
	for _, r := range body.Taken {
		if r.End.After(r.Start) {
			out = append(out, schedule.Range{Start: r.Start.UTC(), End: r.End.UTC()})
		}
	}
	return out, nil
}
