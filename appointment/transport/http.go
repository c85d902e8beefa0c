// Package transport serves the appointment service over HTTP: routes under
// /api/v1/appointments, strict JSON decoding, problem+json errors, ETag,
// If-Match and Idempotency-Key.
package transport

import (
	"context"
	_ "embed"
	"net/http"
	"strconv"
	"time"

	kitendpoint "github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/endpoint"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// MaxBodyBytes bounds request bodies of the appointment API.
const MaxBodyBytes = 16 << 10

// IdempotencyHeader names the key of a retried booking.
const IdempotencyHeader = "Idempotency-Key"

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI document, served at /openapi.yaml.
func OpenAPI() []byte { return openAPI }

// errorRules maps what the kinds cannot say: a key reused with another
// request is 422, as the IETF Idempotency-Key draft asks.
var errorRules = problem.Rules(problem.Rule{Target: appointment.ErrKeyReused, Status: http.StatusUnprocessableEntity})

// Register adds the appointment API to r, and its OpenAPI document at
// /openapi.yaml; every API route requires a valid bearer token checked by v. 5xx answers are logged with their cause.
func Register(r *mux.Router, e endpoint.Set, v authn.Verifier, logger log.Logger) {
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(problem.PopulateInstance),
		kithttp.ServerErrorEncoder(problem.ErrorEncoder(errorRules)),
		kithttp.ServerErrorHandler(faultLogger{logger: logger}),
	}
	requireToken := authn.Middleware(v)
	route := func(method, path string, ep kitendpoint.Endpoint, dec kithttp.DecodeRequestFunc, enc kithttp.EncodeResponseFunc) {
		r.Handle("/api/v1/appointments"+path, requireToken(kithttp.NewServer(ep, dec, enc, opts...))).Methods(method)
	}
	r.Handle("/openapi.yaml", rest.OpenAPI(openAPI)).Methods(http.MethodGet)
	route(http.MethodPost, "", e.Book, decodeBook, encodeBook)
	route(http.MethodGet, "", e.List, decodeList, encodeList)
	// "taken" and "audit" are registered before {id} so that they are not
	// taken for an id.
	route(http.MethodGet, "/taken", e.Taken, decodeTaken, encodeTaken)
	route(http.MethodGet, "/audit", e.AuditTrail, decodeAudit, encodeAudit)
	route(http.MethodPost, "/waitlist", e.JoinWaitlist, decodeJoinWaitlist, encodeWaitlistEntry)
	route(http.MethodGet, "/waitlist", e.MyWaitlist, decodeMyWaitlist, encodeWaitlist)
	route(http.MethodGet, "/waitlist/{id}", e.WaitlistEntry, decodeWaitlistEntry, encodeWaitlistEntryRead)
	route(http.MethodDelete, "/waitlist/{id}", e.LeaveWaitlist, decodeLeaveWaitlist, encodeNoContent)
	route(http.MethodGet, "/{id}", e.Get, decodeGet, encodeAppointment)
	route(http.MethodPost, "/{id}/reschedule", e.Reschedule, decodeReschedule, encodeAppointment)
	route(http.MethodPost, "/{id}/cancel", e.Cancel, decodeCancel, encodeAppointment)
	route(http.MethodPost, "/{id}/status", e.ChangeStatus, decodeStatus, encodeAppointment)
}

type faultLogger struct{ logger log.Logger }

func (f faultLogger) Handle(ctx context.Context, err error) {
	if f.logger == nil || ctx.Err() != nil || problem.From(err, errorRules).Status < 500 {
		return
	}
	_ = level.Error(logging.FromContext(ctx, f.logger)).Log("msg", "request failed", "path", problem.InstanceFrom(ctx), "err", err)
}

func actor(ctx context.Context) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok || p.UserID == "" {
		return authn.Principal{}, problem.Unauthorized("a bearer token is required")
	}
	return p, nil
}

// action reads what a POST on one appointment carries: the caller, the
// {id}, an optional If-Match and the body into dst.
func action(ctx context.Context, r *http.Request, dst any) (authn.Principal, string, int64, error) {
	p, err := actor(ctx)
	if err != nil {
		return authn.Principal{}, "", 0, err
	}
	id, err := rest.PathUUID(r, "id")
	if err != nil {
		return authn.Principal{}, "", 0, err
	}
	var ifMatch int64
	if h := r.Header.Get("If-Match"); h != "" && h != "*" {
		// A weak tag is answered after the caller's rights (docs/adr/0003).
		if ifMatch, err = rest.IfMatchVersion(r); err != nil {
			return authn.Principal{}, "", 0, err
		}
	}
	return p, id, ifMatch, httpjson.Decode(r, dst, MaxBodyBytes)
}

type bookWrite struct {
	DoctorID  string `json:"doctorId"`
	PatientID string `json:"patientId"`
	Start     string `json:"start"`
	End       string `json:"end"`
	Reason    string `json:"reason"`
}

