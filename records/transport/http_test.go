package transport_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/go-kit/log"

	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/endpoint"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/records/transport"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// directory is the patient service as this one sees it: the peer is
// outside the module, so the test stands in for it with a map.
type directory map[string]service.PatientRef

func (d directory) Patient(_ context.Context, id string) (service.PatientRef, error) {
	if p, ok := d[id]; ok {
		return p, nil
	}
	return service.PatientRef{}, record.ErrNotFound
}

// appointments is the appointment service as this one sees it: each
// appointment's doctor (user id), patient, status and who booked it. Like
// the real one, it shows a doctor only their own, and an administrator
// every one.
type appointments map[string]struct{ doctor, patient, status, bookedBy string }

func (a appointments) WithPatient(ctx context.Context, patientID string) ([]service.AppointmentRef, error) {
	p, _ := authn.FromContext(ctx)
	var out []service.AppointmentRef
	for id, x := range a {
		if (x.doctor == p.UserID || p.Has(authn.RoleAdmin)) && x.patient == patientID && x.status != "cancelled" {
			out = append(out, service.AppointmentRef{ID: id, PatientID: x.patient, DoctorUserID: x.doctor, BookedBy: x.bookedBy, Status: x.status})
		}
	}
	return out, nil
}

func (a appointments) Appointment(ctx context.Context, id string) (service.AppointmentRef, error) {
	p, _ := authn.FromContext(ctx)
	if x, ok := a[id]; ok && (x.doctor == p.UserID || p.Has(authn.RoleAdmin)) {
		return service.AppointmentRef{ID: id, PatientID: x.patient, DoctorUserID: x.doctor, BookedBy: x.bookedBy, Status: x.status}, nil
	}
	return service.AppointmentRef{}, record.ErrNotFound
}

// The document types travel as opaque bytes; the validator reads them as
// such.
func init() {
	for _, ct := range []string{"application/pdf", "image/png", "image/jpeg", "application/dicom"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

type harness struct {
	t       testing.TB
	srv     *httptest.Server
	issuer  *authntest.Issuer
	store   *sqlstore.Store
	db      *sqldb.DB
	blobs   *blobfs.Store
	patient string // patient id
	other   string // the patient id of the user "other"
	tokens  map[string]string
	uids    map[string]string // user ids by name
	// appts holds an appointment of "doctor" with each patient
	// ("apptPatient", "apptOther"); "doctor2" has none.
	appts appointments
	// cleanups runs the removals failed uploads leave; closing it waits
	// for them.
	cleanups *service.Cleanups
	// logs holds the lines the transport writes (logfmt, debug level).
	logs   *logtest.Buffer
	logger log.Logger
}

// newHarness serves the API on SQLite and the filesystem store; adjust, if
// given, changes the service's dependencies first.
func newHarness(t testing.TB, maxBytes int64, adjust ...func(*service.Deps)) *harness {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	store := sqlstore.New(db)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	blobs, err := blobfs.New(t.TempDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	rec := auditlog.New[record.AuditEvent](store, auditlog.Options{})
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	h := &harness{t: t, issuer: authntest.NewIssuer(t), store: store, db: db, blobs: blobs, patient: ids.New(), other: ids.New(), tokens: map[string]string{}}
	users := map[string][]string{"patient": {"PATIENT"}, "other": {"PATIENT"}, "doctor": {"DOCTOR"}, "doctor2": {"DOCTOR"}, "admin": {"ADMIN"},
		"docadmin": {"DOCTOR", "ADMIN"}}
	uids := map[string]string{}
	h.uids = uids
	for name, roles := range users {
		uids[name] = ids.New()
		h.tokens[name] = h.issuer.Token(t, authntest.Claims{UserID: uids[name], Roles: roles})
	}
	dir := directory{h.patient: {ID: h.patient, UserID: uids["patient"], Active: true},
		h.other: {ID: h.other, UserID: uids["other"], Active: true}}
	h.appts = appointments{
		"0190a0a0-0000-7000-8000-00000000a001": {uids["doctor"], h.patient, "booked", uids["patient"]},
		"0190a0a0-0000-7000-8000-00000000a002": {uids["doctor"], h.other, "booked", uids["other"]},
	}
	deps := service.Deps{Encounters: store, Documents: store, Audit: store, Recorder: rec, Blobs: blobs,
		Patients: dir, Appointments: h.appts, Clock: clock.System{}, MaxDocumentBytes: maxBytes, Cleanups: service.NewCleanups(0, 0)}
	for _, f := range adjust {
		f(&deps)
	}
	h.cleanups = deps.Cleanups
	t.Cleanup(func() {
		// Removals still waiting on a store the test made hang are cut.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = h.cleanups.Close(ctx)
	})
	svc := service.New(deps)
	h.logs = &logtest.Buffer{}
	if h.logger, err = logging.New(h.logs, "records", "logfmt", "debug"); err != nil {
		t.Fatal(err)
	}
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), h.issuer.Verifier(), transport.Options{MaxDocumentBytes: maxBytes, Logger: h.logger})
	// Every exchange of the tests is held to the OpenAPI document.
	h.srv = httptest.NewServer(openapitest.Load(t, transport.OpenAPI()).Handler(t, r))
	t.Cleanup(h.srv.Close)
	return h
}

type resp struct {
	code int
	body []byte
	h    http.Header
}

func (r resp) json(t testing.TB) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func (h *harness) do(who, method, path string, body io.Reader, headers ...string) resp {
	return h.doAt(who, h.patient, method, path, body, headers...)
}

// doAt is do on the records of patient pid.
func (h *harness) doAt(who, pid, method, path string, body io.Reader, headers ...string) resp {
	req, err := http.NewRequest(method, h.srv.URL+"/api/v1/records/patients/"+pid+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.tokens[who])
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b, res.Header}
}

