// Package transport serves the doctor service over HTTP: routes under
// /api/v1, strict JSON decoding, problem+json errors, ETag and If-Match.
package transport

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	kitendpoint "github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/doctor/endpoint"
	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// MaxBodyBytes bounds request bodies of the doctor API.
const MaxBodyBytes = 256 << 10

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI document, served at /openapi.yaml.
func OpenAPI() []byte { return openAPI }

// errorRules maps the errors whose status their domain kind cannot say.
// Every doctor error is a kinded domain error, so the table is empty and
// problem.From maps each by its kind.
var errorRules = problem.Rules()

// fieldConflicts gives the conflicts that concern one field a problem
// naming it, as validation problems do.
func fieldConflicts(err error) *problem.Problem {
	if errors.Is(err, profile.ErrUserLinked) {
		p := problem.Conflict(profile.ErrUserLinked.Msg)
		p.Errors = []problem.FieldError{{Field: "userId", Message: "is fixed once linked"}}
		return p
	}
	return nil
}

// Register adds the doctor API to r; every route requires a valid bearer
// token checked by v. Failures answered with a 5xx are logged with their
// cause, which the client never sees.
func Register(r *mux.Router, e endpoint.Set, v authn.Verifier, logger log.Logger) {
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(problem.PopulateInstance),
		kithttp.ServerErrorEncoder(problem.ErrorEncoder(fieldConflicts, errorRules)),
		kithttp.ServerErrorHandler(faultLogger{logger: logger}),
	}
	// Routes sit on r itself, not on a subrouter, so that r answers other
	// methods on these paths with its 405 problem.
	requireToken := authn.Middleware(v)
	route := func(method, path string, ep kitendpoint.Endpoint, dec kithttp.DecodeRequestFunc, enc kithttp.EncodeResponseFunc) {
		r.Handle("/api/v1"+path, requireToken(kithttp.NewServer(ep, dec, enc, opts...))).Methods(method)
	}
	r.Handle("/openapi.yaml", rest.OpenAPI(openAPI)).Methods(http.MethodGet)
	route(http.MethodGet, "/doctors", e.SearchDoctors, decodeSearch, encodeDoctorPage)
	route(http.MethodPost, "/doctors", e.CreateDoctor, decodeCreateDoctor, encodeDoctor)
	// "me" is registered before {id} so that it is not taken for an id.
	route(http.MethodGet, "/doctors/me", e.MyDoctor, decodeMyDoctor, encodeDoctor)
	route(http.MethodGet, "/doctors/{id}", e.GetDoctor, decodeGetDoctor, encodeDoctor)
	route(http.MethodPut, "/doctors/{id}", e.UpdateDoctor, decodeUpdateDoctor, encodeDoctor)
	route(http.MethodDelete, "/doctors/{id}", e.DeactivateDoctor, decodeDeactivateDoctor, encodeNoContent)
	route(http.MethodGet, "/doctors/{id}/availability", e.GetAvailability, decodeGetAvailability, encodeAvailability)
	route(http.MethodPut, "/doctors/{id}/availability", e.ReplaceAvailability, decodeReplaceAvailability, encodeAvailability)
	route(http.MethodGet, "/doctors/{id}/slots", e.Slots, decodeSlots, encodeSlots)
	route(http.MethodGet, "/doctors/{id}/slot-check", e.CheckSlot, decodeCheckSlot, encodeCheckSlot)
	route(http.MethodGet, "/specializations", e.ListSpecializations, decodeListSpecializations, encodeSpecializationPage)
	route(http.MethodPost, "/specializations", e.CreateSpecialization, decodeCreateSpecialization, encodeSpecialization)
	route(http.MethodGet, "/specializations/{id}", e.GetSpecialization, decodeGetSpecialization, encodeSpecialization)
	route(http.MethodPut, "/specializations/{id}", e.UpdateSpecialization, decodeUpdateSpecialization, encodeSpecialization)
	route(http.MethodDelete, "/specializations/{id}", e.DeleteSpecialization, decodeDeleteSpecialization, encodeNoContent)
}

// faultLogger logs the errors that become server errors.
type faultLogger struct {
	logger log.Logger
}

func (f faultLogger) Handle(ctx context.Context, err error) {
	// A request whose client went away is no fault of the service.
	if f.logger == nil || ctx.Err() != nil || problem.From(err, fieldConflicts, errorRules).Status < 500 {
		return
	}
	_ = level.Error(logging.FromContext(ctx, f.logger)).Log("msg", "request failed", "path", problem.InstanceFrom(ctx), "err", err)
}

