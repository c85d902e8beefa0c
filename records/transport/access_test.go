package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/records/transport"
)

// openSigned opens a signed encounter of patient pid by the doctor who
// and returns its id.
func (h *harness) openSigned(who, pid string) string {
	h.t.Helper()
	r := h.doAt(who, pid, "POST", "/encounters", js(map[string]any{"note": map[string]string{"subjective": "s"}}), "Content-Type", "application/json")
	if r.code != 201 {
		h.t.Fatalf("open = %d %s", r.code, r.body)
	}
	id := r.json(h.t)["id"].(string)
	if r := h.doAt(who, pid, "POST", "/encounters/"+id+"/sign", nil, "If-Match", `"1"`); r.code != 200 {
		h.t.Fatalf("sign = %d %s", r.code, r.body)
	}
	return id
}

func (h *harness) upload(who, pid string, body []byte) string {
	h.t.Helper()
	r := h.doAt(who, pid, "POST", "/documents?title=t&type=lab-report", bytes.NewReader(body), "Content-Type", "application/pdf")
	if r.code != 201 {
		h.t.Fatalf("upload = %d %s", r.code, r.body)
	}
	return r.json(h.t)["id"].(string)
}

// Ids of one patient's records given on another patient's path name
// nothing: an encounter attached to a document, an addendum's note, a
// document superseded by a new version.
func TestIdsOfAnotherPatientNameNothing(t *testing.T) {
	h := newHarness(t, 1<<20)
	pdf := []byte("%PDF-1.7\nx")
	// The doctor treats both patients.
	mine := h.openSigned("doctor", h.patient)
	theirs := h.openSigned("doctor", h.other)
	theirDoc := h.upload("other", h.other, pdf)

	if r := h.do("doctor", "POST", "/documents?title=t&type=t&encounterId="+theirs, bytes.NewReader(pdf), "Content-Type", "application/pdf"); r.code != 422 {
		t.Fatalf("document of one patient attached to another's encounter = %d %s", r.code, r.body)
	}
	if r := h.do("doctor", "POST", "/encounters/"+theirs+"/addenda", js(map[string]string{"text": "x"}), "Content-Type", "application/json"); r.code != 404 {
		t.Fatalf("addendum on another patient's note = %d %s", r.code, r.body)
	}
	if r := h.do("doctor", "POST", "/documents/"+theirDoc+"/versions?title=t&type=t", bytes.NewReader(pdf), "Content-Type", "application/pdf"); r.code != 404 {
		t.Fatalf("new version of another patient's document = %d %s", r.code, r.body)
	}
	if r := h.doAt("patient", h.other, "POST", "/documents/"+theirDoc+"/versions?title=t&type=t", bytes.NewReader(pdf), "Content-Type", "application/pdf"); r.code != 404 {
		t.Fatalf("a patient replacing another's document = %d %s", r.code, r.body)
	}
	if r := h.doAt("other", h.other, "GET", "/documents/"+theirDoc, nil); r.json(t)["status"] != "current" {
		t.Fatalf("the other patient's document changed: %s", r.body)
	}
	if r := h.do("doctor", "GET", "/encounters/"+theirs, nil); r.code != 404 {
		t.Fatalf("another patient's encounter on this path = %d", r.code)
	}
	if r := h.do("patient", "GET", "/encounters/"+mine, nil); r.code != 200 {
		t.Fatalf("own encounter = %d", r.code)
	}
	// Every path of the other patient's records is 404 for this patient.
	for _, p := range []string{"/encounters", "/encounters/" + theirs, "/encounters/" + theirs + "/revisions", "/documents",
		"/documents/" + theirDoc, "/documents/" + theirDoc + "/content", "/audit"} {
		if r := h.doAt("patient", h.other, "GET", p, nil); r.code != 404 {
			t.Fatalf("GET %s of another patient = %d", p, r.code)
		}
	}
}

// An empty file is no document, whatever its declared type.
func TestEmptyUploadRefused(t *testing.T) {
	h := newHarness(t, 1<<20)
	for _, ct := range []string{"text/plain", "application/pdf"} {
		r := h.do("patient", "POST", "/documents?title=t&type=t", bytes.NewReader(nil), "Content-Type", ct)
		if r.code != 400 || !strings.Contains(string(r.body), `"content"`) {
			t.Fatalf("empty %s = %d %s", ct, r.code, r.body)
		}
	}
}

