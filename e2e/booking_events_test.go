package e2e

import (
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/medisync/medisync/notification/adapter/email/emailtest"
	"github.com/medisync/medisync/shared/broker/brokertest"
)

// The doctor's practice is in New York: every time a patient reads in a
// mail is in this zone, whatever the server's or the patient's.
const practiceZone = "America/New_York"

// bookingSystem runs what a booking passes through: discovery, auth,
// doctor, patient, appointment and the gateway against a NATS server, and
// the notification service, started apart (startNotification) so that a
// test can choose its reminder lead once it knows the slot.
type bookingSystem struct {
	*system
	nats    *brokertest.Server
	sealKey string
	smtp    *emailtest.Server
	// extra is set for every process (tracing, say).
	extra map[string]string
	c     *client
}

func (b *bookingSystem) env(service string) map[string]string {
	env := b.common(service)
	for k, v := range b.extra {
		env[k] = v
	}
	return env
}

func startBookingSystem(t *testing.T, extra map[string]string) *bookingSystem {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b := &bookingSystem{system: &system{dataDir: t.TempDir()}, nats: brokertest.EmbeddedWithPermissions(t),
		sealKey: base64.StdEncoding.EncodeToString(key), smtp: emailtest.NewServer(t), extra: extra}
	b.disc = start(t, "discovery", "discovery", discoveryEnv())

	authEnv := b.env("auth")
	authEnv["MEDISYNC_ADMIN_EMAIL"] = adminEmail
	authEnv["MEDISYNC_ADMIN_PASSWORD"] = adminPassword
	authEnv["MEDISYNC_HASH_MEMORY_KIB"] = "1024"
	authEnv["MEDISYNC_HASH_ITERATIONS"] = "1"
	authEnv["MEDISYNC_BROKER_URL"] = b.nats.UserURL("auth")
	authEnv["MEDISYNC_EVENT_SEAL_KEY"] = b.sealKey
	b.auth = start(t, "auth", "auth", authEnv)
	b.doctor = start(t, "doctor", "doctor", b.env("doctor"))
	b.patients = []*proc{start(t, "patient", "patient", b.env("patient"))}
	apptEnv := b.env("appointment")
	apptEnv["MEDISYNC_BROKER_URL"] = b.nats.UserURL("appointment")
	b.appointment = start(t, "appointment", "appointment", apptEnv)
	gwEnv := b.env("gateway")
	gwEnv["MEDISYNC_METRICS_ADDR"] = ""
	b.gateway = start(t, "gateway", "gateway", gwEnv)

	b.c = &client{t: t, base: b.gateway.url(""), hc: &http.Client{Timeout: 15 * time.Second}}
	waitFor(t, "gateway to reach auth", 20*time.Second, func() bool {
		return b.c.do(http.MethodGet, "/.well-known/jwks.json", "", nil).Status == http.StatusOK
	})
	waitFor(t, "the appointment, doctor and patient services registered", 20*time.Second, func() bool {
		return len(registered(t, b.disc, "appointment")) == 1 && len(registered(t, b.disc, "doctor")) == 1 &&
			len(registered(t, b.disc, "patient")) == 1
	})
	return b
}

// startNotification runs the notification service on the broker, sending
// its mail to the test's SMTP server over STARTTLS with authentication,
// the server's certificate trusted as the system's own.
func (b *bookingSystem) startNotification(t *testing.T, reminderLead time.Duration) *proc {
	t.Helper()
	env := b.env("notification")
	env["MEDISYNC_BROKER_URL"] = b.nats.UserURL("notification")
	env["MEDISYNC_EVENT_SEAL_KEY"] = b.sealKey
	env["MEDISYNC_MAIL"] = "smtp"
	env["MEDISYNC_SMTP_ADDR"] = b.smtp.Addr
	env["MEDISYNC_SMTP_USERNAME"] = emailtest.Username
	env["MEDISYNC_SMTP_PASSWORD"] = emailtest.Password
	env["MEDISYNC_SMTP_TLS"] = "starttls"
	env["SSL_CERT_FILE"] = b.smtpCertFile(t)
	env["MEDISYNC_MAIL_INTERVAL"] = "100ms"
	env["MEDISYNC_REMINDER_INTERVAL"] = "100ms"
	env["MEDISYNC_REMINDER_LEAD"] = reminderLead.String()
	b.notification = start(t, "notification", "notification", env)
	waitFor(t, "the gateway to route to notification", 20*time.Second, func() bool {
		st := b.c.do(http.MethodGet, "/api/v1/notifications/me", "", nil).Status
		return st == http.StatusUnauthorized
	})
	return b.notification
}