// actor is the caller, from the token the middleware verified.
func actor(ctx context.Context) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok || p.UserID == "" {
		return authn.Principal{}, problem.Unauthorized("a bearer token is required")
	}
	return p, nil
}

// callerAndID reads the caller and the UUID of the {id} path variable.
func callerAndID(ctx context.Context, r *http.Request) (authn.Principal, string, error) {
	p, err := actor(ctx)
	if err != nil {
		return authn.Principal{}, "", err
	}
	id, err := rest.PathUUID(r, "id")
	return p, id, err
}

// pageParams reads the ?limit= and ?cursor= of a list.
func pageParams(r *http.Request) (int, string, error) {
	limit, err := rest.Limit(r)
	if err != nil {
		return 0, "", err
	}
	cursor, err := rest.Cursor(r)
	return limit, cursor, err
}

// create reads what a POST carries: the caller and the body into dst.
func create(ctx context.Context, r *http.Request, dst any) (authn.Principal, error) {
	p, err := actor(ctx)
	if err != nil {
		return authn.Principal{}, err
	}
	return p, httpjson.Decode(r, dst, MaxBodyBytes)
}

// replace reads what a PUT carries: the caller, the {id}, the If-Match
// version and the body into dst, in that order.
func replace(ctx context.Context, r *http.Request, dst any) (authn.Principal, string, int64, error) {
	p, id, err := callerAndID(ctx, r)
	if err != nil {
		return authn.Principal{}, "", 0, err
	}
	// A weak tag is a version for the use case to refuse after the
	// caller's rights (rest.ParseIfMatchVersion).
	ifMatch, err := rest.IfMatchVersion(r)
	if err != nil {
		return authn.Principal{}, "", 0, err
	}
	return p, id, ifMatch, httpjson.Decode(r, dst, MaxBodyBytes)
}

func decodeMyDoctor(ctx context.Context, _ *http.Request) (any, error) {
	p, err := actor(ctx)
	return endpoint.MyDoctorRequest{Actor: p}, err
}

func decodeSearch(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	limit, cursor, err := pageParams(r)
	if err != nil {
		return nil, err
	}
	q := rest.QueryOf(r)
	return endpoint.SearchDoctorsRequest{Actor: p, In: service.SearchInput{
		Specialization: q.Get("specialization"), Q: q.Text("q"), Language: q.Text("language"),
		AvailableOn: q.Get("availableOn"), Limit: limit, Cursor: cursor,
	}}, q.Err()
}

func decodeCreateDoctor(ctx context.Context, r *http.Request) (any, error) {
	var w doctorWrite
	p, err := create(ctx, r, &w)
	return endpoint.CreateDoctorRequest{Actor: p, In: w.input()}, err
}

func decodeGetDoctor(ctx context.Context, r *http.Request) (any, error) {
	p, id, err := callerAndID(ctx, r)
	return endpoint.GetDoctorRequest{Actor: p, ID: id}, err
}

func decodeUpdateDoctor(ctx context.Context, r *http.Request) (any, error) {
	var w doctorWrite
	p, id, ifMatch, err := replace(ctx, r, &w)
	in := w.input()
	if err == nil {
		in.StrandBookings, err = strandBookings(r)
	}
	return endpoint.UpdateDoctorRequest{Actor: p, ID: id, IfMatch: ifMatch, In: in}, err
}

func decodeDeactivateDoctor(ctx context.Context, r *http.Request) (any, error) {
	p, id, err := callerAndID(ctx, r)
	req := endpoint.DeactivateDoctorRequest{Actor: p, ID: id}
	if err == nil {
		req.StrandBookings, err = strandBookings(r)
	}
	return req, err
}

// strandBookings reads ?strandBookings=, by which a change that takes
// booked appointments off the doctor's grid is applied all the same.
func strandBookings(r *http.Request) (bool, error) {
	v, err := rest.Param(r, service.StrandParam)
	if err != nil {
		return false, err
	}
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, domainerr.Field(service.StrandParam, "must be true or false")
}

func decodeGetAvailability(ctx context.Context, r *http.Request) (any, error) {
	p, id, err := callerAndID(ctx, r)
	return endpoint.GetAvailabilityRequest{Actor: p, DoctorID: id}, err
}

func decodeReplaceAvailability(ctx context.Context, r *http.Request) (any, error) {
	var w availabilityWrite
	p, id, err := callerAndID(ctx, r)
	if err != nil {
		return nil, err
	}
	ifMatch, zoneTag, err := availabilityIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return nil, err
	}
	if err := httpjson.Decode(r, &w, MaxBodyBytes); err != nil {
		return nil, err
	}
	in := w.input()
	in.ReadZoneTag = &zoneTag
	in.StrandBookings, err = strandBookings(r)
	return endpoint.ReplaceAvailabilityRequest{Actor: p, DoctorID: id, IfMatch: ifMatch, In: in}, err
}

