// Package transport serves the doctor service over HTTP: routes under
// /api/v1, strict JSON decoding, problem+json errors, ETag and If-Match.
package transport

import (
	"context"
	"net/http"
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
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/problem"
)

// MaxBodyBytes bounds request bodies of the doctor API.
const MaxBodyBytes = 256 << 10

// ErrorMapper maps the domain errors to HTTP statuses.
func ErrorMapper() problem.Mapper {
	return problem.Rules(
		problem.Rule{Target: profile.ErrDoctorNotFound, Status: http.StatusNotFound},
		problem.Rule{Target: profile.ErrNoProfile, Status: http.StatusNotFound},
		problem.Rule{Target: profile.ErrSpecializationNotFound, Status: http.StatusNotFound},
		problem.Rule{Target: profile.ErrLicenseTaken, Status: http.StatusConflict},
		problem.Rule{Target: profile.ErrUserHasProfile, Status: http.StatusConflict},
		problem.Rule{Target: profile.ErrSpecializationNameUsed, Status: http.StatusConflict},
		problem.Rule{Target: profile.ErrSpecializationInUse, Status: http.StatusConflict},
		problem.Rule{Target: profile.ErrStale, Status: http.StatusPreconditionFailed},
		problem.Rule{Target: profile.ErrPreconditionRequired, Status: http.StatusPreconditionRequired},
	)
}

// Register adds the doctor API to r; every route requires a valid bearer
// token checked by v. Failures answered with a 5xx are logged with their
// cause, which the client never sees.
func Register(r *mux.Router, e endpoint.Set, v authn.Verifier, logger log.Logger) {
	mapper := ErrorMapper()
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(problem.PopulateInstance),
		kithttp.ServerErrorEncoder(problem.ErrorEncoder(mapper)),
		kithttp.ServerErrorHandler(faultLogger{logger: logger, mapper: mapper}),
	}
	api := r.PathPrefix("/api/v1").Subrouter()
	api.Use(authn.Middleware(v))
	route := func(method, path string, ep kitendpoint.Endpoint, dec kithttp.DecodeRequestFunc, enc kithttp.EncodeResponseFunc) {
		api.Methods(method).Path(path).Handler(kithttp.NewServer(ep, dec, enc, opts...))
	}
	route(http.MethodGet, "/doctors", e.SearchDoctors, decodeSearch, encodeDoctorPage)
	route(http.MethodPost, "/doctors", e.CreateDoctor, decodeCreateDoctor, encodeDoctor)
	route(http.MethodGet, "/doctors/me", e.MyDoctor, decodeNothing, encodeDoctor)
	route(http.MethodGet, "/doctors/{id}", e.GetDoctor, decodeGetDoctor, encodeDoctor)
	route(http.MethodPut, "/doctors/{id}", e.UpdateDoctor, decodeUpdateDoctor, encodeDoctor)
	route(http.MethodDelete, "/doctors/{id}", e.DeactivateDoctor, decodeDeactivateDoctor, encodeNoContent)
	route(http.MethodGet, "/doctors/{id}/availability", e.GetAvailability, decodeGetAvailability, encodeAvailability)
	route(http.MethodPut, "/doctors/{id}/availability", e.ReplaceAvailability, decodeReplaceAvailability, encodeAvailability)
	route(http.MethodGet, "/doctors/{id}/slots", e.Slots, decodeSlots, encodeSlots)
	route(http.MethodGet, "/specializations", e.ListSpecializations, decodeListSpecializations, encodeSpecializationPage)
	route(http.MethodPost, "/specializations", e.CreateSpecialization, decodeCreateSpecialization, encodeSpecialization)
	route(http.MethodGet, "/specializations/{id}", e.GetSpecialization, decodeGetSpecialization, encodeSpecialization)
	route(http.MethodPut, "/specializations/{id}", e.UpdateSpecialization, decodeUpdateSpecialization, encodeSpecialization)
	route(http.MethodDelete, "/specializations/{id}", e.DeleteSpecialization, decodeDeleteSpecialization, encodeNoContent)

	// Any other method on a known path is a 405 (mux's own detection does
	// not survive the subrouter).
	for _, p := range []string{"/doctors", "/doctors/me", "/doctors/{id}", "/doctors/{id}/availability",
		"/doctors/{id}/slots", "/specializations", "/specializations/{id}"} {
		api.Path(p).Handler(r.MethodNotAllowedHandler)
	}
}

// faultLogger logs the errors that become server errors.
type faultLogger struct {
	logger log.Logger
	mapper problem.Mapper
}

func (f faultLogger) Handle(ctx context.Context, err error) {
	// A request whose client went away is no fault of the service.
	if f.logger == nil || ctx.Err() != nil || problem.From(err, f.mapper).Status < 500 {
		return
	}
	_ = level.Error(logging.FromContext(ctx, f.logger)).Log("msg", "request failed", "path", problem.InstanceFrom(ctx), "err", err)
}

// ParseIfMatch reads an If-Match header naming one version: "3", W/"3" or
// 3. Absent or "*" gives 0, no version: "*" would match any version and so
// guard against nothing, and the service refuses updates without one.
func ParseIfMatch(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0, nil
	}
	bad := problem.FieldErrors{{Field: "If-Match", Message: `must be one ETag of this resource, such as "3"`}}
	h = strings.TrimPrefix(h, "W/")
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		h = h[1 : len(h)-1]
	}
	v, err := strconv.ParseInt(h, 10, 64)
	if err != nil || v < 1 {
		return 0, bad
	}
	return v, nil
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func id(r *http.Request) string { return mux.Vars(r)["id"] }