func decodeBook(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	var w bookWrite
	if err := httpjson.Decode(r, &w, MaxBodyBytes); err != nil {
		return nil, err
	}
	return endpoint.BookRequest{Actor: p, In: service.BookInput{
		DoctorID: w.DoctorID, PatientID: w.PatientID, Start: w.Start, End: w.End, Reason: w.Reason,
		IdempotencyKey: r.Header.Get(IdempotencyHeader),
	}}, nil
}

func decodeGet(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := rest.PathUUID(r, "id")
	return endpoint.GetRequest{Actor: p, ID: id}, err
}

func decodeList(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := rest.Limit(r)
	if err != nil {
		return nil, err
	}
	cursor, err := rest.Cursor(r)
	if err != nil {
		return nil, err
	}
	q := rest.QueryOf(r)
	in := service.ListInput{When: q.Get("when"), Date: q.Get("date"), DoctorID: q.Get("doctorId"),
		PatientID: q.Get("patientId"), Status: q.Get("status"), Limit: limit, Cursor: cursor}
	days := q.Get("days")
	if err := q.Err(); err != nil {
		return nil, err
	}
	if days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return nil, problem.Validation(problem.FieldError{Field: "days", Message: "must be an integer from 1 to 7"})
		}
		in.Days = n
	}
	return endpoint.ListRequest{Actor: p, In: in}, nil
}

type rescheduleWrite struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func decodeReschedule(ctx context.Context, r *http.Request) (any, error) {
	var w rescheduleWrite
	p, id, ifMatch, err := action(ctx, r, &w)
	return endpoint.RescheduleRequest{Actor: p, ID: id, IfMatch: ifMatch, In: service.RescheduleInput{Start: w.Start, End: w.End}}, err
}

type cancelWrite struct {
	CancellationReason string `json:"cancellationReason"`
	CancellationNote   string `json:"cancellationNote"`
}

func decodeCancel(ctx context.Context, r *http.Request) (any, error) {
	var w cancelWrite
	p, id, ifMatch, err := action(ctx, r, &w)
	return endpoint.CancelRequest{Actor: p, ID: id, IfMatch: ifMatch,
		In: service.CancelInput{Reason: w.CancellationReason, Note: w.CancellationNote}}, err
}

type statusWrite struct {
	Status string `json:"status"`
}

func decodeStatus(ctx context.Context, r *http.Request) (any, error) {
	var w statusWrite
	p, id, ifMatch, err := action(ctx, r, &w)
	return endpoint.ChangeStatusRequest{Actor: p, ID: id, IfMatch: ifMatch, Status: w.Status}, err
}

func decodeTaken(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	q := rest.QueryOf(r)
	return endpoint.TakenRequest{Actor: p, DoctorID: q.Get("doctorId"), From: q.Get("from"), To: q.Get("to")}, q.Err()
}

// --- encoding ---------------------------------------------------------------

// appointmentJSON is the Appointment resource.
type appointmentJSON struct {
	ID                 string    `json:"id"`
	PatientID          string    `json:"patientId"`
	DoctorID           string    `json:"doctorId"`
	DoctorUserID       string    `json:"doctorUserId"`
	DoctorName         string    `json:"doctorName"`
	TimeZone           string    `json:"timeZone"`
	Start              time.Time `json:"start"`
	End                time.Time `json:"end"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	CancellationReason *string   `json:"cancellationReason"`
	CancellationNote   *string   `json:"cancellationNote"`
	BookedBy           string    `json:"bookedBy"`
	UpdatedBy          *string   `json:"updatedBy"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
	Version            int64     `json:"version"`
}

func toJSON(a appointment.Appointment) appointmentJSON {
	out := appointmentJSON{
		ID: a.ID, PatientID: a.PatientID, DoctorID: a.DoctorID, DoctorUserID: a.DoctorUserID, DoctorName: a.DoctorName, TimeZone: a.TimeZone,
		Start: a.Start.UTC(), End: a.End.UTC(), Status: string(a.Status), Reason: a.Reason, BookedBy: a.BookedBy,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(), Version: a.Version,
	}
	if a.CancellationReason != "" {
		r, n := string(a.CancellationReason), a.CancellationNote
		out.CancellationReason, out.CancellationNote = &r, &n
	}
	// null: last changed before who changed it was recorded.
	if a.UpdatedBy != "" {
		by := a.UpdatedBy
		out.UpdatedBy = &by
	}
	return out
}

// write sends v as JSON; appointments are clinical data, never cached.
func write(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Cache-Control", "no-store")
	return httpjson.Write(w, status, v)
}

func encodeAppointment(_ context.Context, w http.ResponseWriter, resp any) error {
	a := resp.(endpoint.AppointmentResponse).Appointment
	w.Header().Set("ETag", rest.ETag(a.Version))
	return write(w, http.StatusOK, toJSON(a))
}