// smtpCertFile writes the SMTP server's certificate, as it presents it
// after STARTTLS to a client that trusts it, to a PEM file.
func (b *bookingSystem) smtpCertFile(t *testing.T) string {
	t.Helper()
	c, err := smtp.Dial(b.smtp.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(b.smtp.ClientTLS.Clone()); err != nil {
		t.Fatal(err)
	}
	state, ok := c.TLSConnectionState()
	if !ok || len(state.PeerCertificates) == 0 {
		t.Fatal("no certificate after STARTTLS")
	}
	f := filepath.Join(b.dataDir, "smtp-ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: state.PeerCertificates[0].Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// mails returns the messages the SMTP server received for rcpt.
func (b *bookingSystem) mails(t *testing.T, rcpt string) []emailtest.Parsed {
	t.Helper()
	var out []emailtest.Parsed
	for _, m := range b.smtp.Messages() {
		for _, to := range m.To {
			if to == rcpt {
				out = append(out, emailtest.Parse(t, m.Raw))
			}
		}
	}
	return out
}

// practice is a doctor, working every morning from 09:00 to 12:00 in
// practiceZone in half-hour slots, and a patient with a profile.
type practice struct {
	doctorID, doctorToken   string
	patientEmail, patientID string
	patientToken            string
}

func newPractice(t *testing.T, c *client, patientEmail string) practice {
	t.Helper()
	admin := login(t, c, adminEmail, adminPassword)
	const doctorEmail, doctorPassword = "dr.grey@e2e.example", "Doctor-long-passw0rd"
	r := c.do(http.MethodPost, "/api/v1/auth/users", admin, map[string]any{
		"email": doctorEmail, "password": doctorPassword, "fullName": "Meredith Grey", "roles": []string{"DOCTOR"},
	})
	expect(t, r, http.StatusCreated, "admin creates the doctor's account")
	doc := login(t, c, doctorEmail, doctorPassword)
	r = c.do(http.MethodPost, "/api/v1/doctors", doc, map[string]any{
		"firstName": "Meredith", "lastName": "Grey", "email": doctorEmail, "licenseNumber": "NY-24680",
		"timeZone": practiceZone, "appointmentMinutes": 30,
	})
	expect(t, r, http.StatusCreated, "doctor creates profile")
	doctorID := r.JSON(t)["id"].(string)
	r = c.do(http.MethodGet, "/api/v1/doctors/"+doctorID+"/availability", doc, nil)
	expect(t, r, http.StatusOK, "doctor reads availability")
	weekly := []map[string]string{}
	for _, day := range []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"} {
		weekly = append(weekly, map[string]string{"day": day, "start": "09:00", "end": "12:00"})
	}
	r = c.do(http.MethodPut, "/api/v1/doctors/"+doctorID+"/availability", doc, map[string]any{
		"slotMinutes": 30, "bufferMinutes": 0, "weekly": weekly, "exceptions": []any{},
	}, "If-Match", r.Header.Get("ETag"))
	expect(t, r, http.StatusOK, "doctor sets availability")

	// The patient registers last: their auth.user_registered is the
	// third event (the administrator's, the doctor's, theirs).
	const password = "Patient-long-passw0rd"
	register(t, c, patientEmail, password, "Pat Doe")
	tok := login(t, c, patientEmail, password)
	return practice{doctorID: doctorID, doctorToken: doc, patientEmail: patientEmail,
		patientID: createPatient(t, c, tok, "Pat", "Doe"), patientToken: tok}
}

// slotAfter returns the start and end of the first free slot of p's doctor
// that starts after t0.
func slotAfter(t *testing.T, c *client, p practice, t0 time.Time) (time.Time, time.Time) {
	t.Helper()
	from, to := t0.UTC().Format("2006-01-02"), t0.UTC().AddDate(0, 0, 3).Format("2006-01-02")
	r := c.do(http.MethodGet, "/api/v1/doctors/"+p.doctorID+"/slots?from="+from+"&to="+to, p.patientToken, nil)
	expect(t, r, http.StatusOK, "patient lists slots")
	for _, s := range r.JSON(t)["slots"].([]any) {
		start, _ := time.Parse(time.RFC3339, s.(map[string]any)["start"].(string))
		end, _ := time.Parse(time.RFC3339, s.(map[string]any)["end"].(string))
		if start.After(t0) {
			return start, end
		}
	}
	t.Fatalf("no slot after %s: %s", t0, r.Body)
	return time.Time{}, time.Time{}
}

// inbox returns the entries of the caller's inbox, newest first.
func inbox(t *testing.T, c *client, token string) []map[string]any {
	t.Helper()
	r := c.do(http.MethodGet, "/api/v1/notifications/me", token, nil)
	expect(t, r, http.StatusOK, "read the inbox")
	var out []map[string]any
	for _, it := range r.JSON(t)["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func countKind(items []map[string]any, kind string) int {
	n := 0
	for _, it := range items {
		if it["kind"] == kind {
			n++
		}
	}
	return n
}

func countSubject(mails []emailtest.Parsed, prefix string) int {
	n := 0
	for _, m := range mails {
		if strings.HasPrefix(m.Subject, prefix) {
			n++
		}
	}
	return n
}

// TestBookingReachesThePatientAndOnlyAKeptOneIsRemindedOf books through
// the gateway with the services on a broker: the booking reaches the
// patient's inbox and their mailbox over SMTP, in the doctor's time zone;
// of two bookings of one slot, the cancelled one is never reminded of and
// the kept one is. No mail carries the reason for the visit or the
// cancellation note.
func TestBookingReachesThePatientAndOnlyAKeptOneIsRemindedOf(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end story skipped in -short mode")
	}
	b := startBookingSystem(t, nil)
	c := b.c
	p := newPractice(t, b.c, "pat@e2e.example")
	// Beyond the patients' cancellation notice (24 hours).
	start, end := slotAfter(t, b.c, p, time.Now().Add(25*time.Hour))

	// A reminder goes out only for a booking made before it is due (one
	// made within the lead has its confirmation for a reminder): the lead
	// puts this slot's reminder due a little after the bookings below.
	const margin = 20 * time.Second
	due := time.Now().Add(margin)
	notif := b.startNotification(t, start.Sub(due))
	// Each event type has its own durable, so a booking could overtake the
	// registration that gives the patient's address: it is applied first.
	waitFor(t, "the registrations applied by notification", 20*time.Second, func() bool {
		return consumed(t, notif, "notification") >= 3
	})

	const reason, note = "Recurring chest pain after exercise", "Feeling better, private detail"
	book := func(key string) string {
		r := c.do(http.MethodPost, "/api/v1/appointments", p.patientToken, map[string]any{
			"doctorId": p.doctorID, "start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339), "reason": reason,
		}, "Idempotency-Key", key)
		expect(t, r, http.StatusCreated, "patient books "+key)
		return r.JSON(t)["id"].(string)
	}

	// The first booking reaches the inbox and the mailbox.
	first := book("pat-first")
	waitFor(t, "the booking in the patient's inbox", 20*time.Second, func() bool {
		return countKind(inbox(t, c, p.patientToken), "appointment_booked") == 1
	})
	waitFor(t, "the booking mail at the SMTP server", 20*time.Second, func() bool {
		return countSubject(b.mails(t, p.patientEmail), "Your appointment with") == 1
	})
	zone, err := time.LoadLocation(practiceZone)
	if err != nil {
		t.Fatal(err)
	}
	const layout = "Monday, 2 January 2006, 15:04"
	when := start.In(zone).Format(layout)
	booked := b.mails(t, p.patientEmail)[0]
	if !strings.Contains(booked.Text, when) || !strings.Contains(booked.HTML, when) || !strings.Contains(booked.Text, practiceZone) {
		t.Errorf("the booking mail does not give %q (%s):\n%s", when, practiceZone, booked.Text)
	}
	if utc := start.UTC().Format(layout); strings.Contains(booked.Text, utc) {
		t.Errorf("the booking mail gives the time in UTC (%q):\n%s", utc, booked.Text)
	}

	// It is cancelled, and the slot booked again: both bookings' reminders
	// fall due at the same moment.
	r := c.do(http.MethodPost, "/api/v1/appointments/"+first+"/cancel", p.patientToken,
		map[string]any{"cancellationReason": "patient-request", "cancellationNote": note})
	expect(t, r, http.StatusOK, "patient cancels")
	waitFor(t, "the cancellation in the patient's inbox", 20*time.Second, func() bool {
		return countKind(inbox(t, c, p.patientToken), "appointment_cancelled") == 1
	})
	kept := book("pat-second")
	if kept == first {
		t.Fatal("the second booking is the first one")
	}
	waitFor(t, "the second booking in the patient's inbox", 20*time.Second, func() bool {
		return countKind(inbox(t, c, p.patientToken), "appointment_booked") == 2
	})
	if time.Now().After(due) {
		t.Fatalf("the bookings took longer than %s: the reminders were due before they were made", margin)
	}

	// The kept booking's reminder arrives; the scheduler runs every 100ms,
	// and the cancelled one, due at the same moment, would have come with it.
	waitFor(t, "the reminder in the patient's inbox", margin+30*time.Second, func() bool {
		return countKind(inbox(t, c, p.patientToken), "appointment_reminder") >= 1
	})
	waitFor(t, "the reminder mail at the SMTP server", 20*time.Second, func() bool {
		return countSubject(b.mails(t, p.patientEmail), "Reminder:") >= 1
	})
	time.Sleep(time.Second) // ten more scheduler runs
	if n := countKind(inbox(t, c, p.patientToken), "appointment_reminder"); n != 1 {
		t.Errorf("%d reminders in the inbox, want the kept booking's only", n)
	}
	mails := b.mails(t, p.patientEmail)
	if n := countSubject(mails, "Reminder:"); n != 1 {
		t.Errorf("%d reminder mails, want the kept booking's only", n)
	}
	for _, m := range mails {
		if strings.HasPrefix(m.Subject, "Reminder:") && (!strings.Contains(m.Subject, when) || !strings.Contains(m.Text, when)) {
			t.Errorf("the reminder does not give %q:\n%s\n%s", when, m.Subject, m.Text)
		}
	}

	// Nothing a patient wrote reaches a mail or an inbox: not the reason
	// for the visit, not the cancellation note.
	all := b.smtp.Messages()
	if len(all) < 5 { // patient: booked, cancelled, booked, reminder; doctor: booked...
		t.Fatalf("only %d mails arrived: the check below would prove little", len(all))
	}
	for _, m := range all {
		for _, secret := range []string{reason, note} {
			if strings.Contains(string(m.Raw), secret) || strings.Contains(strings.Join(strings.Fields(decodedText(t, m.Raw)), " "), secret) {
				t.Errorf("a mail to %v carries %q", m.To, secret)
			}
		}
	}
	for _, it := range inbox(t, c, p.patientToken) {
		for _, secret := range []string{reason, note} {
			if strings.Contains(it["title"].(string)+it["body"].(string), secret) {
				t.Errorf("an inbox entry carries %q", secret)
			}
		}
	}
}

// decodedText is the text of every part of a raw message, decoded.
func decodedText(t *testing.T, raw []byte) string {
	t.Helper()
	p := emailtest.Parse(t, raw)
	return p.Subject + "\n" + p.Text + "\n" + p.HTML
}

// collector is an OTLP/HTTP trace receiver keeping the spans it gets.
type collector struct {
	mu    sync.Mutex
	spans []span
}

// span is one received span with the service that sent it.
type span struct {
	service             string
	name                string
	kind                tracepb.Span_SpanKind
	traceID, id, parent string
}

func newCollector(t *testing.T) (*collector, string) {
	t.Helper()
	col := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		col.add(&req)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return col, srv.URL
}

func (col *collector) add(req *coltracepb.ExportTraceServiceRequest) {
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				col.spans = append(col.spans, span{service: service, name: s.GetName(), kind: s.GetKind(),
					traceID: hex.EncodeToString(s.GetTraceId()), id: hex.EncodeToString(s.GetSpanId()),
					parent: hex.EncodeToString(s.GetParentSpanId())})
			}
		}
	}
}