func decodeNothing(context.Context, *http.Request) (any, error) {
	return endpoint.MyDoctorRequest{}, nil
}

func decodeSearch(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	return endpoint.SearchDoctorsRequest{In: service.SearchInput{
		Specialization: q.Get("specialization"), Q: q.Get("q"), Language: q.Get("language"),
		AvailableOn: q.Get("availableOn"), Limit: q.Get("limit"), Cursor: q.Get("cursor"),
	}}, nil
}

func decodeCreateDoctor(_ context.Context, r *http.Request) (any, error) {
	var w doctorWrite
	if err := httpjson.Decode(r, &w, MaxBodyBytes); err != nil {
		return nil, err
	}
	return endpoint.CreateDoctorRequest{In: w.input()}, nil
}

func decodeGetDoctor(_ context.Context, r *http.Request) (any, error) {
	return endpoint.GetDoctorRequest{ID: id(r)}, nil
}

func decodeUpdateDoctor(_ context.Context, r *http.Request) (any, error) {
	ifMatch, err := ParseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return nil, err
	}
	var w doctorWrite
	if err := httpjson.Decode(r, &w, MaxBodyBytes); err != nil {
		return nil, err
	}
	return endpoint.UpdateDoctorRequest{ID: id(r), IfMatch: ifMatch, In: w.input()}, nil
}

func decodeDeactivateDoctor(_ context.Context, r *http.Request) (any, error) {
	return endpoint.DeactivateDoctorRequest{ID: id(r)}, nil
}

func decodeGetAvailability(_ context.Context, r *http.Request) (any, error) {
	return endpoint.GetAvailabilityRequest{DoctorID: id(r)}, nil
}

func decodeReplaceAvailability(_ context.Context, r *http.Request) (any, error) {
	ifMatch, err := ParseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return nil, err
	}
	var w availabilityWrite
	if err := httpjson.Decode(r, &w, MaxBodyBytes); err != nil {
		return nil, err
	}
	return endpoint.ReplaceAvailabilityRequest{DoctorID: id(r), IfMatch: ifMatch, In: w.input()}, nil
}

func decodeSlots(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	return endpoint.SlotsRequest{DoctorID: id(r), From: q.Get("from"), To: q.Get("to")}, nil
}

func decodeListSpecializations(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	return endpoint.ListSpecializationsRequest{Limit: q.Get("limit"), Cursor: q.Get("cursor")}, nil
}

func decodeCreateSpecialization(_ context.Context, r *http.Request) (any, error) {
	var w specializationWrite
	if err := httpjson.Decode(r, &w, MaxBodyBytes); err != nil {
		return nil, err
	}
	return endpoint.CreateSpecializationRequest{In: w.input()}, nil
}

func decodeGetSpecialization(_ context.Context, r *http.Request) (any, error) {
	return endpoint.GetSpecializationRequest{ID: id(r)}, nil
}

func decodeUpdateSpecialization(_ context.Context, r *http.Request) (any, error) {
	ifMatch, err := ParseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		return nil, err
	}
	var w specializationWrite
	if err := httpjson.Decode(r, &w, MaxBodyBytes); err != nil {
		return nil, err
	}
	return endpoint.UpdateSpecializationRequest{ID: id(r), IfMatch: ifMatch, In: w.input()}, nil
}

func decodeDeleteSpecialization(_ context.Context, r *http.Request) (any, error) {
	return endpoint.DeleteSpecializationRequest{ID: id(r)}, nil
}

// write sends v as JSON; personal data must not be cached anywhere.
func write(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Cache-Control", "no-store")
	return httpjson.Write(w, status, v)
}

func encodeDoctor(_ context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.DoctorResponse)
	w.Header().Set("ETag", etag(r.Doctor.Version))
	status := http.StatusOK
	if r.Created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/doctors/"+r.Doctor.ID)
	}
	return write(w, status, toDoctorJSON(r.Doctor))
}

func encodeDoctorPage(_ context.Context, w http.ResponseWriter, resp any) error {
	p := resp.(endpoint.DoctorPageResponse).Page
	out := pageJSON[doctorJSON]{Items: make([]doctorJSON, 0, len(p.Items)), NextCursor: cursorOrNull(p.NextCursor)}
	for _, d := range p.Items {
		out.Items = append(out.Items, toDoctorJSON(d))
	}
	return write(w, http.StatusOK, out)
}

func encodeNoContent(_ context.Context, w http.ResponseWriter, _ any) error {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func encodeAvailability(_ context.Context, w http.ResponseWriter, resp any) error {
	v := resp.(endpoint.AvailabilityResponse).View
	w.Header().Set("ETag", etag(v.Availability.Version))
	return write(w, http.StatusOK, toAvailabilityJSON(v))
}

func encodeSlots(_ context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusOK, toSlotsJSON(resp.(endpoint.SlotsResponse).List))
}

func encodeSpecialization(_ context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(endpoint.SpecializationResponse)
	w.Header().Set("ETag", etag(r.Specialization.Version))
	status := http.StatusOK
	if r.Created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/specializations/"+r.Specialization.ID)
	}
	return write(w, status, toSpecializationJSON(r.Specialization))
}

func encodeSpecializationPage(_ context.Context, w http.ResponseWriter, resp any) error {
	p := resp.(endpoint.SpecializationPageResponse).Page
	out := pageJSON[specializationJSON]{Items: make([]specializationJSON, 0, len(p.Items)), NextCursor: cursorOrNull(p.NextCursor)}
	for _, s := range p.Items {
		out.Items = append(out.Items, toSpecializationJSON(s))
	}
	return write(w, http.StatusOK, out)
}