func encodeBook(_ context.Context, w http.ResponseWriter, resp any) error {
	res := resp.(endpoint.BookResponse).Result
	a := res.Appointment
	w.Header().Set("ETag", rest.ETag(a.Version))
	w.Header().Set("Location", "/api/v1/appointments/"+a.ID)
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return write(w, http.StatusCreated, toJSON(a))
}

func encodeList(_ context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusOK, page.Map(resp.(endpoint.ListResponse).Page, toJSON))
}

type rangeJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

func encodeTaken(_ context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.TakenResponse)
	out := struct {
		DoctorID string      `json:"doctorId"`
		Taken    []rangeJSON `json:"taken"`
	}{DoctorID: r.DoctorID, Taken: make([]rangeJSON, len(r.Ranges))}
	for i, rg := range r.Ranges {
		out.Taken[i] = rangeJSON{Start: rg.Start.UTC(), End: rg.End.UTC()}
	}
	return write(w, http.StatusOK, out)
}

// --- waitlist ---------------------------------------------------------------

type waitlistWrite struct {
	DoctorID string `json:"doctorId"`
	Date     string `json:"date"`
}

func decodeJoinWaitlist(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	var w waitlistWrite
	if err := httpjson.Decode(r, &w, MaxBodyBytes); err != nil {
		return nil, err
	}
	return endpoint.JoinWaitlistRequest{Actor: p, In: service.WaitlistInput{DoctorID: w.DoctorID, Date: w.Date}}, nil
}

func decodeMyWaitlist(ctx context.Context, _ *http.Request) (any, error) {
	p, err := actor(ctx)
	return endpoint.MyWaitlistRequest{Actor: p}, err
}

func decodeWaitlistEntry(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := rest.PathUUID(r, "id")
	return endpoint.WaitlistEntryRequest{Actor: p, ID: id}, err
}

func decodeLeaveWaitlist(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	id, err := rest.PathUUID(r, "id")
	return endpoint.LeaveWaitlistRequest{Actor: p, ID: id}, err
}

type waitlistJSON struct {
	ID        string    `json:"id"`
	DoctorID  string    `json:"doctorId"`
	Date      string    `json:"date"`
	PatientID string    `json:"patientId"`
	CreatedAt time.Time `json:"createdAt"`
}

func toWaitlistJSON(e appointment.WaitlistEntry) waitlistJSON {
	return waitlistJSON{ID: e.ID, DoctorID: e.DoctorID, Date: e.Day, PatientID: e.PatientID, CreatedAt: e.CreatedAt.UTC()}
}

func encodeWaitlistEntry(_ context.Context, w http.ResponseWriter, resp any) error {
	e := resp.(endpoint.WaitlistEntryResponse).Entry
	w.Header().Set("Location", "/api/v1/appointments/waitlist/"+e.ID)
	return write(w, http.StatusCreated, toWaitlistJSON(e))
}

func encodeWaitlistEntryRead(_ context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusOK, toWaitlistJSON(resp.(endpoint.WaitlistEntryResponse).Entry))
}

// encodeWaitlist answers the list shape of every list; a patient holds at
// most appointment.MaxWaitlistEntries entries, so there is one page.
func encodeWaitlist(_ context.Context, w http.ResponseWriter, resp any) error {
	es := resp.(endpoint.WaitlistResponse).Entries
	return write(w, http.StatusOK, page.Map(page.Page[appointment.WaitlistEntry]{Items: es}, toWaitlistJSON))
}

func encodeNoContent(_ context.Context, w http.ResponseWriter, _ any) error {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- audit trail ------------------------------------------------------------

func decodeAudit(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := rest.Limit(r)
	if err != nil {
		return nil, err
	}
	cursor, err := rest.Cursor(r)
	if err != nil {
		return nil, err
	}
	patientID, err := rest.Param(r, "patientId")
	return endpoint.AuditTrailRequest{Actor: p, Query: appointment.AuditQuery{PatientID: patientID,
		Limit: limit, Cursor: cursor}}, err
}

// auditJSON is an audit event: who, what, whose, when, whether allowed;
// never the appointment's data.
type auditJSON struct {
	ID         string    `json:"id"`
	OccurredAt time.Time `json:"occurredAt"`
	UserID     string    `json:"userId"`
	Role       string    `json:"role"`
	Action     string    `json:"action"`
	Resource   string    `json:"resource"`
	PatientID  string    `json:"patientId,omitempty"`
	ResourceID string    `json:"resourceId,omitempty"`
	Outcome    string    `json:"outcome"`
	RequestID  string    `json:"requestId,omitempty"`
}

func toAuditJSON(e appointment.AuditEvent) auditJSON {
	return auditJSON{ID: e.ID, OccurredAt: e.OccurredAt.UTC(), UserID: e.UserID, Role: e.Role, Action: string(e.Action),
		Resource: e.Resource, PatientID: e.PatientID, ResourceID: e.ResourceID, Outcome: string(e.Outcome), RequestID: e.RequestID}
}

func encodeAudit(_ context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusOK, page.Map(resp.(endpoint.AuditPageResponse).Page, toAuditJSON))
}
