// Package problem writes RFC 9457 problem details (application/problem+json)
// and maps domain errors to them, so that every service answers bad input and
// faults in one shape.
package problem

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/requestid"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// FieldError names one invalid field of a request and why it is invalid.
// It lives in domainerr, which domain packages may import.
type FieldError = domainerr.FieldError

// FieldErrors is an error made of field errors (see domainerr).
type FieldErrors = domainerr.FieldErrors

// Problem is an RFC 9457 problem details document. It is also an error, so a
// domain or transport layer can return one and have it written as is.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"requestId,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`

	// Headers are sent with the response (Retry-After, WWW-Authenticate...).
	Headers http.Header `json:"-"`
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// The problem types of the kinds a client acts on differently from the bare
// status (docs/errors.md). Every other problem is "about:blank": its status
// and title say all there is.
const (
	TypeBlank                = "about:blank"
	TypeValidation           = "urn:medisync:problem:validation"
	TypeConflict             = "urn:medisync:problem:conflict"
	TypeStaleVersion         = "urn:medisync:problem:stale-version"
	TypePreconditionRequired = "urn:medisync:problem:precondition-required"
	TypeRateLimited          = "urn:medisync:problem:rate-limited"
)

// ValidationTitle is the title of every validation problem.
const ValidationTitle = "Validation failed"

// statusType gives the kinds whose status alone names them their type, so
// that a 409 or 412 made anywhere (a kind, a rule, a constructor) carries it.
var statusType = map[int]string{
	http.StatusConflict:             TypeConflict,
	http.StatusPreconditionFailed:   TypeStaleVersion,
	http.StatusPreconditionRequired: TypePreconditionRequired,
	http.StatusTooManyRequests:      TypeRateLimited,
}

// New returns a problem with the standard title for status, and the type of
// the status's kind (about:blank for most).
func New(status int, detail string) *Problem {
	typ, ok := statusType[status]
	if !ok {
		typ = TypeBlank
	}
	return &Problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail}
}

// Validation returns a 400 problem listing the invalid fields.
func Validation(errs ...FieldError) *Problem {
	p := New(http.StatusBadRequest, "the request has invalid fields")
	p.Type, p.Title = TypeValidation, ValidationTitle
	p.Errors = errs
	return p
}

// BadRequest returns a 400 problem with a detail and, optionally, the
// fields at fault; with fields it is a validation problem.
func BadRequest(detail string, errs ...FieldError) *Problem {
	p := New(http.StatusBadRequest, detail)
	if len(errs) > 0 {
		p.Type, p.Title = TypeValidation, ValidationTitle
	}
	p.Errors = errs
	return p
}

// Unauthorized is the 401 answer for a missing or invalid credential.
func Unauthorized(detail string) *Problem {
	p := New(http.StatusUnauthorized, detail)
	p.Headers = http.Header{"Www-Authenticate": {`Bearer realm="medisync"`}}
	return p
}

// Forbidden is the 403 answer for an authenticated caller lacking a right.
func Forbidden(detail string) *Problem { return New(http.StatusForbidden, detail) }

// NotFound is the 404 answer.
func NotFound(detail string) *Problem { return New(http.StatusNotFound, detail) }

// Conflict is the 409 answer.
func Conflict(detail string) *Problem { return New(http.StatusConflict, detail) }

// PreconditionFailed is the 412 answer for a stale If-Match.
func PreconditionFailed(detail string) *Problem {
	return New(http.StatusPreconditionFailed, detail)
}

// TooManyRequests is the 429 answer; retryAfter is in whole seconds.
func TooManyRequests(detail string, retryAfterSeconds int) *Problem {
	p := New(http.StatusTooManyRequests, detail)
	if retryAfterSeconds < 1 {
		retryAfterSeconds = 1
	}
	p.Headers = http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}}
	return p
}

// Unavailable is the 503 answer for a fault that passes: a database, broker
// or peer that is down or hung. Retry-After tells clients when to try again.
func Unavailable(detail string) *Problem {
	p := New(http.StatusServiceUnavailable, detail)
	p.Headers = http.Header{"Retry-After": {"2"}}
	return p
}

// Internal is the 500 answer; it never carries the cause.
func Internal() *Problem {
	return New(http.StatusInternalServerError, "an unexpected error occurred; the request ID identifies it in the logs")
}

// Mapper turns an error that is not already a *Problem into one. It returns
// nil when it does not know the error. Services declare one mapping their
// domain errors to statuses.
type Mapper func(err error) *Problem

// Rule maps errors matching Target (errors.Is) to Status.
type Rule struct {
	Target error
	Status int
}

// Rules builds a Mapper from a table: the first rule whose target matches
// wins, and the error's message becomes the detail, so domain errors must
// carry messages fit for clients.
func Rules(rules ...Rule) Mapper {
	return func(err error) *Problem {
		for _, r := range rules {
			if errors.Is(err, r.Target) {
				return New(r.Status, err.Error())
			}
		}
		return nil
	}
}

