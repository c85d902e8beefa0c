// Package transport serves the patient endpoints over HTTP: routes under
// /api/v1/patients, strict request decoding, problem+json errors, ETag and
// If-Match, and Cache-Control: no-store on every answer, since every answer
// concerns a patient.
package transport

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	kitendpoint "github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/patient/endpoint"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// MaxBodyBytes bounds a request body; the largest valid one (a history
// entry with long notes) is far smaller.
const MaxBodyBytes = 64 << 10

// maxQueryLen bounds the name prefix of a search.
const maxQueryLen = 100

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI document, served at /openapi.yaml.
func OpenAPI() []byte { return openAPI }

// errorRules maps what the error kinds cannot say. Every patient error is a
// kinded domain error that problem.From maps by itself, so it is empty.
var errorRules = problem.Rules()

// fieldConflicts gives the conflicts that concern one field a problem
// naming it, as validation problems do.
func fieldConflicts(err error) *problem.Problem {
	if errors.Is(err, patient.ErrUserLinked) {
		p := problem.Conflict(patient.ErrUserLinked.Msg)
		p.Errors = []problem.FieldError{{Field: "userId", Message: "is fixed once linked"}}
		return p
	}
	return nil
}

// Register adds the patient API to r. Every route requires a bearer token
// that verifier accepts.
func Register(r *mux.Router, set endpoint.Set, verifier authn.Verifier) {
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(problem.PopulateInstance),
		kithttp.ServerErrorEncoder(problem.ErrorEncoder(fieldConflicts, errorRules)),
	}
	// Routes sit on r itself, not on a subrouter, so that r's problem 404
	// and 405 answers apply to them.
	requireToken := authn.Middleware(verifier)
	handle := func(method, path string, ep kitendpoint.Endpoint, dec kithttp.DecodeRequestFunc) {
		r.Handle("/api/v1/patients"+path, requireToken(kithttp.NewServer(ep, dec, encode, opts...))).Methods(method)
	}
	r.Handle("/openapi.yaml", rest.OpenAPI(openAPI)).Methods(http.MethodGet)
	handle(http.MethodPost, "", set.CreatePatient, decodeCreatePatient)
	handle(http.MethodGet, "", set.SearchPatients, decodeSearch)
	// "me" is registered before {id} so that it is not taken for an id.
	handle(http.MethodGet, "/me", set.MyPatient, decodeMe)
	handle(http.MethodGet, "/{id}", set.GetPatient, decodeGetPatient)
	handle(http.MethodPut, "/{id}", set.UpdatePatient, decodeUpdatePatient)
	handle(http.MethodDelete, "/{id}", set.DeactivatePatient, decodeDeactivate)
	handle(http.MethodGet, "/{id}/history", set.ListHistory, decodeListHistory)
	handle(http.MethodPost, "/{id}/history", set.RecordHistory, decodeRecordHistory)
	handle(http.MethodGet, "/{id}/history/{entryId}", set.GetHistoryEntry, decodeEntry)
	handle(http.MethodPut, "/{id}/history/{entryId}", set.AmendHistory, decodeAmendHistory)
	handle(http.MethodDelete, "/{id}/history/{entryId}", set.RetractHistory, decodeRetractHistory)
	handle(http.MethodGet, "/{id}/history/{entryId}/revisions", set.HistoryRevisions, decodeEntry)
	handle(http.MethodGet, "/{id}/audit", set.AuditTrail, decodeAudit)
}

// --- decoding --------------------------------------------------------------

func actor(ctx context.Context) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return authn.Principal{}, problem.Unauthorized("a bearer token is required")
	}
	return p, nil
}

// multi returns a query parameter's values, repeated or comma-separated;
// false when one is empty (?type=, ?type=a,), which the caller refuses:
// skipped, it could leave no filter and widen the list to everything
// (docs/architecture.md, "Query strings").
func multi(r *http.Request, name string) (out []string, ok bool) {
	for _, v := range r.URL.Query()[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				return nil, false
			}
			out = append(out, s)
		}
	}
	return out, true
}

// collect appends each value, read by parse, to out; false when one is not
// valid.
func collect[T interface{ Valid() bool }](values []string, out *[]T, parse func(string) T) bool {
	for _, v := range values {
		t := parse(v)
		if !t.Valid() {
			return false
		}
		*out = append(*out, t)
	}
	return true
}