func js(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func TestEncounters(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", js(map[string]any{
		"note":      map[string]string{"subjective": "cough", "assessment": "URTI"},
		"diagnoses": []map[string]string{{"code": "J06.9", "codeSystem": "http://hl7.org/fhir/sid/icd-10", "display": "URTI"}},
	}), "Content-Type", "application/json")
	if r.code != 201 {
		t.Fatalf("open = %d %s", r.code, r.body)
	}
	id := r.json(t)["id"].(string)

	if r := h.do("patient", "GET", "/encounters", nil); r.code != 200 || !strings.Contains(string(r.body), "URTI") {
		t.Fatalf("patient's own list = %d %s", r.code, r.body)
	}
	if r := h.do("other", "GET", "/encounters/"+id, nil); r.code != 404 {
		t.Fatalf("another patient = %d", r.code)
	}
	if r := h.do("doctor2", "GET", "/encounters/"+id, nil); r.code != 404 {
		t.Fatalf("a doctor without a relation = %d", r.code)
	}
	if r := h.do("admin", "GET", "/encounters/"+id, nil); r.code != 403 {
		t.Fatalf("admin without reason = %d", r.code)
	}
	if r := h.do("admin", "GET", "/encounters/"+id, nil, transport.ReasonHeader, "patient unconscious in ER"); r.code != 200 {
		t.Fatalf("admin breaking glass = %d %s", r.code, r.body)
	}
	if r := h.do("doctor", "GET", "/encounters/not-a-uuid", nil); r.code != 400 {
		t.Fatalf("bad uuid = %d", r.code)
	}
	if r := h.do("doctor", "POST", "/encounters", strings.NewReader(`{"nope":1}`), "Content-Type", "application/json"); r.code != 400 {
		t.Fatalf("unknown field = %d", r.code)
	}

	if r := h.do("doctor", "PUT", "/encounters/"+id, js(map[string]any{"note": map[string]string{"plan": "rest"}}), "If-Match", `"1"`, "Content-Type", "application/json"); r.code != 200 {
		t.Fatalf("edit open note = %d %s", r.code, r.body)
	}
	if r := h.do("doctor2", "POST", "/encounters/"+id+"/sign", nil, "If-Match", `"2"`); r.code != 404 {
		t.Fatalf("sign by another doctor = %d", r.code)
	}
	if r := h.do("doctor", "POST", "/encounters/"+id+"/sign", nil, "If-Match", `"2"`); r.code != 200 {
		t.Fatalf("sign = %d %s", r.code, r.body)
	}
	if r := h.do("doctor", "PUT", "/encounters/"+id, js(map[string]any{"note": map[string]string{"plan": "x"}}), "If-Match", `"3"`, "Content-Type", "application/json"); r.code != 409 {
		t.Fatalf("edit signed note = %d", r.code)
	}
	if r := h.do("doctor", "POST", "/encounters/"+id+"/addenda", js(map[string]string{"text": "allergy noted later"}), "Content-Type", "application/json"); r.code != 201 {
		t.Fatalf("addendum = %d %s", r.code, r.body)
	}
	if r := h.do("doctor", "GET", "/encounters/"+id+"/revisions", nil); r.code != 200 || len(r.json(t)["items"].([]any)) != 3 {
		t.Fatalf("revisions = %d %s", r.code, r.body)
	}
	if r := h.do("doctor", "POST", "/encounters/"+id+"/entered-in-error", js(map[string]string{"reason": "wrong patient"}), "If-Match", `"3"`, "Content-Type", "application/json"); r.code != 200 {
		t.Fatalf("entered-in-error = %d %s", r.code, r.body)
	}

	r = h.do("patient", "GET", "/audit?limit=100", nil)
	if r.code != 200 {
		t.Fatalf("audit = %d", r.code)
	}
	var trail struct {
		Items []struct {
			UserID, Outcome string
			BreakGlass      bool
			Reason          *string
		}
	}
	_ = json.Unmarshal(r.body, &trail)
	var glass, denied int
	for _, e := range trail.Items {
		if e.BreakGlass && e.Reason != nil && *e.Reason == "patient unconscious in ER" {
			glass++
		}
		if e.Outcome == "denied" {
			denied++
		}
	}
	if glass != 1 || denied < 3 {
		t.Fatalf("audit trail: %d break-glass, %d denials: %s", glass, denied, r.body)
	}
	// The doctor's only encounter is entered-in-error and their appointment
	// was cancelled: no relation is left.
	a := h.appts["0190a0a0-0000-7000-8000-00000000a001"]
	a.status = "cancelled"
	h.appts["0190a0a0-0000-7000-8000-00000000a001"] = a
	if r := h.do("doctor", "GET", "/audit", nil); r.code != 404 {
		t.Fatalf("doctor reading the audit = %d", r.code)
	}
}