// find returns the first span that ok accepts.
func (col *collector) find(ok func(span) bool) (span, bool) {
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, s := range col.spans {
		if ok(s) {
			return s, true
		}
	}
	return span{}, false
}

func (col *collector) dump() string {
	col.mu.Lock()
	defer col.mu.Unlock()
	var b strings.Builder
	for _, s := range col.spans {
		b.WriteString(s.service + " " + s.kind.String() + " " + s.name + " trace=" + s.traceID + " span=" + s.id + " parent=" + s.parent + "\n")
	}
	return b.String()
}

// TestBookingIsOneTraceFromGatewayToNotification exports every service's
// spans to an OTLP collector: the booking's request through the gateway,
// its handling in appointment, the event's publishing from the outbox and
// its processing in notification share one trace, each the child of the
// one before.
func TestBookingIsOneTraceFromGatewayToNotification(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end story skipped in -short mode")
	}
	col, endpoint := newCollector(t)
	b := startBookingSystem(t, map[string]string{
		"MEDISYNC_OTLP_ENDPOINT": endpoint,
		// The SDK's batcher exports every 5 s by default.
		"OTEL_BSP_SCHEDULE_DELAY": "100",
	})
	p := newPractice(t, b.c, "tracy@e2e.example")
	notif := b.startNotification(t, 24*time.Hour)
	waitFor(t, "the registrations applied by notification", 20*time.Second, func() bool {
		return consumed(t, notif, "notification") >= 3
	})
	start, end := slotAfter(t, b.c, p, time.Now().Add(time.Hour))
	r := b.c.do(http.MethodPost, "/api/v1/appointments", p.patientToken, map[string]any{
		"doctorId": p.doctorID, "start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339),
	})
	expect(t, r, http.StatusCreated, "patient books")

	var process span
	waitFor(t, "notification's span processing the booking", 30*time.Second, func() bool {
		var ok bool
		process, ok = col.find(func(s span) bool {
			return s.service == "notification" && s.kind == tracepb.Span_SPAN_KIND_CONSUMER && s.name == "process appointment.booked"
		})
		return ok
	})
	inTrace := func(service string, kind tracepb.Span_SpanKind, match func(span) bool) span {
		t.Helper()
		var got span
		waitFor(t, service+"'s "+kind.String()+" span in the trace", 10*time.Second, func() bool {
			var ok bool
			got, ok = col.find(func(s span) bool {
				return s.traceID == process.traceID && s.service == service && s.kind == kind && match(s)
			})
			return ok
		})
		return got
	}
	defer func() {
		if t.Failed() {
			t.Logf("spans received:\n%s", col.dump())
		}
	}()
	publish := inTrace("appointment", tracepb.Span_SPAN_KIND_PRODUCER, func(s span) bool {
		return s.name == "send medisync.appointment.booked"
	})
	if process.parent != publish.id {
		t.Errorf("processing's parent is %s, not the publish span %s", process.parent, publish.id)
	}
	server := inTrace("appointment", tracepb.Span_SPAN_KIND_SERVER, func(s span) bool {
		return s.name == "POST /api/v1/appointments"
	})
	if publish.parent != server.id {
		t.Errorf("the publish span's parent is %s, not appointment's request span %s", publish.parent, server.id)
	}
	gateway := inTrace("gateway", tracepb.Span_SPAN_KIND_SERVER, func(s span) bool {
		return strings.HasPrefix(s.name, "POST")
	})
	if gateway.parent != "" && gateway.parent != strings.Repeat("0", 16) {
		t.Errorf("the gateway's span has a parent %s: the trace starts before it", gateway.parent)
	}
}
