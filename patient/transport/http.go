// Package transport serves the patient endpoints over HTTP: routes under
// /api/v1/patients, strict request decoding, problem+json errors, ETag and
// If-Match, and Cache-Control: no-store on every answer, since every answer
// concerns a patient.
package transport

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"

	patientep "github.com/medisync/medisync/patient/endpoint"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/problem"
)

// MaxBodyBytes bounds a request body; the largest valid one (a history
// entry with long notes) is far smaller.
const MaxBodyBytes = 64 << 10

// maxQueryLen bounds the name prefix of a search.
const maxQueryLen = 100

// Errors maps domain errors to HTTP statuses.
var Errors = problem.Rules(
	problem.Rule{Target: patient.ErrNotFound, Status: http.StatusNotFound},
	problem.Rule{Target: patient.ErrForbidden, Status: http.StatusForbidden},
	problem.Rule{Target: patient.ErrProfileExists, Status: http.StatusConflict},
	problem.Rule{Target: patient.ErrEnteredInError, Status: http.StatusConflict},
	problem.Rule{Target: patient.ErrStaleVersion, Status: http.StatusPreconditionFailed},
	problem.Rule{Target: patient.ErrPreconditionRequired, Status: http.StatusPreconditionRequired},
	problem.Rule{Target: patient.ErrInvalidCursor, Status: http.StatusBadRequest},
)

// Register adds the patient API to r. Every route requires a bearer token
// that verifier accepts.
func Register(r *mux.Router, eps patientep.Endpoints, verifier authn.Verifier) {
	opts := []httptransport.ServerOption{
		httptransport.ServerBefore(problem.PopulateInstance),
		httptransport.ServerErrorEncoder(problem.ErrorEncoder(Errors)),
	}
	// Routes sit on r itself, not on a subrouter, so that r's problem 404
	// and 405 answers apply to them.
	requireToken := authn.Middleware(verifier)
	handle := func(method, path string, ep endpoint.Endpoint, dec httptransport.DecodeRequestFunc) {
		r.Handle("/api/v1/patients"+path, requireToken(httptransport.NewServer(ep, dec, encode, opts...))).Methods(method)
	}
	handle(http.MethodPost, "", eps.CreatePatient, decodeCreatePatient)
	handle(http.MethodGet, "", eps.SearchPatients, decodeSearch)
	// "me" is registered before {id} so that it is not taken for an id.
	handle(http.MethodGet, "/me", eps.MyPatient, decodeMe)
	handle(http.MethodGet, "/{id}", eps.GetPatient, decodeGetPatient)
	handle(http.MethodPut, "/{id}", eps.UpdatePatient, decodeUpdatePatient)
	handle(http.MethodDelete, "/{id}", eps.DeactivatePatient, decodeDeactivate)
	handle(http.MethodGet, "/{id}/history", eps.ListHistory, decodeListHistory)
	handle(http.MethodPost, "/{id}/history", eps.RecordHistory, decodeRecordHistory)
	handle(http.MethodGet, "/{id}/history/{entryId}", eps.GetHistoryEntry, decodeEntry)
	handle(http.MethodPut, "/{id}/history/{entryId}", eps.AmendHistory, decodeAmendHistory)
	handle(http.MethodDelete, "/{id}/history/{entryId}", eps.RetractHistory, decodeRetractHistory)
	handle(http.MethodGet, "/{id}/history/{entryId}/revisions", eps.HistoryRevisions, decodeEntry)
	handle(http.MethodGet, "/{id}/audit", eps.AuditTrail, decodeAudit)
}

// --- decoding --------------------------------------------------------------

func actor(ctx context.Context) (service.Actor, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return service.Actor{}, problem.Unauthorized("a bearer token is required")
	}
	return service.NewActor(p.UserID, p.Roles), nil
}

// pathID returns a path variable that must be a UUID.
func pathID(r *http.Request, name string) (string, error) {
	id := mux.Vars(r)[name]
	if !service.ValidID(id) {
		return "", problem.BadRequest("the path holds an invalid id",
			problem.FieldError{Field: name, Message: "must be a UUID"})
	}
	return strings.ToLower(id), nil
}

// ifMatch reads the version in If-Match: 0 when absent. A version is sent as
// the ETag the server gave ("3"); a bare 3 is accepted too. "*" would match
// any version and so defeat the check: it counts as absent.
func ifMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v < 1 {
		return 0, problem.BadRequest("If-Match must hold one ETag as given by this service, such as \"3\"")
	}
	return v, nil
}

func limit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return patient.DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > patient.MaxLimit {
		return 0, problem.Validation(problem.FieldError{Field: "limit", Message: "must be an integer from 1 to 100"})
	}
	return n, nil
}

