package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRecords runs the records service in s, on the encrypted filesystem
// blob store under the system's data folder, publishing its events to
// brokerURL when it is not empty.
func startRecords(t *testing.T, s *system, brokerURL string) *proc {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := s.common("records")
	if brokerURL != "" {
		env["MEDISYNC_BROKER_URL"] = brokerURL
	}
	env["MEDISYNC_BLOB_DIR"] = filepath.Join(s.dataDir, "blobs")
	env["MEDISYNC_BLOB_MASTER_KEY"] = base64.StdEncoding.EncodeToString(key)
	return start(t, "records", "records", env)
}

// startNotification runs the notification service in s, its mail in the
// development mailbox under the system's data folder.
func startNotification(t *testing.T, s *system) *proc {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := s.common("notification")
	env["MEDISYNC_MAIL"] = "dev-mailbox"
	env["MEDISYNC_MAIL_DIR"] = filepath.Join(s.dataDir, "mail")
	env["MEDISYNC_EVENT_SEAL_KEY"] = base64.StdEncoding.EncodeToString(key)
	return start(t, "notification", "notification", env)
}

// waitForRecords waits until the gateway routes to records.
func waitForRecords(t *testing.T, c *client, token string) {
	t.Helper()
	waitFor(t, "the gateway to route to records", 20*time.Second, func() bool {
		st := c.do(http.MethodGet, "/api/v1/records/patients/00000000-0000-7000-8000-000000000000/encounters", token, nil).Status
		return st != http.StatusBadGateway && st != http.StatusServiceUnavailable
	})
}

// subject is the user ID a token names.
func subject(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Sub
}

func TestRecordsStoryThroughTheGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end story skipped in -short mode")
	}
	s := startSystem(t)
	c := &client{t: t, base: s.gateway.url(""), hc: &http.Client{Timeout: 15 * time.Second}}

	// Carol books a visit with the doctor: the appointment makes the doctor
	// one who treats her, and the encounter is opened for it.
	p := newPractice(t, c, "carol@e2e.example")
	carol, carolID, doc := p.patientToken, p.patientID, p.doctorToken
	register(t, c, "dave@e2e.example", "Dave-long-passw0rd!", "Dave Moe")
	dave := login(t, c, "dave@e2e.example", "Dave-long-passw0rd!")
	createPatient(t, c, dave, "Dave", "Moe")
	waitForRecords(t, c, carol)
	base := "/api/v1/records/patients/" + carolID

	// Without an appointment or an encounter, the doctor cannot open one.
	expect(t, c.do(http.MethodPost, base+"/encounters", doc, map[string]any{"note": map[string]string{"subjective": "x"}}),
		http.StatusNotFound, "a doctor without a care relation opens an encounter")
	start, end := slotAfter(t, c, p, time.Now().Add(time.Hour))
	r := c.do(http.MethodPost, "/api/v1/appointments", carol, map[string]any{
		"doctorId": p.doctorID, "start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339), "reason": "Headache",
	})
	expect(t, r, http.StatusCreated, "patient books a visit")
	appointmentID := r.JSON(t)["id"].(string)

	// The doctor opens an encounter for the appointment (records asks the
	// appointment service, through discovery, with the doctor's token),
	// writes the note and signs it.
	r = c.do(http.MethodPost, base+"/encounters", doc, map[string]any{
		"appointmentId": appointmentID,
		"note": map[string]string{
			"subjective": "Headache for two days", "objective": "BP 128/82",
			"assessment": "Tension-type headache", "plan": "Ibuprofen, review in a week",
		},
		"diagnoses":     []map[string]string{{"display": "Tension-type headache", "code": "G44.2", "codeSystem": "http://hl7.org/fhir/sid/icd-10"}},
		"prescriptions": []map[string]string{{"medication": "Ibuprofen 400 mg", "dosage": "1 tablet up to 3 times a day"}},
	})
	expect(t, r, http.StatusCreated, "doctor opens an encounter")
	encID := r.JSON(t)["id"].(string)
	r = c.do(http.MethodPost, base+"/encounters/"+encID+"/sign", doc, nil, "If-Match", r.Header.Get("ETag"))
	expect(t, r, http.StatusOK, "doctor signs the note")

	// The patient reads the signed note.
	r = c.do(http.MethodGet, base+"/encounters/"+encID, carol, nil)
	expect(t, r, http.StatusOK, "patient reads the encounter")
	if enc := r.JSON(t); enc["status"] != "signed" || !strings.Contains(string(r.Body), "Tension-type headache") {
		t.Fatalf("the patient reads %s", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("clinical note sent with Cache-Control %q", r.Header.Get("Cache-Control"))
	}

	// The patient uploads a small PDF and reads part of it back.
	pdf := "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
	r = c.do(http.MethodPost, base+"/documents?title=Blood%20test&type=lab-report", carol, pdf, "Content-Type", "application/pdf")
	expect(t, r, http.StatusCreated, "patient uploads a PDF")
	docID := r.JSON(t)["id"].(string)
	r = c.do(http.MethodGet, base+"/documents/"+docID+"/content", carol, nil, "Range", "bytes=0-7")
	expect(t, r, http.StatusPartialContent, "patient downloads a range")
	if string(r.Body) != "%PDF-1.4" || r.Header.Get("Content-Range") != "bytes 0-7/"+strconv.Itoa(len(pdf)) {
		t.Fatalf("range read %q, Content-Range %q", r.Body, r.Header.Get("Content-Range"))
	}
	r = c.do(http.MethodGet, base+"/documents/"+docID+"/content", carol, nil)
	expect(t, r, http.StatusOK, "patient downloads the whole document")
	if string(r.Body) != pdf {
		t.Fatalf("downloaded %q", r.Body)
	}

	// Another patient learns nothing: 404, as for records that do not exist.
	for _, path := range []string{"/encounters", "/encounters/" + encID, "/documents/" + docID, "/documents/" + docID + "/content", "/audit"} {
		expect(t, c.do(http.MethodGet, base+path, dave, nil), http.StatusNotFound, "another patient reads "+path)
	}

	// The patient's audit trail shows the doctor's accesses.
	r = c.do(http.MethodGet, base+"/audit", carol, nil)
	expect(t, r, http.StatusOK, "patient reads the audit trail")
	var trail struct {
		Items []struct {
			UserID   string `json:"userId"`
			Role     string `json:"role"`
			Action   string `json:"action"`
			Resource string `json:"resource"`
			Outcome  string `json:"outcome"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &trail); err != nil {
		t.Fatal(err)
	}
	doctorID := subject(t, doc)
	actions := map[string]bool{}
	for _, e := range trail.Items {
		if e.UserID == doctorID {
			actions[e.Action] = true
			if e.Role != "DOCTOR" {
				t.Errorf("the doctor's access recorded with role %q", e.Role)
			}
		}
	}
	if len(actions) < 2 {
		t.Fatalf("the audit trail lacks the doctor's create and sign: %s", r.Body)
	}
}

// A signed encounter's event travels from records' outbox through the
// broker to the appointment service, which marks the visit fulfilled: the
// patient arrived early, the doctor saw them and signed the note.
func TestASignedEncounterFulfilsItsAppointment(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end story skipped in -short mode")
	}
	b := startBookingSystem(t, nil)
	b.records = startRecords(t, b.system, b.nats.UserURL("records"))
	c := b.c
	p := newPractice(t, c, "erin@e2e.example")
	waitForRecords(t, c, p.patientToken)
	start, end := slotAfter(t, c, p, time.Now().Add(time.Hour))
	r := c.do(http.MethodPost, "/api/v1/appointments", p.patientToken, map[string]any{
		"doctorId": p.doctorID, "start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339), "reason": "Check-up",
	})
	expect(t, r, http.StatusCreated, "patient books a visit")
	appointmentID := r.JSON(t)["id"].(string)

	r = c.do(http.MethodPost, "/api/v1/appointments/"+appointmentID+"/status", p.doctorToken, map[string]any{"status": "arrived"})
	expect(t, r, http.StatusOK, "the patient arrives early")

	base := "/api/v1/records/patients/" + p.patientID
	r = c.do(http.MethodPost, base+"/encounters", p.doctorToken, map[string]any{
		"appointmentId": appointmentID, "note": map[string]string{"subjective": "Routine check-up"},
	})
	expect(t, r, http.StatusCreated, "doctor opens an encounter for the appointment")
	r = c.do(http.MethodPost, base+"/encounters/"+r.JSON(t)["id"].(string)+"/sign", p.doctorToken, nil, "If-Match", r.Header.Get("ETag"))
	expect(t, r, http.StatusOK, "doctor signs the note")

	waitFor(t, "the appointment fulfilled by records.encounter_signed", 20*time.Second, func() bool {
		r := c.do(http.MethodGet, "/api/v1/appointments/"+appointmentID, p.patientToken, nil)
		return r.Status == http.StatusOK && r.JSON(t)["status"] == "fulfilled"
	})
	if n := consumed(t, b.appointment, "appointment"); n != 1 {
		t.Errorf("the appointment service applied %d events, want 1", n)
	}
}
