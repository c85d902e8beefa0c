// Package caredir asks the records service whether the calling doctor
// treats a patient, on the caller's behalf: their token travels on, each
// call bounded by a timeout and guarded by a breaker (shared/peerhttp).
package caredir

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/peerhttp"
)

// ErrUnavailable is answered when the records service cannot answer now.
var ErrUnavailable = domainerr.New(domainerr.Unavailable, "the records service cannot say now whether you treat this patient; try again shortly")

// Client is a service.CareTeam over HTTP.
type Client struct{ peer *peerhttp.Client }

var _ service.CareTeam = (*Client)(nil)

// Options are the peer options for the records service at baseURL: a
// timeout above records' own for the appointment service it may ask (2 s),
// so that a slow but working chain still answers.
func Options(baseURL string) peerhttp.Options {
	return peerhttp.Options{BaseURL: baseURL, Timeout: 3 * time.Second}
}

// New returns the client of the records service at o.BaseURL (e.g.
// "http://records", resolved through discovery by hc).
func New(hc *http.Client, o peerhttp.Options) *Client {
	return &Client{peer: peerhttp.New(hc, "records", o)}
}

// Treating asks GET /api/v1/records/patients/{id}/care. A refusal of the
// question (403) means the caller is no doctor there, so they treat nobody.
// A 404 is no answer: records without the route (an older version during a
// rollout, or a wrong -records-url) must not turn into denials.
func (c *Client) Treating(ctx context.Context, patientID string) (bool, error) {
	var out struct {
		PatientID string `json:"patientId"`
		Treating  bool   `json:"treating"`
	}
	err := c.peer.GetJSON(ctx, "/api/v1/records/patients/"+url.PathEscape(patientID)+"/care", &out)
	switch status := peerhttp.Status(err); {
	case err == nil:
		return out.Treating && out.PatientID == patientID, nil
	case status == http.StatusForbidden:
		return false, nil
	case status == http.StatusNotFound:
		return false, fmt.Errorf("%w: records has no care route: %w", ErrUnavailable, err)
	case status == http.StatusUnauthorized:
		return false, peerhttp.ErrTokenRefused
	case peerhttp.Down(err):
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		// Another 4xx: this request was wrong, a defect rather than a fault.
		return false, fmt.Errorf("ask records: %w", err)
	}
}
