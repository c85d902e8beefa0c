// Package patientdir finds patients through the patient service, asking
// GET /api/v1/patients/{id} with the caller's own token: the patient
// service answers 200 only to those who may see the profile, so a patient
// learns nothing of others. Answers are cached briefly, bounded in size.
package patientdir

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/peerhttp"
	"github.com/medisync/medisync/shared/requestid"
)

// ErrUnavailable is answered when the patient service cannot answer now.
var ErrUnavailable = domainerr.New(domainerr.Unavailable, "the patient directory is unavailable")

// Client is a service.PatientDirectory over HTTP.
type Client struct {
	base  string
	hc    *http.Client
	cache *expirable.LRU[string, service.PatientRef]
}

var _ service.PatientDirectory = (*Client)(nil)

// New returns a Client of the patient service at base (e.g.
// "http://patient", resolved through discovery by hc), caching up to size
// found patients for ttl; the cache holds ids and owners only.
func New(base string, hc *http.Client, size int, ttl time.Duration) *Client {
	return &Client{base: strings.TrimSuffix(base, "/"), hc: hc, cache: expirable.NewLRU[string, service.PatientRef](size, nil, ttl)}
}

// Patient returns the patient, record.ErrNotFound when the patient service
// knows none the caller may see.
func (c *Client) Patient(ctx context.Context, patientID string) (service.PatientRef, error) {
	if p, ok := c.cache.Get(patientID); ok {
		return p, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/patients/"+patientID, nil)
	if err != nil {
		return service.PatientRef{}, fmt.Errorf("patient request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if tok := authn.TokenFrom(ctx); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if id := requestid.From(ctx); id != "" {
		req.Header.Set(requestid.Header, id)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return service.PatientRef{}, fmt.Errorf("find patient: %w: %w", ErrUnavailable, peerhttp.CallError("patient", req, err))
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusForbidden:
		return service.PatientRef{}, record.ErrNotFound
	default:
		return service.PatientRef{}, fmt.Errorf("find patient: %w: status %d", ErrUnavailable, res.StatusCode)
	}
	var body struct {
		ID     string  `json:"id"`
		UserID *string `json:"userId"`
		Active bool    `json:"active"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body); err != nil {
		return service.PatientRef{}, fmt.Errorf("find patient: %w: %w", ErrUnavailable, err)
	}
	p := service.PatientRef{ID: body.ID, Active: body.Active}
	if body.UserID != nil {
		p.UserID = strings.ToLower(*body.UserID)
	}
	if p.ID != patientID {
		return service.PatientRef{}, fmt.Errorf("find patient: %w: answered another id", ErrUnavailable)
	}
	c.cache.Add(patientID, p)
	return p, nil
}