// A text upload is held to the text rule whole, not on its first bytes
// only: binary past them is a 415, and nothing is listed.
func TestTextCheckedWhole(t *testing.T) {
	h := newHarness(t, 1<<20)
	body := append(bytes.Repeat([]byte("a"), 600), "\x00\x01\x02\x7fELF\xff\xfe binary"...)
	r := h.do("patient", "POST", "/documents?title=notes&type=note", bytes.NewReader(body), "Content-Type", "text/plain")
	require.Equal(t, 415, r.code, "%s", r.body)
	items := h.do("patient", "GET", "/documents", nil).json(t)["items"].([]any)
	assert.Empty(t, items)
}

// A request for many ranges would reopen the stored object once per range
// (a ranged GET on S3 each): one range is served, more are refused.
func TestManyRangesRefused(t *testing.T) {
	h := newHarness(t, 1<<20)
	body := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("0123456789"), 1000)...)
	id := h.upload("patient", h.patient, body)
	var rs []string
	for i := 0; i < 200; i++ {
		rs = append(rs, itoa(i*20)+"-"+itoa(i*20))
	}
	for _, rng := range []string{strings.Join(rs, ","), "0-1,10-11"} {
		r := h.do("patient", "GET", "/documents/"+id+"/content", nil, "Range", "bytes="+rng)
		if r.code != 416 || r.h.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("ranges %.20s... = %d %s", rng, r.code, r.h.Get("Content-Type"))
		}
	}
	if r := h.do("patient", "GET", "/documents/"+id+"/content", nil, "Range", "bytes=9-18"); r.code != 206 || string(r.body) != "0123456789" {
		t.Fatalf("one range = %d %q", r.code, r.body)
	}
}

// The limit on ranges applies only to a Range the answer would honour
// (RFC 9110 13.2.2: preconditions before Range): a matching If-None-Match
// is a 304, an If-Range that does not match the ETag strongly asks for the
// whole content (200). A refused request reads nothing of the object.
func TestManyRangesAfterPreconditions(t *testing.T) {
	var blobs *countingBlobs
	h := newHarness(t, 1<<20, func(d *service.Deps) {
		blobs = &countingBlobs{BlobStore: d.Blobs, onFirstOpening: func() {}}
		d.Blobs = blobs
	})
	content := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), 4000)...)
	id := h.upload("patient", h.patient, content)
	r := h.do("patient", "GET", "/documents/"+id+"/content", nil)
	require.Equal(t, 200, r.code)
	etag := r.h.Get("ETag")

	r = h.do("patient", "GET", "/documents/"+id+"/content", nil, "Range", "bytes=0-1,5-6", "If-None-Match", etag)
	require.Equal(t, 304, r.code, "If-None-Match matches: %s", r.body)
	for _, ifRange := range []string{`"stale"`, "W/" + etag, "Mon, 02 Jan 2006 15:04:05 GMT"} {
		r = h.do("patient", "GET", "/documents/"+id+"/content", nil, "Range", "bytes=0-1,5-6", "If-Range", ifRange)
		require.Equal(t, 200, r.code, "If-Range %s fails, so the Range is ignored: %s", ifRange, r.body)
		require.Equal(t, content, r.body)
	}

	// Where the Range is honoured, more than one range is refused, before
	// a byte of the object is read.
	before := blobs.reads.Load()
	for _, hdr := range [][]string{{"If-Range", etag}, {"If-None-Match", `"other"`}, {"X-None", ""}} {
		r = h.do("patient", "GET", "/documents/"+id+"/content", nil, "Range", "bytes=0-1,5-6", hdr[0], hdr[1])
		require.Equal(t, 416, r.code, "%v: %s", hdr, r.body)
		assert.Equal(t, "application/problem+json", r.h.Get("Content-Type"))
	}
	assert.Equal(t, before, blobs.reads.Load(), "reads of the object for refused ranges")
	r = h.do("patient", "GET", "/documents/"+id+"/content", nil, "Range", "bytes=0-1", "If-Range", etag)
	require.Equal(t, 206, r.code, "%s", r.body)
	assert.Equal(t, "%P", string(r.body))
}