// A list over its limit is refused for its length alone, its items unread:
// a megabyte of empty diagnoses is answered with one field error, not one
// per item, so that the answer stays small whatever the body holds.
func TestAListOverItsLimitIsRefusedForItsLengthAlone(t *testing.T) {
	h := newHarness(t, 1<<20)
	for _, list := range []string{"diagnoses", "prescriptions"} {
		n := (1<<20 - 64) / 3
		body := `{"` + list + `":[` + strings.TrimSuffix(strings.Repeat(`{},`, n), ",") + `]}`
		r := h.do("doctor", http.MethodPost, "/encounters", strings.NewReader(body), "Content-Type", "application/json")
		if r.code != http.StatusBadRequest {
			t.Fatalf("%s: status %d", list, r.code)
		}
		var p struct {
			Errors []struct{ Field, Message string }
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Errors) != 1 || p.Errors[0].Field != list || p.Errors[0].Message != "must hold at most 50 items" {
			t.Errorf("%s: %d items answered with %d bytes: %.300s", list, n, len(r.body), r.body)
		}
	}
}

func TestDocuments(t *testing.T) {
	h := newHarness(t, 1<<20)
	pdf := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("lab results "), 50000)[:500000]...)
	r := h.do("patient", "POST", "/documents?title=CBC&type=lab-report", bytes.NewReader(pdf), "Content-Type", "application/pdf")
	if r.code != 201 {
		t.Fatalf("upload = %d %s", r.code, r.body)
	}
	doc := r.json(t)
	sum := sha256.Sum256(pdf)
	if doc["sha256"] != hex.EncodeToString(sum[:]) || doc["size"].(float64) != float64(len(pdf)) || doc["status"] != "current" {
		t.Fatalf("document = %v", doc)
	}
	id := doc["id"].(string)

	// Lying or unknown content types, oversize bodies, unknown encounters.
	if r := h.do("patient", "POST", "/documents?title=x&type=t", bytes.NewReader([]byte("plain text")), "Content-Type", "image/png"); r.code != 415 {
		t.Fatalf("lying type = %d", r.code)
	}
	if r := h.do("patient", "POST", "/documents?title=x&type=t", bytes.NewReader(pdf), "Content-Type", "application/zip"); r.code != 415 {
		t.Fatalf("unknown type = %d", r.code)
	}
	big := append([]byte("%PDF-"), make([]byte, 2<<20)...)
	if r := h.do("patient", "POST", "/documents?title=x&type=t", bytes.NewReader(big), "Content-Type", "application/pdf"); r.code != 413 {
		t.Fatalf("oversize = %d", r.code)
	}
	if r := h.do("patient", "POST", "/documents?title=x&type=t", io.MultiReader(bytes.NewReader(big)), "Content-Type", "application/pdf"); r.code != 413 {
		t.Fatalf("oversize without Content-Length = %d", r.code)
	}
	if r := h.do("patient", "POST", "/documents?title=x&type=t&encounterId="+ids.New(), bytes.NewReader(pdf), "Content-Type", "application/pdf"); r.code != 422 {
		t.Fatalf("unknown encounter = %d %s", r.code, r.body)
	}
	dicom := append(make([]byte, 128), []byte("DICM....")...)
	if r := h.do("patient", "POST", "/documents?title=scan&type=imaging", bytes.NewReader(dicom), "Content-Type", "application/dicom"); r.code != 201 {
		t.Fatalf("dicom = %d %s", r.code, r.body)
	}
	infos, _ := h.blobs.List(context.Background(), service.BlobPrefix, "", 100)
	if len(infos) != 2 {
		t.Fatalf("%d objects stored, want 2 (refused uploads leave none)", len(infos))
	}

	// Ranged download.
	r = h.do("patient", "GET", "/documents/"+id+"/content", nil, "Range", "bytes=100-199")
	if r.code != 206 || !bytes.Equal(r.body, pdf[100:200]) {
		t.Fatalf("range = %d, %d bytes", r.code, len(r.body))
	}
	if r := h.do("patient", "GET", "/documents/"+id+"/content", nil); r.code != 200 || !bytes.Equal(r.body, pdf) || r.h.Get("Cache-Control") != "no-store" {
		t.Fatalf("whole download = %d", r.code)
	}
	if r := h.do("other", "GET", "/documents/"+id+"/content", nil); r.code != 404 {
		t.Fatalf("another patient's document = %d", r.code)
	}
	if r := h.do("admin", "GET", "/documents/"+id, nil); r.code != 200 {
		t.Fatalf("admin reads metadata = %d", r.code)
	}
	if r := h.do("admin", "GET", "/documents/"+id+"/content", nil); r.code != 403 {
		t.Fatalf("admin reads content without reason = %d", r.code)
	}
	if r := h.do("patient", "POST", "/documents/"+id+"/link", nil); r.code != 409 {
		t.Fatalf("link from the filesystem store = %d", r.code)
	}
	// Whatever the store, a stranger is refused as a stranger, and audited.
	if r := h.do("doctor2", "POST", "/documents/"+id+"/link", nil); r.code != 404 {
		t.Fatalf("a stranger's link request = %d %s", r.code, r.body)
	}
	if r := h.do("patient", "GET", "/audit?limit=100", nil); !regexp.MustCompile(`"action":"link"[^}]*"outcome":"denied"`).Match(r.body) {
		t.Fatalf("the refused link request is not in the trail: %s", r.body)
	}

	// A new version supersedes the old one, which stays readable.
	v2 := append([]byte("%PDF-1.7\n"), []byte("corrected")...)
	r = h.do("patient", "POST", "/documents/"+id+"/versions?title=CBC&type=lab-report", bytes.NewReader(v2), "Content-Type", "application/pdf")
	if r.code != 201 || !strings.Contains(string(r.body), `"replaces"`) {
		t.Fatalf("new version = %d %s", r.code, r.body)
	}
	if r := h.do("patient", "GET", "/documents/"+id, nil); r.json(t)["status"] != "superseded" {
		t.Fatalf("old version = %s", r.body)
	}
	if r := h.do("patient", "GET", "/documents/"+id+"/content", nil); r.code != 200 || !bytes.Equal(r.body, pdf) {
		t.Fatalf("old content = %d", r.code)
	}
}

