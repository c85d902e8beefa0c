// Package peer holds the HTTP clients of the doctor and patient services,
// implementing the service's Doctors and Patients ports on the caller's
// behalf (their bearer token travels on), each call bounded by a timeout
// and guarded by a circuit breaker (shared/peerhttp).
package peer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/peerhttp"
)

// Options configure a client.
type Options = peerhttp.Options

// errNotFound is a 404 (or 403: not the caller's to see) of the peer.
var errNotFound = errors.New("peer: not found")

type client struct {
	peer     *peerhttp.Client
	down     error
	unusable error
}

func newClient(hc *http.Client, name string, o Options) *client {
	return &client{peer: peerhttp.New(hc, name, o),
		down:     domainerr.New(domainerr.Unavailable, "the "+name+" service cannot answer now; try again shortly"),
		unusable: domainerr.New(domainerr.Conflict, "the "+name+" service cannot use its record as it stands (a doctor's time zone no longer known, say) until it is corrected")}
}

// get fetches path into dst. A peer that cannot answer (unreachable, slow,
// 5xx, an unreadable answer, open breaker) is the Unavailable domain error,
// with its cause.
func (c *client) get(ctx context.Context, path string, dst any) error {
	err := c.peer.GetJSON(ctx, path, dst)
	switch status := peerhttp.Status(err); {
	case err == nil:
		return nil
	case status == http.StatusNotFound || status == http.StatusForbidden:
		return errNotFound
	case status == http.StatusUnauthorized:
		// The caller's token, valid here a moment ago, has expired.
		return peerhttp.ErrTokenRefused
	case status == http.StatusConflict:
		// The peer's record cannot be used until someone corrects it: the
		// caller's answer too, not a defect of this service.
		return fmt.Errorf("%w: %w", c.unusable, err)
	case peerhttp.Down(err):
		return fmt.Errorf("%w: %w", c.down, err)
	default:
		return err
	}
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

// CheckSlot implements service.Doctors. The instants travel exact, to the
// nanosecond: the answer is about the very times the booking stores.
func (d *Doctors) CheckSlot(ctx context.Context, doctorID string, start, end time.Time) (service.SlotCheck, error) {
	q := url.Values{}
	q.Set("start", start.UTC().Format(time.RFC3339Nano))
	q.Set("end", end.UTC().Format(time.RFC3339Nano))
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
	ID      string `json:"id"`
	UserID  string `json:"userId"`
	Active  bool   `json:"active"`
	Version int64  `json:"version"`
}

func (p *Patients) fetch(ctx context.Context, path string) (service.Patient, error) {
	var j patientJSON
	err := p.c.get(ctx, path, &j)
	if errors.Is(err, errNotFound) {
		return service.Patient{}, service.ErrUnknownPatient
	}
	return service.Patient{ID: j.ID, UserID: j.UserID, Active: j.Active, Version: j.Version}, err
}

// Me implements service.Patients.
func (p *Patients) Me(ctx context.Context) (service.Patient, error) {
	return p.fetch(ctx, "/api/v1/patients/me")
}

// Get implements service.Patients.
func (p *Patients) Get(ctx context.Context, patientID string) (service.Patient, error) {
	return p.fetch(ctx, "/api/v1/patients/"+url.PathEscape(patientID))
}