// A range the content cannot satisfy is a 416 telling the content's
// length (RFC 9110 15.5.17), whatever made it so: a range outside the
// content, one of no bytes (RFC 9110 14.1.1: bytes=-0), a malformed one or
// more ranges than are served. A zero-length range follows the
// preconditions as the others do.
func TestRangesTheContentCannotSatisfyAre416WithItsLength(t *testing.T) {
	h := newHarness(t, 1<<20)
	up := h.do("patient", "POST", "/documents?title=x&type=lab", strings.NewReader("0123456789"), "Content-Type", "text/plain")
	require.Equal(t, 201, up.code, "%s", up.body)
	content := "/documents/" + up.json(t)["id"].(string) + "/content"
	for _, rg := range []string{"bytes=-0", "bytes=-000", "bytes=0-0,2-3", "bytes=10-20", "bytes=5-2"} {
		r := h.do("patient", "GET", content, nil, "Range", rg)
		assert.Equal(t, 416, r.code, "Range %s: %s", rg, r.body)
		assert.Equal(t, "bytes */10", r.h.Get("Content-Range"), "Range %s", rg)
		assert.Equal(t, "application/problem+json", r.h.Get("Content-Type"), "Range %s", rg)
	}
	r := h.do("patient", "GET", content, nil, "Range", "bytes=-1")
	assert.Equal(t, 206, r.code)
	assert.Equal(t, "9", string(r.body))
	assert.Equal(t, "bytes 9-9/10", r.h.Get("Content-Range"))

	etag := r.h.Get("ETag")
	r = h.do("patient", "GET", content, nil, "Range", "bytes=-0", "If-None-Match", etag)
	assert.Equal(t, 304, r.code, "If-None-Match matches: %s", r.body)
	r = h.do("patient", "GET", content, nil, "Range", "bytes=-0", "If-Range", `"stale"`)
	assert.Equal(t, 200, r.code, "If-Range fails, so the Range is ignored: %s", r.body)
	assert.Equal(t, "0123456789", string(r.body))
	assert.Empty(t, r.h.Get("Content-Range"))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Bad input in the query, the headers and the path is a 4xx naming the
// field, never a 500.
func TestBadInputNamesTheField(t *testing.T) {
	h := newHarness(t, 1<<20)
	pdf := []byte("%PDF-1.7\nx")
	id := h.upload("patient", h.patient, pdf)
	cases := []struct {
		name, who, method, path string
		headers                 []string
		field                   string
	}{
		{"title with a control character", "patient", "POST", "/documents?title=a%00b&type=t", []string{"Content-Type", "application/pdf"}, "title"},
		{"title not UTF-8", "patient", "POST", "/documents?title=%FF&type=t", []string{"Content-Type", "application/pdf"}, "title"},
		{"title too long", "patient", "POST", "/documents?type=t&title=" + strings.Repeat("a", 201), []string{"Content-Type", "application/pdf"}, "title"},
		{"encounter id not a UUID", "patient", "POST", "/documents?title=t&type=t&encounterId=1%00", []string{"Content-Type", "application/pdf"}, "encounterId"},
		{"reason with a control character", "admin", "GET", "/documents/" + id + "/content?reason=a%01b", nil, "reason"},
		{"reason header with a control character", "admin", "GET", "/documents/" + id + "/content", []string{transport.ReasonHeader, "a\tb"}, "reason"},
		{"reason too long", "admin", "GET", "/documents/" + id + "/content?reason=" + strings.Repeat("r", 501), nil, "reason"},
		{"huge limit", "patient", "GET", "/documents?limit=100000000000000000000", nil, "limit"},
		{"bad status", "patient", "GET", "/documents?status=gone", nil, "status"},
		{"bad cursor", "patient", "GET", "/audit?cursor=%00", nil, "cursor"},
		// A parameter of one value sent twice or with no value, which would
		// be read as its first value or as absent.
		{"title sent twice", "patient", "POST", "/documents?title=t&type=t&title=a%00b", []string{"Content-Type", "application/pdf"}, "title"},
		{"encounterId sent empty", "patient", "POST", "/documents?title=t&type=t&encounterId=", []string{"Content-Type", "application/pdf"}, "encounterId"},
		{"title sent empty", "patient", "POST", "/documents?title=&type=t", []string{"Content-Type", "application/pdf"}, "title"},
		{"reason sent twice", "admin", "GET", "/documents/" + id + "/content?reason=audit&reason=a%01b", nil, "reason"},
		{"limit sent empty", "patient", "GET", "/documents?limit=", nil, "limit"},
		{"cursor sent twice", "patient", "GET", "/audit?cursor=abc&cursor=abc", nil, "cursor"},
	}
	for _, c := range cases {
		r := h.do(c.who, c.method, c.path, bytes.NewReader(pdf), c.headers...)
		if r.code != 400 || !strings.Contains(string(r.body), `"`+c.field+`"`) {
			t.Errorf("%s = %d %s", c.name, r.code, r.body)
		}
	}
}

// A free-form parameter the document accepts empty, sent with no value,
// reads as absent, as a form sends an empty box: no category, no reason
// (which an administrator's read of content then lacks), the first page.
func TestEmptyFreeTextParametersAreAbsent(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("patient", "POST", "/documents?title=t&type=lab-report&category=", bytes.NewReader([]byte("%PDF-1.7\nx")),
		"Content-Type", "application/pdf")
	if r.code != 201 || r.json(t)["category"] != "" {
		t.Fatalf("upload with category= = %d %s", r.code, r.body)
	}
	id := r.json(t)["id"].(string)
	if r := h.do("patient", "GET", "/documents?limit=5&cursor=", nil); r.code != 200 {
		t.Errorf("list with cursor= = %d %s", r.code, r.body)
	}
	if r := h.do("admin", "GET", "/documents/"+id+"/content?reason=", nil); r.code != 403 || !strings.Contains(string(r.body), "give a reason") {
		t.Errorf("reason= = %d %s, want the 403 of no reason", r.code, r.body)
	}
}

// An administrator marks a note entered-in-error without reading it: the
// answer leaves the clinical content out, and an attempt at a wrong version
// is audited, so that guessing versions leaves a trace.
func TestAdminRetractReadsNoNote(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", js(map[string]any{"note": map[string]string{"subjective": "confidential history"}}),
		"Content-Type", "application/json")
	if r.code != 201 {
		t.Fatalf("open = %d %s", r.code, r.body)
	}
	id := r.json(t)["id"].(string)
	retract := func(version string) resp {
		return h.do("admin", "POST", "/encounters/"+id+"/entered-in-error", js(map[string]string{"reason": "duplicate"}),
			"If-Match", version, "Content-Type", "application/json")
	}
	if r := retract(`"7"`); r.code != 412 {
		t.Fatalf("wrong version = %d %s", r.code, r.body)
	}
	r = retract(`"1"`)
	if r.code != 200 || r.json(t)["status"] != "entered-in-error" {
		t.Fatalf("retract = %d %s", r.code, r.body)
	}
	if strings.Contains(string(r.body), "confidential history") {
		t.Fatalf("the administrator's answer holds the note: %s", r.body)
	}
	// The author still reads every version.
	if r := h.do("doctor", "GET", "/encounters/"+id, nil); !strings.Contains(string(r.body), "confidential history") {
		t.Fatalf("author's read = %d %s", r.code, r.body)
	}

	r = h.do("patient", "GET", "/audit?limit=100", nil)
	var trail struct {
		Items []struct{ Role, Action, Outcome string }
	}
	if err := json.Unmarshal(r.body, &trail); err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, e := range trail.Items {
		if e.Role == "ADMIN" && e.Action == "retract" {
			outcomes[e.Outcome]++
		}
	}
	if outcomes["denied"] != 1 || outcomes["allowed"] != 1 {
		t.Fatalf("the administrator's retractions in the trail: %v; %s", outcomes, r.body)
	}
}