// The sweeper removes an object no document names once it is old enough,
// and keeps documents' content and fresh uploads.
func TestSweeper(t *testing.T) {
	h := newHarness(t, 1<<20)
	ctx := context.Background()
	if r := h.do("patient", "POST", "/documents?title=a&type=t", strings.NewReader("hello"), "Content-Type", "text/plain"); r.code != 201 {
		t.Fatalf("upload = %d %s", r.code, r.body)
	}
	if _, err := h.blobs.Put(ctx, service.BlobPrefix+ids.New(), strings.NewReader("orphan"), nil); err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Now())
	sw := service.Sweeper{Blobs: h.blobs, Documents: h.store, Clock: clk, Grace: time.Hour, Batch: 1}
	if n, err := sw.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("fresh sweep removed %d, %v", n, err)
	}
	clk.Advance(2 * time.Hour)
	if n, err := sw.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep removed %d, %v; want 1", n, err)
	}
	infos, _ := h.blobs.List(ctx, service.BlobPrefix, "", 10)
	if len(infos) != 1 {
		t.Fatalf("%d objects left, want the document's", len(infos))
	}
}

// Without a status filter the list shows current documents only, as the
// API documents; asking for the statuses shows replaced ones too.
func TestDocumentListWithoutStatusListsCurrent(t *testing.T) {
	h := newHarness(t, 1<<20)
	_, second := h.replaced()
	items := h.do("patient", "GET", "/documents", nil).json(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != second {
		t.Fatalf("status absent lists %v; want the current version only", items)
	}
	items = h.do("patient", "GET", "/documents?status=current,superseded", nil).json(t)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("both statuses list %d documents, want 2", len(items))
	}
}