// patientPath reads the caller and the patient named by {id}, where most
// requests start.
func patientPath(ctx context.Context, r *http.Request) (authn.Principal, string, error) {
	a, err := actor(ctx)
	if err != nil {
		return authn.Principal{}, "", err
	}
	id, err := rest.PathUUID(r, "id")
	return a, id, err
}

// entryPath reads the caller, the patient of {id} and the history entry of
// {entryId}.
func entryPath(ctx context.Context, r *http.Request) (authn.Principal, string, string, error) {
	a, id, err := patientPath(ctx, r)
	if err != nil {
		return authn.Principal{}, "", "", err
	}
	entryID, err := rest.PathUUID(r, "entryId")
	return a, id, entryID, err
}

// pageParams reads the ?limit= and ?cursor= of a list.
func pageParams(r *http.Request) (int, string, error) {
	n, err := rest.Limit(r)
	if err != nil {
		return 0, "", err
	}
	cursor, err := rest.Cursor(r)
	return n, cursor, err
}

// readBody decodes the JSON body into a B and turns it into the use case's
// input with conv.
func readBody[B, In any](r *http.Request, conv func(B) (In, error)) (In, error) {
	var body B
	if err := httpjson.Decode(r, &body, MaxBodyBytes); err != nil {
		var zero In
		return zero, err
	}
	return conv(body)
}

func decodeCreatePatient(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	in, err := readBody(r, patientBody.toInput)
	return endpoint.CreatePatientRequest{Actor: a, In: in}, err
}

func decodeMe(ctx context.Context, _ *http.Request) (any, error) {
	a, err := actor(ctx)
	return endpoint.MyPatientRequest{Actor: a}, err
}

func decodeGetPatient(ctx context.Context, r *http.Request) (any, error) {
	a, id, err := patientPath(ctx, r)
	return endpoint.GetPatientRequest{Actor: a, ID: id}, err
}

func decodeUpdatePatient(ctx context.Context, r *http.Request) (any, error) {
	a, id, err := patientPath(ctx, r)
	if err != nil {
		return nil, err
	}
	v, err := rest.IfMatchVersion(r)
	if err != nil {
		return nil, err
	}
	in, err := readBody(r, patientPutBody.toUpdate)
	return endpoint.UpdatePatientRequest{Actor: a, ID: id, IfMatch: v, In: in}, err
}

func decodeDeactivate(ctx context.Context, r *http.Request) (any, error) {
	a, id, err := patientPath(ctx, r)
	if err != nil {
		return nil, err
	}
	v, err := rest.IfMatchVersion(r)
	return endpoint.DeactivatePatientRequest{Actor: a, ID: id, IfMatch: v}, err
}