// multi returns a query parameter's values, repeated or comma-separated.
func multi(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func decodeCreatePatient(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	var body patientBody
	if err := httpjson.Decode(r, &body, MaxBodyBytes); err != nil {
		return nil, err
	}
	in, err := body.toInput()
	if err != nil {
		return nil, err
	}
	return patientep.CreatePatientRequest{Actor: a, In: in}, nil
}

func decodeMe(ctx context.Context, _ *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	return patientep.MyPatientRequest{Actor: a}, nil
}

func decodeGetPatient(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return patientep.GetPatientRequest{Actor: a, ID: id}, nil
}

func decodeUpdatePatient(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	v, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	var body patientBody
	if err := httpjson.Decode(r, &body, MaxBodyBytes); err != nil {
		return nil, err
	}
	in, err := body.toInput()
	if err != nil {
		return nil, err
	}
	return patientep.UpdatePatientRequest{Actor: a, ID: id, IfMatch: v, In: in}, nil
}

func decodeDeactivate(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	v, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	return patientep.DeactivatePatientRequest{Actor: a, ID: id, IfMatch: v}, nil
}

func decodeSearch(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	n, err := limit(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	sq := patient.SearchQuery{Query: strings.TrimSpace(q.Get("q")), Email: strings.TrimSpace(q.Get("email")), Limit: n, Cursor: q.Get("cursor")}
	var fe problem.FieldErrors
	if len([]rune(sq.Query)) > maxQueryLen {
		fe.Add("q", "must be at most 100 characters")
	}
	if len(sq.Email) > patient.MaxEmailLen {
		fe.Add("email", "must be at most 254 characters")
	}
	if s := q.Get("dateOfBirth"); s != "" {
		d, err := patient.ParseDate(s)
		if err != nil {
			fe.Add("dateOfBirth", err.Error())
		}
		sq.DateOfBirth = d
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return patientep.SearchPatientsRequest{Actor: a, Query: sq}, nil
}

func decodeListHistory(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	n, err := limit(r)
	if err != nil {
		return nil, err
	}
	hq := patient.HistoryQuery{PatientID: id, Limit: n, Cursor: r.URL.Query().Get("cursor")}
	var fe problem.FieldErrors
	for _, t := range multi(r, "type") {
		if et := patient.EntryType(strings.ToUpper(t)); et.Valid() {
			hq.Types = append(hq.Types, et)
		} else {
			fe.Add("type", "must be one of CONDITION, ALLERGY, MEDICATION, PROCEDURE, IMMUNIZATION, FAMILY_HISTORY, NOTE")
		}
	}
	for _, s := range multi(r, "status") {
		if st := patient.EntryStatus(strings.ToLower(s)); st.Valid() {
			hq.Statuses = append(hq.Statuses, st)
		} else {
			fe.Add("status", "must be one of active, resolved, inactive, entered-in-error")
		}
	}
	if len(hq.Types) > 7 || len(hq.Statuses) > 4 {
		fe.Add("type", "too many values")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return patientep.ListHistoryRequest{Actor: a, Query: hq}, nil
}

func entryIDs(ctx context.Context, r *http.Request) (service.Actor, string, string, error) {
	a, err := actor(ctx)
	if err != nil {
		return service.Actor{}, "", "", err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return service.Actor{}, "", "", err
	}
	entryID, err := pathID(r, "entryId")
	if err != nil {
		return service.Actor{}, "", "", err
	}
	return a, id, entryID, nil
}

func decodeEntry(ctx context.Context, r *http.Request) (any, error) {
	a, id, entryID, err := entryIDs(ctx, r)
	if err != nil {
		return nil, err
	}
	return patientep.EntryRequest{Actor: a, PatientID: id, EntryID: entryID}, nil
}

func decodeRecordHistory(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	var body entryBody
	if err := httpjson.Decode(r, &body, MaxBodyBytes); err != nil {
		return nil, err
	}
	in, err := body.toInput()
	if err != nil {
		return nil, err
	}
	return patientep.RecordHistoryRequest{Actor: a, PatientID: id, In: in}, nil
}

func decodeAmendHistory(ctx context.Context, r *http.Request) (any, error) {
	a, id, entryID, err := entryIDs(ctx, r)
	if err != nil {
		return nil, err
	}
	v, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	var body entryBody
	if err := httpjson.Decode(r, &body, MaxBodyBytes); err != nil {
		return nil, err
	}
	in, err := body.toInput()
	if err != nil {
		return nil, err
	}
	return patientep.AmendHistoryRequest{Actor: a, PatientID: id, EntryID: entryID, IfMatch: v, In: in}, nil
}

func decodeRetractHistory(ctx context.Context, r *http.Request) (any, error) {
	a, id, entryID, err := entryIDs(ctx, r)
	if err != nil {
		return nil, err
	}
	v, err := ifMatch(r)
	if err != nil {
		return nil, err
	}
	return patientep.RetractHistoryRequest{Actor: a, PatientID: id, EntryID: entryID, IfMatch: v}, nil
}

func decodeAudit(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	n, err := limit(r)
	if err != nil {
		return nil, err
	}
	return patientep.AuditTrailRequest{Actor: a, Query: patient.AuditQuery{PatientID: id, Limit: n, Cursor: r.URL.Query().Get("cursor")}}, nil
}

// --- encoding --------------------------------------------------------------

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func encode(_ context.Context, w http.ResponseWriter, resp any) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch v := resp.(type) {
	case patientep.PatientResponse:
		h.Set("ETag", etag(v.Patient.Version))
		status := http.StatusOK
		if v.Created {
			status = http.StatusCreated
			h.Set("Location", "/api/v1/patients/"+v.Patient.ID)
		}
		return httpjson.Write(w, status, toPatientJSON(v.Patient))
	case patientep.EntryResponse:
		h.Set("ETag", etag(v.Entry.Version))
		status := http.StatusOK
		if v.Created {
			status = http.StatusCreated
			h.Set("Location", "/api/v1/patients/"+v.Entry.PatientID+"/history/"+v.Entry.ID)
		}
		return httpjson.Write(w, status, toEntryJSON(v.Entry))
	case patientep.PatientPageResponse:
		return httpjson.Write(w, http.StatusOK, toList(v.Page, toPatientJSON))
	case patientep.EntryPageResponse:
		return httpjson.Write(w, http.StatusOK, toList(v.Page, toEntryJSON))
	case patientep.RevisionsResponse:
		return httpjson.Write(w, http.StatusOK, toList(patient.Page[patient.HistoryEntry]{Items: v.Revisions}, toEntryJSON))
	case patientep.AuditPageResponse:
		return httpjson.Write(w, http.StatusOK, toList(v.Page, toAuditJSON))
	case patientep.NoContentResponse:
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return httpjson.Write(w, http.StatusOK, v)
	}
}