// Only the current version of a document is replaced; any version, a
// superseded one too, may be marked entered in error (FHIR allows it of any
// version: an old version filed on the wrong patient must be flagged), and
// the version that replaced it stays current.
func TestSupersededVersionMayBeEnteredInError(t *testing.T) {
	h := newHarness(t, 1<<20)
	first, second := h.replaced()
	r := h.do("patient", "POST", "/documents/"+first+"/versions?title=CBC&type=lab-report", bytes.NewReader([]byte("%PDF-1.7\nv3")),
		"Content-Type", "application/pdf")
	if r.code != 409 || r.json(t)["detail"] != "only the current version of a document can be replaced" {
		t.Fatalf("replacing a superseded version = %d %s", r.code, r.body)
	}
	etag := h.do("patient", "GET", "/documents/"+first, nil).h.Get("ETag")
	r = h.do("patient", "POST", "/documents/"+first+"/entered-in-error", js(map[string]string{"reason": "another patient's report"}),
		"Content-Type", "application/json", "If-Match", etag)
	if r.code != 200 || r.json(t)["status"] != "entered-in-error" {
		t.Fatalf("retracting a superseded version = %d %s", r.code, r.body)
	}
	if r := h.do("patient", "GET", "/documents/"+second, nil); r.json(t)["status"] != "current" {
		t.Fatalf("the version that replaced it = %s", r.body)
	}
}