func decodeSearch(ctx context.Context, r *http.Request) (any, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	n, cursor, err := pageParams(r)
	if err != nil {
		return nil, err
	}
	q := rest.QueryOf(r)
	sq := patient.SearchQuery{Query: strings.TrimSpace(q.Text("q")), Email: strings.TrimSpace(q.Text("email")), Limit: n, Cursor: cursor}
	dateOfBirth := q.Get("dateOfBirth")
	if err := q.Err(); err != nil {
		return nil, err
	}
	var fe domainerr.FieldErrors
	switch {
	case !utf8.ValidString(sq.Query) || patient.HasControl(sq.Query, false):
		fe.Add("q", "must be text without control characters")
	case len([]rune(sq.Query)) > maxQueryLen:
		fe.Add("q", "must be at most 100 characters")
	}
	switch {
	case !utf8.ValidString(sq.Email) || patient.HasControl(sq.Email, false):
		fe.Add("email", "must be text without control characters")
	case len(sq.Email) > patient.MaxEmailLen:
		fe.Add("email", "must be at most 254 characters")
	}
	if dateOfBirth != "" {
		d, err := civil.Parse(dateOfBirth)
		if err != nil {
			fe.Add("dateOfBirth", err.Error())
		}
		sq.DateOfBirth = d
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return endpoint.SearchPatientsRequest{Actor: a, Query: sq}, nil
}

func decodeListHistory(ctx context.Context, r *http.Request) (any, error) {
	a, id, err := patientPath(ctx, r)
	if err != nil {
		return nil, err
	}
	n, cursor, err := pageParams(r)
	if err != nil {
		return nil, err
	}
	hq := patient.HistoryQuery{PatientID: id, Limit: n, Cursor: cursor}
	// Each field is named once, however many of its values are wrong: the
	// answer stays small whatever the query holds.
	var fe domainerr.FieldErrors
	const empty = "holds an empty value; leave it out instead"
	types, typesOK := multi(r, "type")
	statuses, statusesOK := multi(r, "status")
	switch {
	case !typesOK:
		fe.Add("type", empty)
	case len(types) > 7:
		fe.Add("type", "at most 7 values")
	case !collect(types, &hq.Types, func(v string) patient.EntryType { return patient.EntryType(strings.ToUpper(v)) }):
		fe.Add("type", "must be one of CONDITION, ALLERGY, MEDICATION, PROCEDURE, IMMUNIZATION, FAMILY_HISTORY, NOTE")
	}
	switch {
	case !statusesOK:
		fe.Add("status", empty)
	case len(statuses) > 4:
		fe.Add("status", "at most 4 values")
	case !collect(statuses, &hq.Statuses, func(v string) patient.EntryStatus { return patient.EntryStatus(strings.ToLower(v)) }):
		fe.Add("status", "must be one of active, resolved, inactive, entered-in-error")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return endpoint.ListHistoryRequest{Actor: a, Query: hq}, nil
}

func decodeEntry(ctx context.Context, r *http.Request) (any, error) {
	a, id, entryID, err := entryPath(ctx, r)
	return endpoint.EntryRequest{Actor: a, PatientID: id, EntryID: entryID}, err
}

func decodeRecordHistory(ctx context.Context, r *http.Request) (any, error) {
	a, id, err := patientPath(ctx, r)
	if err != nil {
		return nil, err
	}
	in, err := readBody(r, entryBody.toInput)
	return endpoint.RecordHistoryRequest{Actor: a, PatientID: id, In: in}, err
}

func decodeAmendHistory(ctx context.Context, r *http.Request) (any, error) {
	a, id, entryID, err := entryPath(ctx, r)
	if err != nil {
		return nil, err
	}
	v, err := rest.IfMatchVersion(r)
	if err != nil {
		return nil, err
	}
	in, err := readBody(r, entryPutBody.toAmendment)
	return endpoint.AmendHistoryRequest{Actor: a, PatientID: id, EntryID: entryID, IfMatch: v, In: in}, err
}

func decodeRetractHistory(ctx context.Context, r *http.Request) (any, error) {
	a, id, entryID, err := entryPath(ctx, r)
	if err != nil {
		return nil, err
	}
	v, err := rest.IfMatchVersion(r)
	return endpoint.RetractHistoryRequest{Actor: a, PatientID: id, EntryID: entryID, IfMatch: v}, err
}

func decodeAudit(ctx context.Context, r *http.Request) (any, error) {
	a, id, err := patientPath(ctx, r)
	if err != nil {
		return nil, err
	}
	n, cursor, err := pageParams(r)
	return endpoint.AuditTrailRequest{Actor: a, Query: patient.AuditQuery{PatientID: id, Limit: n, Cursor: cursor}}, err
}

// --- encoding --------------------------------------------------------------

func encode(_ context.Context, w http.ResponseWriter, resp any) error {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch v := resp.(type) {
	case endpoint.PatientResponse:
		h.Set("ETag", rest.ETag(v.Patient.Version))
		status := http.StatusOK
		if v.Created {
			status = http.StatusCreated
			h.Set("Location", "/api/v1/patients/"+v.Patient.ID)
		}
		return httpjson.Write(w, status, toPatientJSON(v.Patient))
	case endpoint.EntryResponse:
		h.Set("ETag", rest.ETag(v.Entry.Version))
		status := http.StatusOK
		if v.Created {
			status = http.StatusCreated
			h.Set("Location", "/api/v1/patients/"+v.Entry.PatientID+"/history/"+v.Entry.ID)
		}
		return httpjson.Write(w, status, toEntryJSON(v.Entry))
	case endpoint.PatientPageResponse:
		return httpjson.Write(w, http.StatusOK, page.Map(v.Page, toPatientJSON))
	case endpoint.EntryPageResponse:
		return httpjson.Write(w, http.StatusOK, page.Map(v.Page, toEntryJSON))
	case endpoint.RevisionsResponse:
		return httpjson.Write(w, http.StatusOK, page.Map(page.Page[patient.HistoryEntry]{Items: v.Revisions}, toEntryJSON))
	case endpoint.AuditPageResponse:
		return httpjson.Write(w, http.StatusOK, page.Map(v.Page, toAuditJSON))
	case endpoint.NoContentResponse:
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return httpjson.Write(w, http.StatusOK, v)
	}
}
