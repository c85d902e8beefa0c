// Package transport serves the records endpoints over HTTP under
// /api/v1/records: strict request decoding, problem+json errors, ETag and
// If-Match, streamed uploads and downloads (with ranges), and
// Cache-Control: no-store on every answer, since every answer concerns a
// patient.
package transport

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	kitendpoint "github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/medisync/medisync/records/endpoint"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// MaxJSONBytes bounds a JSON request body; the largest valid one (an
// encounter with four full SOAP sections) is below it.
const MaxJSONBytes = 1 << 20

// Prefix is where the records API lives, as clients see it through the
// gateway.
const Prefix = "/api/v1/records"

// ReasonHeader carries an administrator's break-glass reason; the query
// parameter reason does too.
const ReasonHeader = "X-Access-Reason"

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI document, served at /openapi.yaml.
func OpenAPI() []byte { return openAPI }

// errorRules maps what the error kinds cannot say: the media type and size
// of an upload, and an encounter or appointment named in a body that does
// not exist (for the caller).
var errorRules = problem.Rules(
	problem.Rule{Target: record.ErrUnsupportedType, Status: http.StatusUnsupportedMediaType},
	problem.Rule{Target: record.ErrContentMismatch, Status: http.StatusUnsupportedMediaType},
	problem.Rule{Target: record.ErrTooLarge, Status: http.StatusRequestEntityTooLarge},
	problem.Rule{Target: record.ErrUploadTooSlow, Status: http.StatusRequestTimeout},
	problem.Rule{Target: record.ErrUnknownEncounter, Status: http.StatusUnprocessableEntity},
	problem.Rule{Target: record.ErrUnknownAppointment, Status: http.StatusUnprocessableEntity},
)

// tooManyUploads answers a user's upload past their limit 429, with the
// seconds after which one of theirs has likely finished.
func tooManyUploads(err error) *problem.Problem {
	if errors.Is(err, record.ErrTooManyUploads) {
		return problem.TooManyRequests(record.ErrTooManyUploads.Error(), 5)
	}
	return nil
}

// Options tune Register.
type Options struct {
	// MaxDocumentBytes is the upload limit, checked against Content-Length
	// before any byte of the body is read; the service enforces it while
	// reading too.
	MaxDocumentBytes int64
	// Logger receives the faults met once an answer is under way, too late
	// for a problem document; nil discards them.
	Logger log.Logger
}

type requestKey struct{}

// Register adds the records API to r. Every route requires a bearer token
// that verifier accepts.
func Register(r *mux.Router, set endpoint.Set, verifier authn.Verifier, o Options) {
	if o.MaxDocumentBytes <= 0 {
		o.MaxDocumentBytes = service.DefaultMaxDocumentBytes
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(problem.PopulateInstance, keepRequest, carryBearer),
		kithttp.ServerErrorEncoder(problem.ErrorEncoder(tooManyUploads, errorRules)),
	}
	requireToken := authn.Middleware(verifier)
	// transfer registers a route that moves a document's content: its
	// deadline is the server's, long enough for a large file.
	transfer := func(method, path string, ep kitendpoint.Endpoint, dec kithttp.DecodeRequestFunc, enc kithttp.EncodeResponseFunc) {
		r.Handle(Prefix+path, requireToken(kithttp.NewServer(ep, dec, enc, opts...))).Methods(method)
	}
	// handle registers any other route, under the shorter deadline (a
	// deadline can only shorten the server's).
	// Routes that move no document content answer within
	// httpmw.DefaultTimeout: the gateway gives them 15 s, and a hung
	// database must be answered with this service's 503 before the
	// gateway's 504. Uploads and downloads keep the server's request
	// deadline, the longer.
	short := httpmw.Deadline(httpmw.DefaultTimeout)
	handle := func(method, path string, ep kitendpoint.Endpoint, dec kithttp.DecodeRequestFunc, enc kithttp.EncodeResponseFunc) {
		r.Handle(Prefix+path, short(requireToken(kithttp.NewServer(ep, dec, enc, opts...)))).Methods(method)
	}
	r.Handle("/openapi.yaml", rest.OpenAPI(openAPI)).Methods(http.MethodGet)
	const enc = "/patients/{patientId}/encounters"
	const doc = "/patients/{patientId}/documents"
	handle(http.MethodPost, enc, set.OpenEncounter, decodeOpenEncounter, encodeCreated)
	handle(http.MethodGet, enc, set.ListEncounters, decodeListEncounters, encode)
	handle(http.MethodGet, enc+"/{encounterId}", set.GetEncounter, decodeEncounterItem, encode)
	handle(http.MethodPut, enc+"/{encounterId}", set.UpdateEncounter, decodeUpdateEncounter, encode)
	handle(http.MethodPost, enc+"/{encounterId}/sign", set.SignEncounter, decodeSign, encode)
	handle(http.MethodPost, enc+"/{encounterId}/entered-in-error", set.RetractEncounter, decodeRetract("encounterId"), encode)
	handle(http.MethodPost, enc+"/{encounterId}/addenda", set.AddAddendum, decodeAddendum, encodeCreated)
	handle(http.MethodGet, enc+"/{encounterId}/revisions", set.EncounterRevisions, decodeEncounterItem, encode)
	transfer(http.MethodPost, doc, set.UploadDocument, decodeUpload(o.MaxDocumentBytes, false), encodeCreated)
	handle(http.MethodGet, doc, set.ListDocuments, decodeListDocuments, encode)
	handle(http.MethodGet, doc+"/{documentId}", set.GetDocument, decodeDocumentItem, encode)
	transfer(http.MethodPost, doc+"/{documentId}/versions", set.ReplaceDocument, decodeUpload(o.MaxDocumentBytes, true), encodeCreated)
	handle(http.MethodPost, doc+"/{documentId}/entered-in-error", set.RetractDocument, decodeRetract("documentId"), encode)
	transfer(http.MethodGet, doc+"/{documentId}/content", set.OpenContent, decodeDocumentItem, contentEncoder(o.Logger))
	handle(http.MethodPost, doc+"/{documentId}/link", set.ContentLink, decodeDocumentItem, encode)
	handle(http.MethodGet, "/patients/{patientId}/audit", set.AuditTrail, decodeAudit, encode)
	handle(http.MethodGet, "/patients/{patientId}/care", set.Treating, decodePatient, encode)
}