// A patient may file new versions of their own uploads only: a document a
// treating doctor filed stays current until a clinician replaces it.
func TestPatientReplacesOnlyOwnDocuments(t *testing.T) {
	h := newHarness(t, 1<<20)
	// The doctor treats the patient once an encounter is open.
	if r := h.do("doctor", "POST", "/encounters", js(map[string]any{"note": map[string]string{"subjective": "follow-up"}}), "Content-Type", "application/json"); r.code != 201 {
		t.Fatalf("open = %d %s", r.code, r.body)
	}
	report := append([]byte("%PDF-1.7\n"), []byte("lab report")...)
	r := h.do("doctor", "POST", "/documents?title=CBC&type=lab-report", bytes.NewReader(report), "Content-Type", "application/pdf")
	if r.code != 201 {
		t.Fatalf("doctor files = %d %s", r.code, r.body)
	}
	id := r.json(t)["id"].(string)
	forged := append([]byte("%PDF-1.7\n"), []byte("all normal")...)
	before := h.deniedTo("patient")
	r = h.do("patient", "POST", "/documents/"+id+"/versions?title=CBC&type=lab-report", bytes.NewReader(forged), "Content-Type", "application/pdf")
	if r.code != 403 || !strings.Contains(string(r.body), "only the documents they uploaded") {
		t.Fatalf("patient replaces the doctor's report = %d %s", r.code, r.body)
	}
	if n := h.deniedTo("patient"); n != before+1 {
		t.Fatalf("%d refusals of the patient on the trail, want %d", n, before+1)
	}
	if r := h.do("patient", "GET", "/documents/"+id, nil); r.json(t)["status"] != "current" {
		t.Fatalf("the doctor's report = %s", r.body)
	}
	r = h.do("doctor", "POST", "/documents/"+id+"/versions?title=CBC&type=lab-report", bytes.NewReader(forged), "Content-Type", "application/pdf")
	if r.code != 201 {
		t.Fatalf("the doctor replaces it = %d %s", r.code, r.body)
	}
}

// deadlines records the deadline of each call to the patient directory,
// which every route asks first.
type deadlines struct {
	service.PatientDirectory
	mu  sync.Mutex
	got []time.Duration // left at the call; 0 for none
}

func (d *deadlines) Patient(ctx context.Context, id string) (service.PatientRef, error) {
	var left time.Duration
	if at, ok := ctx.Deadline(); ok {
		left = time.Until(at)
	}
	d.mu.Lock()
	d.got = append(d.got, left)
	d.mu.Unlock()
	return d.PatientDirectory.Patient(ctx, id)
}

func (d *deadlines) last() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.got[len(d.got)-1]
}

