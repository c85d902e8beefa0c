package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/medisync/medisync/e2e/apiclient"
)

const (
	adminEmail    = "admin@e2e.example"
	adminPassword = "E2e-admin-Passw0rd!"
	discToken     = "e2e-discovery-token"
)

// system is the whole medisync system started from its binaries.
type system struct {
	disc, auth, doctor, gateway *proc
	records, notification       *proc
	appointment                 *proc
	patients                    []*proc
	dataDir                     string
}

func (s *system) common(service string) map[string]string {
	env := map[string]string{
		"MEDISYNC_DISCOVERY_URLS":  s.disc.url(""),
		"MEDISYNC_DISCOVERY_TOKEN": discToken,
		"MEDISYNC_DISCOVERY_TTL":   "5s",
	}
	if service == "auth" {
		env["MEDISYNC_DISCOVERY_TOKEN"] = authDiscToken
	}
	if service != "gateway" {
		env["MEDISYNC_DB_DSN"] = "sqlite:" + filepath.Join(s.dataDir, service+".db")
	}
	return env
}

func startSystem(t *testing.T) *system {
	t.Helper()
	s := &system{dataDir: t.TempDir()}
	s.disc = start(t, "discovery", "discovery", discoveryEnv())

	authEnv := s.common("auth")
	authEnv["MEDISYNC_ADMIN_EMAIL"] = adminEmail
	authEnv["MEDISYNC_ADMIN_PASSWORD"] = adminPassword
	// Cheap hashing keeps the story fast; the cost itself is auth's concern.
	authEnv["MEDISYNC_HASH_MEMORY_KIB"] = "1024"
	authEnv["MEDISYNC_HASH_ITERATIONS"] = "1"
	s.auth = start(t, "auth", "auth", authEnv)
	s.doctor = start(t, "doctor", "doctor", s.common("doctor"))
	s.patients = []*proc{
		start(t, "patient-1", "patient", s.common("patient")),
		start(t, "patient-2", "patient", s.common("patient")),
	}
	s.appointment = start(t, "appointment", "appointment", s.common("appointment"))
	s.records = startRecords(t, s, "")
	s.notification = startNotification(t, s)
	gwEnv := s.common("gateway")
	gwEnv["MEDISYNC_RATE_LIMIT_STRICT_BURST"] = "40"
	gwEnv["MEDISYNC_BREAKER_FAILURES"] = "2"
	gwEnv["MEDISYNC_BREAKER_OPEN_TIMEOUT"] = "1s"
	gwEnv["MEDISYNC_METRICS_ADDR"] = "" // the story reads breaker states on the public port
	s.gateway = start(t, "gateway", "gateway", gwEnv)

	// The gateway learns of every service through discovery.
	c := &client{t: t, base: s.gateway.url(""), hc: &http.Client{Timeout: 15 * time.Second}}
	waitFor(t, "gateway to reach auth", 20*time.Second, func() bool {
		return c.do(http.MethodGet, "/.well-known/jwks.json", "", nil).Status == http.StatusOK
	})
	waitFor(t, "both patient instances registered", 20*time.Second, func() bool {
		return len(registered(t, s.disc, "patient")) == 2
	})
	waitFor(t, "the appointment and doctor services registered", 20*time.Second, func() bool {
		return len(registered(t, s.disc, "appointment")) == 1 && len(registered(t, s.disc, "doctor")) == 1
	})
	return s
}

// registered lists the UP instances of service as discovery sees them.
func registered(t *testing.T, disc *proc, service string) []string {
	t.Helper()
	resp, err := http.Get(disc.url("/api/v1/registry/" + service))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Instances []struct {
			Address string `json:"address"`
			Port    int    `json:"port"`
			Status  string `json:"status"`
		} `json:"instances"`
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range v.Instances {
		if in.Status == "UP" {
			out = append(out, fmt.Sprintf("%s:%d", in.Address, in.Port))
		}
	}
	return out
}

func login(t *testing.T, c *client, email, password string) string {
	t.Helper()
	r := c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": email, "password": password})
	expect(t, r, http.StatusOK, "login "+email)
	tok, _ := r.JSON(t)["accessToken"].(string)
	if tok == "" {
		t.Fatalf("login %s: no access token: %s", email, r.Body)
	}
	return tok
}