// A weak If-Match is answered after the caller's rights: a doctor who may
// not change the note learns nothing more than without one, and the
// refusal is audited; the author learns why their tag never matches.
func TestWeakIfMatchAfterRights(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", js(openBody("")), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)
	id := r.json(t)["id"].(string)
	sign := func(who string) resp {
		return h.do(who, "POST", "/encounters/"+id+"/sign", nil, "If-Match", `W/"1"`)
	}
	assert.Equal(t, 404, sign("doctor2").code, "no relation: the record does not exist for them")
	r = sign("doctor")
	assert.Equal(t, 412, r.code)
	assert.Contains(t, string(r.body), "weak")
}

// An addendum is a clinician's correction of a signed note: the patient,
// who reads the note, may not add one (403), the refusal is on their
// trail, and the note stays without addenda.
func TestAPatientAddsNoAddendum(t *testing.T) {
	h := newHarness(t, 1<<20)
	id := h.openSigned("doctor", h.patient)
	before := h.deniedTo("patient")
	r := h.do("patient", "POST", "/encounters/"+id+"/addenda", js(map[string]string{"text": "I never said that"}), "Content-Type", "application/json")
	assert.Equal(t, 403, r.code, "the patient added an addendum: %s", r.body)
	assert.Equal(t, before+1, h.deniedTo("patient"), "the refusal is on the patient's audit trail")
	assert.Empty(t, h.do("patient", "GET", "/encounters/"+id, nil).json(t)["addenda"])
}