// keepRequest puts the request in the context for contentEncoder, which
// answers ranges and conditional requests through http.ServeContent.
func keepRequest(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// --- decoding --------------------------------------------------------------

// carryBearer keeps the caller's token for the services this one calls on
// their behalf (the patient directory, the appointment service).
func carryBearer(ctx context.Context, r *http.Request) context.Context {
	if raw, ok := authn.BearerToken(r.Header.Get("Authorization")); ok {
		return authn.WithToken(ctx, raw)
	}
	return ctx
}

// caller reads the caller the token names.
func caller(ctx context.Context, _ *http.Request) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return authn.Principal{}, problem.Unauthorized("a bearer token is required")
	}
	return p, nil
}

// reason reads the break-glass reason from the header or, without one,
// the query.
func reason(r *http.Request) (string, error) {
	if s := strings.TrimSpace(r.Header.Get(ReasonHeader)); s != "" {
		return s, nil
	}
	s, err := rest.TextParam(r, "reason")
	return strings.TrimSpace(s), err
}

func item(ctx context.Context, r *http.Request, idVar string) (endpoint.ItemRequest, error) {
	a, err := caller(ctx, r)
	if err != nil {
		return endpoint.ItemRequest{}, err
	}
	pid, err := rest.PathUUID(r, "patientId")
	if err != nil {
		return endpoint.ItemRequest{}, err
	}
	why, err := reason(r)
	if err != nil {
		return endpoint.ItemRequest{}, err
	}
	out := endpoint.ItemRequest{Actor: a, Reason: why, PatientID: pid}
	if idVar != "" {
		if out.ID, err = rest.PathUUID(r, idVar); err != nil {
			return endpoint.ItemRequest{}, err
		}
	}
	return out, nil
}

func body[B any](r *http.Request) (B, error) {
	var b B
	err := httpjson.Decode(r, &b, MaxJSONBytes)
	return b, err
}

func decodeOpenEncounter(ctx context.Context, r *http.Request) (any, error) {
	it, err := item(ctx, r, "")
	if err != nil {
		return nil, err
	}
	b, err := body[clinicalBody](r)
	return endpoint.OpenEncounterRequest{Actor: it.Actor, PatientID: it.PatientID, In: b.toClinical()}, err
}

func decodeEncounterItem(ctx context.Context, r *http.Request) (any, error) {
	return item(ctx, r, "encounterId")
}
func decodeDocumentItem(ctx context.Context, r *http.Request) (any, error) {
	return item(ctx, r, "documentId")
}