// availabilityETag is the entity tag of an availability: its version and
// the tag of the zone it is read in ("3-5c1e0a2b9d4f").
func availabilityETag(v service.AvailabilityView) string {
	return `"` + strconv.FormatInt(v.Availability.Version, 10) + "-" + service.ZoneTag(v.TimeZone) + `"`
}

// availabilityTag matches an availability's entity tag, weak or not.
var availabilityTag = regexp.MustCompile(`^(W/)?"([0-9]+)-([0-9a-f]{12})"$`)

// availabilityIfMatch reads the version and zone tag an If-Match names. The
// version follows the shared rules (rest.ParseIfMatchVersion: a weak tag is
// refused by the use case, after the caller's rights); a bare version, as
// sent before the tag carried the zone, has the empty zone tag, which never
// matches (412).
func availabilityIfMatch(h string) (int64, string, error) {
	h = strings.TrimSpace(h)
	if m := availabilityTag.FindStringSubmatch(h); m != nil {
		v, err := rest.ParseIfMatchVersion(m[1] + `"` + m[2] + `"`)
		return v, m[3], err
	}
	v, err := rest.ParseIfMatchVersion(h)
	return v, "", err
}

func decodeSlots(ctx context.Context, r *http.Request) (any, error) {
	p, id, err := callerAndID(ctx, r)
	if err != nil {
		return nil, err
	}
	q := rest.QueryOf(r)
	return endpoint.SlotsRequest{Actor: p, DoctorID: id, From: q.Get("from"), To: q.Get("to")}, q.Err()
}

func decodeListSpecializations(ctx context.Context, r *http.Request) (any, error) {
	p, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	limit, cursor, err := pageParams(r)
	return endpoint.ListSpecializationsRequest{Actor: p, Limit: limit, Cursor: cursor}, err
}

func decodeCreateSpecialization(ctx context.Context, r *http.Request) (any, error) {
	var w specializationWrite
	p, err := create(ctx, r, &w)
	return endpoint.CreateSpecializationRequest{Actor: p, In: w.input()}, err
}

func decodeGetSpecialization(ctx context.Context, r *http.Request) (any, error) {
	p, id, err := callerAndID(ctx, r)
	return endpoint.GetSpecializationRequest{Actor: p, ID: id}, err
}

func decodeUpdateSpecialization(ctx context.Context, r *http.Request) (any, error) {
	var w specializationWrite
	p, id, ifMatch, err := replace(ctx, r, &w)
	return endpoint.UpdateSpecializationRequest{Actor: p, ID: id, IfMatch: ifMatch, In: w.input()}, err
}

func decodeDeleteSpecialization(ctx context.Context, r *http.Request) (any, error) {
	p, id, err := callerAndID(ctx, r)
	return endpoint.DeleteSpecializationRequest{Actor: p, ID: id}, err
}

// write sends v as JSON; personal data must not be cached anywhere.
func write(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Cache-Control", "no-store")
	return httpjson.Write(w, status, v)
}

func encodeDoctor(_ context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.DoctorResponse)
	w.Header().Set("ETag", rest.ETag(r.Doctor.Version))
	status := http.StatusOK
	if r.Created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/doctors/"+r.Doctor.ID)
	}
	return write(w, status, toDoctorJSON(r.Doctor))
}

func encodeDoctorPage(_ context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusOK, page.Map(resp.(endpoint.DoctorPageResponse).Page, toDoctorJSON))
}

func encodeNoContent(_ context.Context, w http.ResponseWriter, _ any) error {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func encodeAvailability(_ context.Context, w http.ResponseWriter, resp any) error {
	v := resp.(endpoint.AvailabilityResponse).View
	w.Header().Set("ETag", availabilityETag(v))
	return write(w, http.StatusOK, toAvailabilityJSON(v))
}

func encodeSlots(_ context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusOK, toSlotsJSON(resp.(endpoint.SlotsResponse).List))
}

func encodeSpecialization(_ context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.SpecializationResponse)
	w.Header().Set("ETag", rest.ETag(r.Specialization.Version))
	status := http.StatusOK
	if r.Created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/specializations/"+r.Specialization.ID)
	}
	return write(w, status, toSpecializationJSON(r.Specialization))
}

func encodeSpecializationPage(_ context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusOK, page.Map(resp.(endpoint.SpecializationPageResponse).Page, toSpecializationJSON))
}