// An administrator manages documents but files none: an upload, and a new
// version of the patient's document, are refused (403), each on the trail,
// and the patient's documents stay as they were.
func TestAnAdministratorFilesNoDocument(t *testing.T) {
	h := newHarness(t, 1<<20)
	id := h.upload("patient", h.patient, []byte("%PDF-1.7\nscan"))
	before := h.deniedTo("admin")
	for _, path := range []string{"/documents?title=t&type=lab-report", "/documents/" + id + "/versions?title=t&type=lab-report"} {
		r := h.do("admin", "POST", path, bytes.NewReader([]byte("%PDF-1.7\nforged")), "Content-Type", "application/pdf")
		assert.Equal(t, 403, r.code, "POST %s: %s", path, r.body)
	}
	assert.Equal(t, before+2, h.deniedTo("admin"), "each refusal is on the patient's audit trail")
	items := h.do("patient", "GET", "/documents?status=current,superseded", nil).json(t)["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, "current", items[0].(map[string]any)["status"])
}

// Only its author or an administrator marks a document entered-in-error:
// the patient may not retract a report their doctor filed, nor the
// treating doctor a scan the patient filed; each is refused (403, both may
// read it), on the trail, and the document stays current.
func TestOnlyItsAuthorOrAnAdministratorRetractsADocument(t *testing.T) {
	h := newHarness(t, 1<<20)
	byDoctor := h.upload("doctor", h.patient, []byte("%PDF-1.7\nreport"))
	byPatient := h.upload("patient", h.patient, []byte("%PDF-1.7\nscan"))
	for who, id := range map[string]string{"patient": byDoctor, "doctor": byPatient} {
		before := h.deniedTo(who)
		r := h.do(who, "POST", "/documents/"+id+"/entered-in-error", js(map[string]string{"reason": "not wanted"}),
			"Content-Type", "application/json", "If-Match", `"1"`)
		assert.Equal(t, 403, r.code, "%s: %s", who, r.body)
		assert.Equal(t, before+1, h.deniedTo(who), "%s: the refusal is on the patient's audit trail", who)
		assert.Equal(t, "current", h.do("patient", "GET", "/documents/"+id, nil).json(t)["status"], who)
	}
}

// inactive is the patient service after the patient's profile was
// deactivated.
type inactive struct{ service.PatientDirectory }

func (d inactive) Patient(ctx context.Context, id string) (service.PatientRef, error) {
	p, err := d.PatientDirectory.Patient(ctx, id)
	p.Active = false
	return p, err
}

// No encounter is opened for a patient whose profile is inactive, even by
// a doctor who treats them (409); their records stay readable.
func TestNoEncounterIsOpenedForAnInactivePatient(t *testing.T) {
	h := newHarness(t, 1<<20, func(d *service.Deps) { d.Patients = inactive{d.Patients} })
	r := h.do("doctor", "POST", "/encounters", js(openBody(apptPatient)), "Content-Type", "application/json")
	assert.Equal(t, 409, r.code, "%s", r.body)
	r = h.do("patient", "GET", "/encounters", nil)
	require.Equal(t, 200, r.code, "%s", r.body)
	assert.Empty(t, r.json(t)["items"])
}

// Only its author edits or signs an encounter: an administrator, who may
// mark one entered-in-error, is refused both with a 403, each refusal on
// the patient's trail, and the note stays as its author left it.
func TestAnAdministratorNeitherEditsNorSignsAnEncounter(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", js(map[string]any{"note": map[string]string{"subjective": "cough"}}), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)
	id := r.json(t)["id"].(string)
	before := h.deniedTo("admin")

	r = h.do("admin", "PUT", "/encounters/"+id, js(map[string]any{"note": map[string]string{"subjective": "nothing"}}),
		"If-Match", `"1"`, "Content-Type", "application/json")
	assert.Equal(t, 403, r.code, "an administrator edited the note: %s", r.body)
	r = h.do("admin", "POST", "/encounters/"+id+"/sign", nil, "If-Match", `"1"`)
	assert.Equal(t, 403, r.code, "an administrator signed the note: %s", r.body)
	assert.Equal(t, before+2, h.deniedTo("admin"), "each refusal is on the patient's audit trail")

	e := h.do("doctor", "GET", "/encounters/"+id, nil).json(t)
	assert.Equal(t, "open", e["status"])
	assert.EqualValues(t, 1, e["version"])
}