func decodeUpdateEncounter(ctx context.Context, r *http.Request) (any, error) {
	it, err := item(ctx, r, "encounterId")
	if err != nil {
		return nil, err
	}
	// A missing If-Match (0) and a weak tag are the use case's to answer,
	// after the caller's rights (docs/adr/0003); a malformed one is a 400.
	v, err := rest.IfMatchVersion(r)
	if err != nil {
		return nil, err
	}
	b, err := body[encounterPutBody](r)
	return endpoint.UpdateEncounterRequest{ItemRequest: it, IfMatch: v, In: b.toUpdate()}, err
}

func decodeSign(ctx context.Context, r *http.Request) (any, error) {
	it, err := item(ctx, r, "encounterId")
	if err != nil {
		return nil, err
	}
	v, err := rest.IfMatchVersion(r)
	return endpoint.SignEncounterRequest{ItemRequest: it, IfMatch: v}, err
}

func decodeRetract(idVar string) kithttp.DecodeRequestFunc {
	return func(ctx context.Context, r *http.Request) (any, error) {
		it, err := item(ctx, r, idVar)
		if err != nil {
			return nil, err
		}
		v, err := rest.IfMatchVersion(r)
		if err != nil {
			return nil, err
		}
		b, err := body[reasonBody](r)
		return endpoint.RetractRequest{ItemRequest: it, IfMatch: v, Why: b.Reason}, err
	}
}

func decodeAddendum(ctx context.Context, r *http.Request) (any, error) {
	it, err := item(ctx, r, "encounterId")
	if err != nil {
		return nil, err
	}
	b, err := body[addendumBody](r)
	return endpoint.AddendumRequest{ItemRequest: it, Text: b.Text}, err
}

func pageParams(r *http.Request) (int, string, error) {
	n, err := rest.Limit(r)
	if err != nil {
		return 0, "", err
	}
	c, err := rest.Cursor(r)
	return n, c, err
}

func decodeListEncounters(ctx context.Context, r *http.Request) (any, error) {
	it, err := item(ctx, r, "")
	if err != nil {
		return nil, err
	}
	n, c, err := pageParams(r)
	return endpoint.ListEncountersRequest{Actor: it.Actor, Reason: it.Reason,
		Query: record.EncounterQuery{PatientID: it.PatientID, Limit: n, Cursor: c}}, err
}

func decodeListDocuments(ctx context.Context, r *http.Request) (any, error) {
	it, err := item(ctx, r, "")
	if err != nil {
		return nil, err
	}
	n, c, err := pageParams(r)
	if err != nil {
		return nil, err
	}
	q := record.DocumentQuery{PatientID: it.PatientID, Limit: n, Cursor: c}
	for _, v := range r.URL.Query()["status"] {
		for _, s := range strings.Split(v, ",") {
			st := record.DocumentStatus(strings.TrimSpace(s))
			if !st.Valid() {
				return nil, domainerr.Field("status", "must be one of current, superseded, entered-in-error")
			}
			q.Statuses = append(q.Statuses, st)
		}
	}
	if len(q.Statuses) > 3 {
		return nil, domainerr.Field("status", "too many values")
	}
	return endpoint.ListDocumentsRequest{Actor: it.Actor, Query: q}, nil
}

func decodePatient(ctx context.Context, r *http.Request) (any, error) {
	return item(ctx, r, "")
}

func decodeAudit(ctx context.Context, r *http.Request) (any, error) {
	it, err := item(ctx, r, "")
	if err != nil {
		return nil, err
	}
	n, c, err := pageParams(r)
	return endpoint.AuditRequest{Actor: it.Actor, Query: record.AuditQuery{PatientID: it.PatientID, Limit: n, Cursor: c}}, err
}

// decodeUpload takes the file as the raw body, its type from Content-Type,
// and the metadata from the query: the body streams to the blob store and
// is never held whole. A declared length over the limit is refused before
// a byte is read.
func decodeUpload(max int64, replace bool) kithttp.DecodeRequestFunc {
	return func(ctx context.Context, r *http.Request) (any, error) {
		idVar := ""
		if replace {
			idVar = "documentId"
		}
		it, err := item(ctx, r, idVar)
		if err != nil {
			return nil, err
		}
		if r.ContentLength > max {
			return nil, problem.New(http.StatusRequestEntityTooLarge, fmt.Sprintf("the document exceeds %d bytes", max))
		}
		q := rest.QueryOf(r)
		meta := record.DocumentMeta{
			Type: q.Text("type"), Category: q.Text("category"), Title: q.Text("title"),
			ContentType: r.Header.Get("Content-Type"), EncounterID: q.Get("encounterId"),
		}
		if err := q.Err(); err != nil {
			return nil, err
		}
		if meta.EncounterID != "" {
			id, ok := ids.Canonical(meta.EncounterID)
			if !ok {
				return nil, domainerr.Field("encounterId", "must be a UUID")
			}
			meta.EncounterID = id
		}
		return endpoint.UploadRequest{Actor: it.Actor, PatientID: it.PatientID, Replaces: it.ID, Meta: meta, Body: r.Body}, nil
	}
}