// The routes that move no document content answer within the shared
// default deadline, below the gateway's 15 s for /api/v1/records/**, so
// that a hung database gives records' own 503 rather than the gateway's
// 504; uploads and downloads keep the service's long request deadline
// (the gateway gives them 55 s).
func TestRouteDeadlines(t *testing.T) {
	var dl *deadlines
	h := newHarness(t, 1<<20, func(d *service.Deps) {
		dl = &deadlines{PatientDirectory: d.Patients}
		d.Patients = dl
	})
	short := func(what string, r resp) {
		t.Helper()
		if r.code >= 300 {
			t.Fatalf("%s = %d %s", what, r.code, r.body)
		}
		if left := dl.last(); left <= 0 || left > httpmw.DefaultTimeout {
			t.Fatalf("%s ran with %v left, want at most %v", what, left, httpmw.DefaultTimeout)
		}
	}
	long := func(what string, r resp) {
		t.Helper()
		if r.code >= 300 {
			t.Fatalf("%s = %d %s", what, r.code, r.body)
		}
		if left := dl.last(); left != 0 {
			t.Fatalf("%s ran with %v left, want the server's deadline alone", what, left)
		}
	}
	short("open an encounter", h.do("doctor", "POST", "/encounters", js(openBody(apptPatient)), "Content-Type", "application/json"))
	short("list encounters", h.do("patient", "GET", "/encounters", nil))
	short("audit trail", h.do("patient", "GET", "/audit", nil))
	r := h.do("patient", "POST", "/documents?title=t&type=lab-report", bytes.NewReader([]byte("%PDF-1.7\nx")), "Content-Type", "application/pdf")
	long("upload", r)
	id := r.json(t)["id"].(string)
	long("new version", h.do("patient", "POST", "/documents/"+id+"/versions?title=t&type=lab-report",
		bytes.NewReader([]byte("%PDF-1.7\ny")), "Content-Type", "application/pdf"))
	long("download", h.do("patient", "GET", "/documents/"+id+"/content", nil))
	short("document list", h.do("patient", "GET", "/documents", nil))
	short("document metadata", h.do("patient", "GET", "/documents/"+id, nil))
}

// replaced uploads a document of the patient and a new version of it,
// returning both ids.
func (h *harness) replaced() (first, second string) {
	h.t.Helper()
	first = h.upload("patient", h.patient, []byte("%PDF-1.7\nv1"))
	r := h.do("patient", "POST", "/documents/"+first+"/versions?title=CBC&type=lab-report", bytes.NewReader([]byte("%PDF-1.7\nv2")),
		"Content-Type", "application/pdf")
	if r.code != 201 {
		h.t.Fatalf("new version = %d %s", r.code, r.body)
	}
	return first, r.json(h.t)["id"].(string)
}

// An encounter marked entered-in-error takes no new document, as it takes
// no addendum: an upload, or a new version, linked to it is a 409 naming
// encounterId, and stores nothing.
func TestDocumentLinkedToAnEnteredInErrorEncounterIsAConflict(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", js(map[string]any{"note": map[string]string{"subjective": "cough"}}), "Content-Type", "application/json")
	if r.code != 201 {
		t.Fatalf("open = %d %s", r.code, r.body)
	}
	enc := r.json(t)["id"].(string)
	pdf := []byte("%PDF-1.7\nlab results")
	r = h.do("patient", "POST", "/documents?title=CBC&type=lab-report&encounterId="+enc, bytes.NewReader(pdf), "Content-Type", "application/pdf")
	if r.code != 201 {
		t.Fatalf("upload linked to an open encounter = %d %s", r.code, r.body)
	}
	doc := r.json(t)["id"].(string)
	if r := h.do("doctor", "POST", "/encounters/"+enc+"/entered-in-error", js(map[string]string{"reason": "wrong patient"}), "If-Match", `"1"`, "Content-Type", "application/json"); r.code != 200 {
		t.Fatalf("entered-in-error = %d %s", r.code, r.body)
	}
	before, _ := h.blobs.List(context.Background(), service.BlobPrefix, "", 100)

	for name, path := range map[string]string{
		"upload":      "/documents?title=CBC&type=lab-report&encounterId=" + enc,
		"new version": "/documents/" + doc + "/versions?title=CBC&type=lab-report&encounterId=" + enc,
	} {
		r := h.do("patient", "POST", path, bytes.NewReader(pdf), "Content-Type", "application/pdf", "If-Match", `"1"`)
		if r.code != 409 || !strings.Contains(string(r.body), "encounterId") {
			t.Errorf("%s linked to an entered-in-error encounter = %d %s", name, r.code, r.body)
		}
	}
	after, _ := h.blobs.List(context.Background(), service.BlobPrefix, "", 100)
	if len(after) != len(before) {
		t.Errorf("%d objects stored, want %d: a refused upload leaves none", len(after), len(before))
	}
}