func register(t *testing.T, c *client, email, password, name string) {
	t.Helper()
	r := c.do(http.MethodPost, "/api/v1/auth/register", "", map[string]any{"email": email, "password": password, "fullName": name})
	expect(t, r, http.StatusAccepted, "register "+email)
}

func createPatient(t *testing.T, c *client, token, first, last string) string {
	t.Helper()
	r := c.do(http.MethodPost, "/api/v1/patients", token, map[string]any{
		"firstName": first, "lastName": last, "dateOfBirth": "1985-04-12", "sex": "female",
		"email": strings.ToLower(first) + "@e2e.example", "phone": "+14155550123",
	})
	expect(t, r, http.StatusCreated, "create patient profile")
	return r.JSON(t)["id"].(string)
}

func TestStoryThroughTheGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end story skipped in -short mode")
	}
	s := startSystem(t)
	c := &client{t: t, base: s.gateway.url(""), hc: &http.Client{Timeout: 15 * time.Second}}

	// The main calls go through the client generated from the gateway's
	// document, which checks every exchange against it.
	ctx := context.Background()
	a := newAPI(t, s.gateway.url(""))
	c.hc = a.hc // the raw requests below are checked against the document too
	for path, ct := range map[string]string{"/docs": "text/html", "/docs/redoc.standalone.js": "text/javascript"} {
		r := c.do(http.MethodGet, path, "", nil)
		expect(t, r, http.StatusOK, "the API reference "+path)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), ct) {
			t.Errorf("%s served as %q", path, r.Header.Get("Content-Type"))
		}
	}

	// A patient registers, logs in and creates their profile.
	reg, err := a.RegisterWithResponse(ctx, apiclient.RegisterRequest{Email: "alice@e2e.example", Password: "Alice-long-passw0rd", FullName: "Alice Doe"})
	answered(t, "register alice", http.StatusAccepted, reg, reg.Body, err)
	alice := a.login("alice@e2e.example", "Alice-long-passw0rd")

	// A second auth process on the same database, outside discovery, issues
	// one-second tokens: one of them is checked, once expired, at the end.
	shortEnv := s.common("auth")
	shortEnv["MEDISYNC_DISCOVERY_URLS"] = ""
	shortEnv["MEDISYNC_ACCESS_TTL"] = "1s"
	shortAuth := start(t, "auth-short", "auth", shortEnv)
	short := &client{t: t, base: shortAuth.url(""), hc: c.hc}
	shortLived := login(t, short, "alice@e2e.example", "Alice-long-passw0rd")
	shortIssued := time.Now()
	shortAuth.stop()
	created, err := a.CreatePatientWithResponse(ctx, apiclient.PatientCreate{
		FirstName: "Alice", LastName: "Doe", DateOfBirth: "1985-04-12", Sex: ptr("female"),
		Email: ptr("alice@e2e.example"), Phone: ptr("+14155550123"),
	}, bearer(alice))
	answered(t, "create patient profile", http.StatusCreated, created, created.Body, err)
	aliceID := created.JSON201.Id
	me, err := a.GetMyPatientWithResponse(ctx, bearer(alice))
	answered(t, "patient reads own profile", http.StatusOK, me, me.Body, err)
	if me.JSON200.Id != aliceID || me.JSON200.FirstName != "Alice" {
		t.Errorf("own profile: %s", me.Body)
	}
	if got := me.HTTPResponse.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("patient data sent with Cache-Control %q", got)
	}
	if me.HTTPResponse.Header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID on the answer")
	}

	// A client's request ID travels through the gateway into the service's log.
	traced, err := a.GetMyPatientWithResponse(ctx, bearer(alice), header("X-Request-ID", "e2e-trace-0001"))
	answered(t, "traced read", http.StatusOK, traced, traced.Body, err)
	if got := traced.HTTPResponse.Header.Get("X-Request-ID"); got != "e2e-trace-0001" {
		t.Errorf("request ID echoed as %q", got)
	}
	waitFor(t, "the request ID in a patient instance's log", 5*time.Second, func() bool {
		for _, p := range s.patients {
			if strings.Contains(p.out.String(), "requestId=e2e-trace-0001") {
				return true
			}
		}
		return false
	})
	// The gateway buffers its access log briefly, hence the wait.
	waitFor(t, "the request ID in the gateway's log", 5*time.Second, func() bool {
		return strings.Contains(s.gateway.out.String(), "e2e-trace-0001")
	})

	// The admin creates a doctor account and a specialization.
	admin := a.login(adminEmail, adminPassword)
	user, err := a.CreateUserWithResponse(ctx, apiclient.CreateUserRequest{
		Email: "dr.house@e2e.example", Password: "Doctor-long-passw0rd", FullName: "Greg House",
		Roles: []apiclient.StaffRole{apiclient.StaffRoleDOCTOR},
	}, bearer(admin))
	answered(t, "admin creates doctor account", http.StatusCreated, user, user.Body, err)
	spec, err := a.CreateSpecializationWithResponse(ctx, apiclient.SpecializationWrite{Name: "Diagnostic Medicine", Description: ptr("Puzzles")}, bearer(admin))
	answered(t, "admin creates specialization", http.StatusCreated, spec, spec.Body, err)
	specID := spec.JSON201.Id.String()

	// The doctor creates a profile and sets availability.
	doc := a.login("dr.house@e2e.example", "Doctor-long-passw0rd")
	profile, err := a.CreateDoctorWithResponse(ctx, apiclient.DoctorCreate{
		FirstName: "Greg", LastName: "House", Email: "dr.house@e2e.example", Phone: ptr("+16095550100"),
		LicenseNumber: "NJ-12345", SpecializationIds: &[]string{specID}, Languages: &[]string{"en"},
		TimeZone: "America/New_York", AppointmentMinutes: ptr(30),
	}, bearer(doc))
	answered(t, "doctor creates profile", http.StatusCreated, profile, profile.Body, err)
	doctorID := profile.JSON201.Id
	if got := profile.JSON201.Specializations; len(got) != 1 || got[0].Name != "Diagnostic Medicine" {
		t.Errorf("profile's specializations: %s", profile.Body)
	}
	avail, err := a.GetAvailabilityWithResponse(ctx, doctorID, bearer(doc))
	answered(t, "doctor reads availability", http.StatusOK, avail, avail.Body, err)
	weekly := []apiclient.Weekly{}
	for _, day := range []apiclient.WeeklyDay{apiclient.MONDAY, apiclient.TUESDAY, apiclient.WEDNESDAY, apiclient.THURSDAY,
		apiclient.FRIDAY, apiclient.SATURDAY, apiclient.SUNDAY} {
		weekly = append(weekly, apiclient.Weekly{Day: day, Start: "09:00", End: "12:00"})
	}
	set, err := a.ReplaceAvailabilityWithResponse(ctx, doctorID,
		&apiclient.ReplaceAvailabilityParams{IfMatch: avail.HTTPResponse.Header.Get("ETag")},
		apiclient.AvailabilityWrite{SlotMinutes: ptr(30), BufferMinutes: ptr(0), Weekly: &weekly, Exceptions: &[]apiclient.Exception{}},
		bearer(doc))
	answered(t, "doctor sets availability", http.StatusOK, set, set.Body, err)

	// The patient lists bookable slots.
	// From the day after tomorrow: the first slot is then always more than
	// the 24 hours of notice ahead that a patient's cancellation needs,
	// whatever the time of day the test runs.
	from := openapi_types.Date{Time: time.Now().UTC().AddDate(0, 0, 2)}
	to := openapi_types.Date{Time: time.Now().UTC().AddDate(0, 0, 8)}
	slots, err := a.ListSlotsWithResponse(ctx, doctorID, &apiclient.ListSlotsParams{From: from, To: to}, bearer(alice))
	answered(t, "patient lists slots", http.StatusOK, slots, slots.Body, err)
	if n := len(slots.JSON200.Slots); n < 6*7 {
		t.Fatalf("want at least 42 slots over a week of mornings, got %d: %s", n, slots.Body)
	}

	// Alice books the first slot: it is gone from everyone's slots until
	// she cancels, and a second booking of it is refused.
	first := slots.JSON200.Slots[0]
	firstStart := first.Start.UTC().Format(time.RFC3339)
	slotsPath := "/api/v1/doctors/" + doctorID.String() + "/slots?from=" + from.Format("2006-01-02") + "&to=" + to.Format("2006-01-02")
	offered := func(token string) bool {
		r := c.do(http.MethodGet, slotsPath, token, nil)
		expect(t, r, http.StatusOK, "slots")
		for _, s := range r.JSON(t)["slots"].([]any) {
			if s.(map[string]any)["start"] == firstStart {
				return true
			}
		}
		return false
	}
	booking := apiclient.AppointmentBook{DoctorId: doctorID, Start: first.Start, End: first.End, Reason: ptr("Headache")}
	key := &apiclient.BookAppointmentParams{IdempotencyKey: ptr("alice-first-booking")}
	booked, err := a.BookAppointmentWithResponse(ctx, key, booking, bearer(alice))
	answered(t, "patient books a slot", http.StatusCreated, booked, booked.Body, err)
	if booked.JSON201.PatientId != aliceID || booked.JSON201.Status != apiclient.AppointmentStatusBooked {
		t.Fatalf("booked appointment: %s", booked.Body)
	}
	apptID := booked.JSON201.Id
	again, err := a.BookAppointmentWithResponse(ctx, key, booking, bearer(alice))
	answered(t, "a retried booking", http.StatusCreated, again, again.Body, err)
	if again.JSON201.Id != apptID || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the retry booked another appointment: %s", again.Body)
	}
	if offered(alice) || offered(doc) {
		t.Fatal("a booked slot is still offered")
	}
	read, err := a.GetAppointmentWithResponse(ctx, apptID, bearer(doc))
	answered(t, "the doctor reads the appointment", http.StatusOK, read, read.Body, err)
	// The doctor's read is on Alice's trail of her appointments.
	trail, err := a.AppointmentAuditTrailWithResponse(ctx, &apiclient.AppointmentAuditTrailParams{PatientId: aliceID}, bearer(alice))
	answered(t, "the patient reads her appointments' audit trail", http.StatusOK, trail, trail.Body, err)
	if items := trail.JSON200.Items; len(items) == 0 || items[0].UserId != user.JSON201.Id.String() ||
		items[0].Action != apiclient.AppointmentAuditEventActionRead || items[0].ResourceId == nil || *items[0].ResourceId != apptID.String() {
		t.Errorf("the doctor's read is not the newest event of the trail: %s", trail.Body)
	}

	// The visit Alice booked makes the doctor one who treats her (the
	// records service says so to the patient service): the doctor records
	// an allergy; the patient reads it.
	entry, err := a.RecordHistoryWithResponse(ctx, aliceID, apiclient.EntryCreate{
		Type: "ALLERGY", Description: "Penicillin", Severity: ptr("severe"),
	}, bearer(doc))
	answered(t, "doctor records allergy", http.StatusCreated, entry, entry.Body, err)
	history, err := a.ListHistoryWithResponse(ctx, aliceID, nil, bearer(alice))
	answered(t, "patient reads own history", http.StatusOK, history, history.Body, err)
	if items := history.JSON200.Items; len(items) != 1 || items[0].Description != "Penicillin" || items[0].Type != apiclient.ALLERGY {
		t.Fatalf("history lacks the allergy: %s", history.Body)
	}
	cancelled, err := a.CancelAppointmentWithResponse(ctx, apptID, nil,
		apiclient.AppointmentCancel{CancellationReason: ptr(apiclient.CancellationReasonPatientRequest)}, bearer(alice))
	answered(t, "patient cancels", http.StatusOK, cancelled, cancelled.Body, err)
	if !offered(alice) {
		t.Fatal("a cancelled slot is not offered again")
	}

	// The patient's history is the treating doctor's no longer.
	afterwards, err := a.ListHistoryWithResponse(ctx, aliceID, nil, bearer(doc))
	answered(t, "the doctor reads the history of a patient who cancelled", http.StatusForbidden, afterwards, afterwards.Body, err)

	// Another patient's record is a 404 to Alice, exactly like a missing one.
	register(t, c, "bob@e2e.example", "Bob-long-passw0rd!", "Bob Roe")
	bob := login(t, c, "bob@e2e.example", "Bob-long-passw0rd!")
	bobID := createPatient(t, c, bob, "Bob", "Roe")
	bobUUID, err := uuid.Parse(bobID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.GetPatientWithResponse(ctx, bobUUID, bearer(alice))
	answered(t, "patient reads another patient", http.StatusNotFound, other, other.Body, err)
	if other.ApplicationproblemJSON404 == nil || other.ApplicationproblemJSON404.Status != http.StatusNotFound {
		t.Errorf("404 without its problem document: %s", other.Body)
	}
	otherHistory, err := a.ListHistoryWithResponse(ctx, bobUUID, nil, bearer(alice))
	answered(t, "patient reads another's history", http.StatusNotFound, otherHistory, otherHistory.Body, err)

	// Forged, tampered and alg-none tokens are refused at the gateway.
	for name, tok := range badTokens(t, alice) {
		r := c.do(http.MethodGet, "/api/v1/patients/me", tok, nil)
		expect(t, r, http.StatusUnauthorized, name+" token")
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s token: content type %q", name, ct)
		}
	}
	expect(t, c.do(http.MethodGet, "/api/v1/patients/me", "", nil), http.StatusUnauthorized, "no token")

	// A burst past the login limit gets 429 with Retry-After.
	var limited response
	for i := 0; i < 60; i++ {
		limited = c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": "nobody@e2e.example", "password": "whatever-password"})
		if limited.Status == http.StatusTooManyRequests {
			break
		}
	}
	expect(t, limited, http.StatusTooManyRequests, "login burst")
	if limited.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	// One of two patient instances dies: reads keep succeeding, its breaker
	// opens, discovery evicts it, and once back it serves again.
	victim := s.patients[0]
	victim.kill()
	for i := 0; i < 20; i++ {
		expect(t, c.do(http.MethodGet, "/api/v1/patients/me", alice, nil), http.StatusOK, "read while an instance is dead")
	}
	// Open is 2; half-open (1) follows only an open circuit, so either proves it opened.
	waitFor(t, "the breaker of the dead instance to open", 10*time.Second, func() bool {
		m := metricsOf(t, s.gateway)
		prefix := `medisync_gateway_breaker_state{instance="` + victim.addr + `",service="patient"} `
		return strings.Contains(m, prefix+"2") || strings.Contains(m, prefix+"1")
	})
	waitFor(t, "discovery to evict the dead instance", 20*time.Second, func() bool {
		for _, in := range registered(t, s.disc, "patient") {
			if in == victim.addr {
				return false
			}
		}
		return true
	})

	// The short-lived token, valid for the leeway of 30 s past its expiry,
	// is refused once that has passed.
	if wait := time.Until(shortIssued.Add(33 * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	expect(t, c.do(http.MethodGet, "/api/v1/patients/me", shortLived, nil), http.StatusUnauthorized, "expired token")

	env := s.common("patient")
	back := startAt(t, "patient-1-again", "patient", victim.addr, env)
	waitFor(t, "the instance to be registered again", 20*time.Second, func() bool {
		return len(registered(t, s.disc, "patient")) == 2
	})
	waitFor(t, "traffic to reach the instance again", 20*time.Second, func() bool {
		expect(t, c.do(http.MethodGet, "/api/v1/patients/me", alice, nil), http.StatusOK, "read after recovery")
		return strings.Contains(back.out.String(), "/api/v1/patients/me")
	})
}

func metricsOf(t *testing.T, p *proc) string {
	t.Helper()
	resp, err := http.Get(p.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// badTokens derives tokens the gateway must refuse from a real one.
func badTokens(t *testing.T, real string) map[string]string {
	t.Helper()
	parts := strings.Split(real, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]any
	_ = json.Unmarshal(header, &h)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims jwt.MapClaims
	_ = json.Unmarshal(payload, &claims)

	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	forged.Header["kid"] = h["kid"]
	forgedTok, err := forged.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}

	escalated := jwt.MapClaims{}
	for k, v := range claims {
		escalated[k] = v
	}
	escalated["roles"] = []string{"ADMIN"}
	raw, _ := json.Marshal(escalated)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]

	noneHeader, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": h["kid"]})
	algNone := base64.RawURLEncoding.EncodeToString(noneHeader) + "." + parts[1] + "."

	return map[string]string{"forged": forgedTok, "tampered": tampered, "alg none": algNone}
}