// --- encoding --------------------------------------------------------------

func encodeCreated(ctx context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusCreated, resp)
}

func encode(ctx context.Context, w http.ResponseWriter, resp any) error {
	return write(w, http.StatusOK, resp)
}

func write(w http.ResponseWriter, status int, resp any) error {
	w.Header().Set("Cache-Control", "no-store")
	var body any
	switch v := resp.(type) {
	case record.Encounter:
		w.Header().Set("ETag", rest.ETag(v.Version))
		body = toEncounterJSON(v)
	case service.EncounterView:
		w.Header().Set("ETag", rest.ETag(v.Version))
		body = toViewJSON(v)
	case []record.Encounter:
		items := make([]encounterJSON, len(v))
		for i, e := range v {
			items[i] = toEncounterJSON(e)
		}
		body = map[string]any{"items": items}
	case page.Page[record.Encounter]:
		body = page.Map(v, toEncounterJSON)
	case record.Addendum:
		body = toAddendumJSON(v)
	case record.Document:
		w.Header().Set("ETag", rest.ETag(v.Version))
		body = toDocumentJSON(v)
	case page.Page[record.Document]:
		body = page.Map(v, toDocumentJSON)
	case page.Page[record.AuditEvent]:
		body = page.Map(v, toAuditJSON)
	case service.Link:
		body = linkJSON{URL: v.URL, ExpiresAt: v.ExpiresAt}
	case endpoint.TreatingResponse:
		body = treatingJSON{PatientID: v.PatientID, Treating: v.Treating}
	default:
		return fmt.Errorf("encode: unexpected response %T", resp)
	}
	return httpjson.Write(w, status, body)
}

