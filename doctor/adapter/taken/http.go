package taken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/authn"
)

// HTTP asks the appointment service which times of a doctor are booked,
// on the caller's behalf (their bearer token travels on). Every call is
// bounded by Timeout, and a circuit breaker stops calling a service that
// keeps failing, so a slots request fails fast (503) instead of offering
// slots that may be taken.
type HTTP struct {
	client  *http.Client
	base    string
	timeout time.Duration
	breaker *gobreaker.CircuitBreaker[[]schedule.Range]
}

// HTTPOptions configure NewHTTP.
type HTTPOptions struct {
	// BaseURL of the appointment service: "http://appointment" resolves
	// through discovery with the service's HTTP client.
	BaseURL string
	// Timeout bounds one call (default 2 s).
	Timeout time.Duration
	// Failures in a row that open the breaker (default 5), and how long it
	// stays open before a probe (default 5 s).
	Failures    uint32
	OpenTimeout time.Duration
}

// errPeer marks a failure of the appointment service, which the breaker
// counts; answers the caller caused (4xx) are not its failures.
var errPeer = errors.New("appointment service failed")

// errCallerGone marks a call abandoned because the caller went away (its
// request was cancelled): no fault of the appointment service, so the
// breaker leaves it out, and clients that hang up cannot open it for all.
var errCallerGone = errors.New("caller went away")

// NewHTTP returns the adapter calling through client.
func NewHTTP(client *http.Client, o HTTPOptions) *HTTP {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Failures == 0 {
		o.Failures = 5
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 5 * time.Second
	}
	cb := gobreaker.NewCircuitBreaker[[]schedule.Range](gobreaker.Settings{
		Name:        "appointment",
		Timeout:     o.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.Failures },
		IsSuccessful: func(err error) bool {
			return err == nil || !errors.Is(err, errPeer)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerGone) },
	})
	return &HTTP{client: client, base: o.BaseURL, timeout: o.Timeout, breaker: cb}
}

// Taken implements service.TakenSlots.
func (h *HTTP) Taken(ctx context.Context, doctorID string, from, to time.Time) ([]schedule.Range, error) {
	if !to.After(from) {
		return nil, nil
	}
	return h.breaker.Execute(func() ([]schedule.Range, error) { return h.call(ctx, doctorID, from, to) })
}

func (h *HTTP) call(caller context.Context, doctorID string, from, to time.Time) ([]schedule.Range, error) {
	ctx, cancel := context.WithTimeout(caller, h.timeout)
	defer cancel()
	q := url.Values{}
	q.Set("doctorId", doctorID)
	q.Set("from", from.UTC().Format(time.RFC3339))
	q.Set("to", to.UTC().Format(time.RFC3339))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/api/v1/appointments/taken?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("taken request: %w", err)
	}
	if tok := authn.TokenFrom(ctx); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json")
	res, err := h.client.Do(req)
	if err != nil {
		if errors.Is(caller.Err(), context.Canceled) {
			return nil, fmt.Errorf("%w: %w", errCallerGone, err)
		}
		return nil, fmt.Errorf("%w: %w", errPeer, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests {
			return nil, fmt.Errorf("%w: status %d", errPeer, res.StatusCode)
		}
		return nil, fmt.Errorf("appointment service answered %d", res.StatusCode)
	}
	var body struct {
		Taken []struct {
			Start time.Time `json:"start"`
			End   time.Time `json:"end"`
		} `json:"taken"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 8<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("%w: decode taken times: %w", errPeer, err)
	}
	out := make([]schedule.Range, 0, len(body.Taken))
	for _, r := range body.Taken {
		if r.End.After(r.Start) {
			out = append(out, schedule.Range{Start: r.Start.UTC(), End: r.End.UTC()})
		}
	}
	return out, nil
}