// From finds the problem for err: a *Problem anywhere in its chain, then the
// mappers in order, then a 500. A FieldErrors in the chain is a 400.
func From(err error, mappers ...Mapper) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var fe FieldErrors
	if errors.As(err, &fe) {
		return Validation(fe...)
	}
	for _, m := range mappers {
		if m == nil {
			continue
		}
		if p := m(err); p != nil {
			return p
		}
	}
	var de *domainerr.Error
	if errors.As(err, &de) {
		if de.Kind == domainerr.Unauthenticated {
			return Unauthorized(de.Msg)
		}
		if st, ok := kindStatus[de.Kind]; ok {
			if st == http.StatusServiceUnavailable {
				return Unavailable(de.Msg)
			}
			return New(st, de.Msg)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Unavailable("the request took too long; a dependency is slow or unreachable")
	}
	if domainerr.Unreachable(err) {
		return Unavailable("a dependency is unreachable")
	}
	if domainerr.Busy(err) {
		return Unavailable("the database is busy with other writes; try again shortly")
	}
	if domainerr.ReadOnly(err) {
		return Unavailable("the database takes no writes for now (a failover); try again shortly")
	}
	return Internal()
}

// kindStatus is the one table from domain outcome to HTTP status.
var kindStatus = map[domainerr.Kind]int{
	domainerr.Invalid:              http.StatusBadRequest,
	domainerr.Unauthenticated:      http.StatusUnauthorized,
	domainerr.Forbidden:            http.StatusForbidden,
	domainerr.NotFound:             http.StatusNotFound,
	domainerr.Conflict:             http.StatusConflict,
	domainerr.Stale:                http.StatusPreconditionFailed,
	domainerr.PreconditionRequired: http.StatusPreconditionRequired,
	domainerr.Unavailable:          http.StatusServiceUnavailable,
}

// MaxFieldErrors is how many field errors an answer lists at most, so
// that the answer stays small whatever the request holds: a long list of
// bad items would otherwise be answered many times over. FieldErrors keeps
// no more than these.
const MaxFieldErrors = domainerr.MaxFieldErrors

// listed cuts errs to MaxFieldErrors, the last saying how many more there
// were, kept (a list built by hand) or only counted (FieldErrors.Add), as
// FieldErrors.Error does.
func listed(errs []FieldError) []FieldError {
	total := FieldErrors(errs).Count()
	if total <= MaxFieldErrors {
		return errs
	}
	out := append([]FieldError(nil), errs[:min(len(errs), MaxFieldErrors)]...)
	last := &out[len(out)-1]
	last.Message += " (and " + strconv.Itoa(total-len(out)) + " more errors, not listed)"
	return out
}

// Write sends p as the response. The request ID and instance come from r.
func Write(w http.ResponseWriter, r *http.Request, p *Problem) {
	out := *p
	out.Errors = listed(out.Errors)
	if out.Status < 400 || out.Status > 599 {
		out.Status = http.StatusInternalServerError
	}
	if out.Type == "" {
		out.Type = TypeBlank
	}
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	if r != nil {
		if out.Instance == "" {
			out.Instance = r.URL.Path
		}
		if out.RequestID == "" {
			out.RequestID = requestid.From(r.Context())
		}
	}
	h := w.Header()
	for k, vs := range p.Headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(out.Status)
	_ = json.NewEncoder(w).Encode(&out)
}

// WriteError writes the problem for err (see From).
func WriteError(w http.ResponseWriter, r *http.Request, err error, mappers ...Mapper) {
	Write(w, r, From(err, mappers...))
}

// ErrorEncoder returns a go-kit httptransport.ErrorEncoder (same signature)
// that writes problems with the given mappers. The request is not available
// to go-kit error encoders, so the request ID comes from ctx.
func ErrorEncoder(mappers ...Mapper) func(ctx context.Context, err error, w http.ResponseWriter) {
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		p := *From(err, mappers...)
		if p.RequestID == "" {
			p.RequestID = requestid.From(ctx)
		}
		if p.Instance == "" {
			p.Instance = InstanceFrom(ctx)
		}
		Write(w, nil, &p)
	}
}

type instanceKey struct{}

// WithInstance stores the request path for ErrorEncoder; use it as a go-kit
// ServerBefore function: httptransport.ServerBefore(problem.PopulateInstance).
func WithInstance(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, instanceKey{}, path)
}

// PopulateInstance is a go-kit RequestFunc storing r.URL.Path for problems.
func PopulateInstance(ctx context.Context, r *http.Request) context.Context {
	return WithInstance(ctx, r.URL.Path)
}

// InstanceFrom returns the path stored by WithInstance.
func InstanceFrom(ctx context.Context) string {
	s, _ := ctx.Value(instanceKey{}).(string)
	return s
}