// contentEncoder streams a document's bytes, answering Range, If-Range and
// If-None-Match requests through http.ServeContent. A copy that fails once
// the 200 went out can only cut the body short: the request is then
// recorded as failed (httpmw.Failed), and a stored content that could not
// be read (damaged, refused by its integrity check, a store gone) is logged
// as the fault it is.
func contentEncoder(logger log.Logger) kithttp.EncodeResponseFunc {
	return func(ctx context.Context, w http.ResponseWriter, resp any) error {
		c := resp.(endpoint.ContentResponse)
		defer c.Blob.Close()
		r, _ := ctx.Value(requestKey{}).(*http.Request)
		if r == nil {
			return fmt.Errorf("encode content: no request in context")
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", c.Doc.ContentType)
		h.Set("ETag", `"`+c.Doc.SHA256+`"`)
		h.Set("Content-Disposition", `attachment; filename="`+c.Doc.FileName()+`"`)
		h.Set("X-Content-Type-Options", "nosniff")
		pw := &problemWriter{ResponseWriter: w, r: r, size: c.Doc.Size}
		http.ServeContent(pw, r, "", c.Doc.Date, c.Blob)
		switch {
		case pw.copyErr == nil:
		case !pw.readFailed || errors.Is(ctx.Err(), context.Canceled):
			// The client went away: nothing of the service failed.
			httpmw.Failed(ctx, httpmw.StatusClientClosed)
		default:
			httpmw.Failed(ctx, http.StatusInternalServerError)
			_ = level.Error(logging.FromContext(ctx, logger)).Log(
				"msg", "document content cut short", "documentId", c.Doc.ID, logging.KeyErr, pw.copyErr)
		}
		return nil
	}
}

// MaxRanges bounds the ranges of one request, as the API documents: every
// range reopens the stored object (a ranged GET on S3, a seek and a package
// decrypted on the filesystem), so a header of thousands of one-byte ranges
// would cost thousands of reads for a few bytes of answer. The bound
// applies only where the Range is honoured: a precondition answered first
// (304, 412) or an If-Range that fails (the whole content) makes it moot
// (RFC 9110 13.2.2), which problemWriter leaves http.ServeContent to judge.
const MaxRanges = 1

// errAnswered stops http.ServeContent's copy of content the client will
// not get, before a byte of it is read.
var errAnswered = errors.New("answered without the content")

// rangeCount counts the ranges a Range header asks for.
func rangeCount(h string) int {
	if h == "" {
		return 0
	}
	return strings.Count(h, ",") + 1
}

// problemWriter turns the plain-text errors of http.ServeContent (a range
// outside the content, a failed precondition, a failed read) into problem
// documents, as every other error of the service is.
type problemWriter struct {
	http.ResponseWriter
	r      *http.Request
	size   int64 // the content's length, for the Content-Range of a 416
	failed bool
	// copyErr is what cut the content's copy short, readFailed whether
	// reading the stored content did rather than writing to the client.
	copyErr    error
	readFailed bool
}

func (p *problemWriter) WriteHeader(status int) {
	// ServeContent answers several ranges it honours as multipart, once
	// every precondition passed; its goroutine reads the ranges only as
	// the body is copied, which ReadFrom then refuses.
	if status == http.StatusPartialContent && strings.HasPrefix(p.Header().Get("Content-Type"), "multipart/byteranges") &&
		rangeCount(p.r.Header.Get("Range")) > MaxRanges {
		p.fail(http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("at most %d byte range per request", MaxRanges))
		return
	}
	// ServeContent honours a suffix range of no bytes (bytes=-0) with a
	// 206 of nothing whose Content-Range ends before it begins; RFC 9110
	// 14.1.1 makes it unsatisfiable. It is judged here, where the Range is
	// honoured, so that a 304 or a failed If-Range still comes first.
	if status == http.StatusPartialContent && emptyRange(p.Header().Get("Content-Range")) {
		p.fail(http.StatusRequestedRangeNotSatisfiable, "a range of no bytes cannot be satisfied")
		return
	}
	if status < http.StatusBadRequest {
		p.ResponseWriter.WriteHeader(status)
		return
	}
	detail := http.StatusText(status)
	if status == http.StatusRequestedRangeNotSatisfiable {
		detail = "the range lies outside the content"
	}
	p.fail(status, detail)
}

// emptyRange reports a Content-Range of one part ("bytes 10-9/10") whose
// last byte lies before its first.
func emptyRange(cr string) bool {
	var first, last, size int64
	n, _ := fmt.Sscanf(cr, "bytes %d-%d/%d", &first, &last, &size)
	return n == 3 && last < first
}

// fail answers a problem in place of the content. Every 416 tells the
// content's length (RFC 9110 15.5.17), as ServeContent does only for a
// range outside the content.
func (p *problemWriter) fail(status int, detail string) {
	p.failed = true
	h := p.Header()
	for _, k := range []string{"Content-Type", "Content-Disposition", "X-Content-Type-Options", "Content-Length"} {
		h.Del(k)
	}
	if status == http.StatusRequestedRangeNotSatisfiable && !strings.HasPrefix(h.Get("Content-Range"), "bytes */") {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(p.size, 10))
	}
	if status != http.StatusRequestedRangeNotSatisfiable {
		h.Del("Content-Range")
	}
	problem.Write(p.ResponseWriter, p.r, problem.New(status, detail))
}

// Unwrap lets http.ResponseController reach the real writer.
func (p *problemWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// Write drops the plain-text body of an error already answered.
func (p *problemWriter) Write(b []byte) (int, error) {
	if p.failed {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

// copyBufferSize is the chunk in which content is copied from the store to
// the client: io.Copy's 32 KiB costs a read and a write system call per
// chunk on both connections, which dominates the CPU of a large download.
const copyBufferSize = 256 << 10

// ReadFrom copies the content ServeContent sends in large chunks.
func (p *problemWriter) ReadFrom(r io.Reader) (int64, error) {
	if p.failed {
		return 0, errAnswered
	}
	buf := make([]byte, copyBufferSize)
	src := &sourceReader{r: r}
	n, err := io.CopyBuffer(writerOnly{p}, src, buf)
	if err != nil {
		p.copyErr, p.readFailed = err, src.err != nil
	}
	return n, err
}

// sourceReader remembers the error of the reader it wraps, other than its
// end, so that a failed copy tells a broken source from a gone client.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// writerOnly hides ReadFrom, so that io.CopyBuffer uses the buffer.
type writerOnly struct{ io.Writer }
