// Package peer holds the HTTP clients of the doctor and patient services,
// implementing the service's Doctors and Patients ports on the caller's
// behalf (their bearer token travels on), each call bounded by a timeout
// and guarded by a circuit breaker.
package peer

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

	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
)

// Options configure a client.
type Options struct {
	// BaseURL of the peer: "http://doctor" resolves through discovery with
	// the service's HTTP client.
	BaseURL string
	// Timeout bounds one call (default 2 s).
	Timeout time.Duration
	// Failures in a row that open the breaker (default 5), and how long it
	// stays open before a probe (default 5 s).
	Failures    uint32
	OpenTimeout time.Duration
}

// errFault marks a failure of the peer, which the breaker counts.
var errFault = errors.New("peer failed")

// errCallerGone marks a call abandoned because the caller went away
// (its request was cancelled): no fault of the peer, so the breaker leaves
// it out, and clients that hang up cannot open it for everyone.
var errCallerGone = errors.New("caller went away")

// errNotFound is a 404 (or 403: not the caller's to see) of the peer.
var errNotFound = errors.New("peer: not found")

// errTokenRefused: the peer refused the caller's token; the caller signs
// in again.
var errTokenRefused = domainerr.New(domainerr.Unauthenticated, "the token was refused; sign in again")

type client struct {
	http    *http.Client
	base    string
	timeout time.Duration
	breaker *gobreaker.CircuitBreaker[[]byte]
	down    error
}

func newClient(hc *http.Client, name string, o Options) *client {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Failures == 0 {
		o.Failures = 5
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 5 * time.Second
	}
	cb := gobreaker.NewCircuitBreaker[[]byte](gobreaker.Settings{
		Name:         name,
		Timeout:      o.OpenTimeout,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.Failures },
		IsSuccessful: func(err error) bool { return err == nil || !errors.Is(err, errFault) },
		IsExcluded:   func(err error) bool { return errors.Is(err, errCallerGone) },
	})
	return &client{http: hc, base: o.BaseURL, timeout: o.Timeout, breaker: cb,
		down: domainerr.New(domainerr.Unavailable, "the "+name+" service cannot answer now; try again shortly")}
}

// get fetches path into dst. A peer that cannot answer (unreachable, slow,
// 5xx, open breaker) is the Unavailable domain error, with its cause.
func (c *client) get(ctx context.Context, path string, dst any) error {
	caller := ctx
	body, err := c.breaker.Execute(func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err != nil {
			return nil, fmt.Errorf("request: %w", err)
		}
		if tok := authn.TokenFrom(ctx); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Accept", "application/json")
		res, err := c.http.Do(req)
		if err != nil {
			if errors.Is(caller.Err(), context.Canceled) {
				return nil, fmt.Errorf("%w: %w", errCallerGone, err)
			}
			return nil, fmt.Errorf("%w: %w", errFault, err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		switch {
		case err != nil:
			return nil, fmt.Errorf("%w: read: %w", errFault, err)
		case res.StatusCode == http.StatusOK:
			return b, nil
		case res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusForbidden:
			return nil, errNotFound
		case res.StatusCode == http.StatusUnauthorized:
			// The caller's token, valid here a moment ago, has expired.
			return nil, errTokenRefused
		case res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests:
			return nil, fmt.Errorf("%w: status %d", errFault, res.StatusCode)
		default:
			return nil, fmt.Errorf("%s answered %d", c.base, res.StatusCode)
		}
	})
	switch {
	case errors.Is(err, errNotFound):
		return err
	case errors.Is(err, errFault), errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return fmt.Errorf("%w: %w", c.down, err)
	case err != nil:
		return err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("%w: decode %s: %w", c.down, path, err)
	}
	return nil
}

// Doctors implements service.Doctors on the doctor service.
type Doctors struct{ c *client }

var _ service.Doctors = (*Doctors)(nil)

// NewDoctors returns the doctor service's client.
func NewDoctors(hc *http.Client, o Options) *Doctors { return &Doctors{c: newClient(hc, "doctor", o)} }

type doctorJSON struct {
	ID        string  `json:"id"`
	DoctorID  string  `json:"doctorId"`
	UserID    *string `json:"userId"`
	FirstName string  `json:"firstName"`
	LastName  string  `json:"lastName"`
	TimeZone  string  `json:"timeZone"`
	Active    bool    `json:"active"`
	OnGrid    bool    `json:"onGrid"`
}

func (d doctorJSON) doctor() service.Doctor {
	out := service.Doctor{ID: d.ID, Name: d.FirstName + " " + d.LastName, TimeZone: d.TimeZone, Active: d.Active}
	if out.ID == "" {
		out.ID = d.DoctorID
	}
	if d.UserID != nil {
		out.UserID = *d.UserID
	}
	return out
}

func (d *Doctors) fetch(ctx context.Context, path string) (doctorJSON, error) {
	var out doctorJSON
	err := d.c.get(ctx, path, &out)
	if errors.Is(err, errNotFound) {
		return out, service.ErrUnknownDoctor
	}
	return out, err
}

// CheckSlot implements service.Doctors.
func (d *Doctors) CheckSlot(ctx context.Context, doctorID string, start, end time.Time) (service.SlotCheck, error) {
	q := url.Values{}
	q.Set("start", start.UTC().Format(time.RFC3339))
	q.Set("end", end.UTC().Format(time.RFC3339))
	j, err := d.fetch(ctx, "/api/v1/doctors/"+url.PathEscape(doctorID)+"/slot-check?"+q.Encode())
	if err != nil {
		return service.SlotCheck{}, err
	}
	return service.SlotCheck{Doctor: j.doctor(), OnGrid: j.OnGrid}, nil
}

// Me implements service.Doctors.
func (d *Doctors) Me(ctx context.Context) (service.Doctor, error) {
	j, err := d.fetch(ctx, "/api/v1/doctors/me")
	return j.doctor(), err
}

// Get implements service.Doctors.
func (d *Doctors) Get(ctx context.Context, doctorID string) (service.Doctor, error) {
	j, err := d.fetch(ctx, "/api/v1/doctors/"+url.PathEscape(doctorID))
	return j.doctor(), err
}

// Patients implements service.Patients on the patient service.
type Patients struct{ c *client }

var _ service.Patients = (*Patients)(nil)

// NewPatients returns the patient service's client.
func NewPatients(hc *http.Client, o Options) *Patients {
	return &Patients{c: newClient(hc, "patient", o)}
}

type patientJSON struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	Active bool   `json:"active"`
}

func (p *Patients) fetch(ctx context.Context, path string) (service.Patient, error) {
	var j patientJSON
	err := p.c.get(ctx, path, &j)
	if errors.Is(err, errNotFound) {
		return service.Patient{}, service.ErrUnknownPatient
	}
	return service.Patient{ID: j.ID, UserID: j.UserID, Active: j.Active}, err
}

// Me implements service.Patients.
func (p *Patients) Me(ctx context.Context) (service.Patient, error) {
	return p.fetch(ctx, "/api/v1/patients/me")
}

// Get implements service.Patients.
func (p *Patients) Get(ctx context.Context, patientID string) (service.Patient, error) {
	return p.fetch(ctx, "/api/v1/patients/"+url.PathEscape(patientID))
}
