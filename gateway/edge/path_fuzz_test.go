package edge_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/gateway/route"
)

// FuzzRequestPath: for any request line a client can send, the gateway
// either answers itself (a 4xx problem, or its own endpoints) or sends the
// request to the service of the route the path matched, under the route's
// prefix, with no dot or empty segment however it is encoded, and never to
// a service's internal path.
func FuzzRequestPath(f *testing.F) {
	for _, s := range []string{
		"/api/v1/patients/1", "/api/v1/patients/", "/api/v1/patients", "/api/v1/auth/login",
		"/api/v1/patients/%2e%2e/%2e%2e/internal/revocations", "/api/v1/patients/..%2f..%2finternal",
		"/api/v1/patients/1%2F..%2F..%2F..%2Finternal%2Frevocations", "/api/v1/patients/..;/..;/internal",
		"/api/v1/patients/.;/1", "/api/v1/patients;/../../metrics", "/api/v1/PATIENTS/1", "//api/v1/patients/1",
		"/api/v1/patients//1", "/api/v1/patients/%2E", "/api/v1/patients/%252e%252e/x", "/api/v1/patients/1#/../..",
		"/api/v1/records/patients/p1/documents/d1/content", "/api/v1/records/patients/%2e%2e/documents/x",
		"/metrics", "/health/live", "/health/ready/", "/metrics;x", "/%6detrics", "/internal/revocations",
		"http://auth/internal/revocations", "http://evil.example/api/v1/patients/1", "*", "/api/v1/patients/1?x=/../..",
		"/api/v1/doctors/me\\..\\..\\internal", "/api/v1/specializations/" + strings.Repeat("a/", 2000),
		"/.well-known/jwks.json", "/.well-known/%2e%2e/api/v1/auth/me",
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			f.Add(m, s)
		}
	}
	records, notification := newBackend(f, "records"), newBackend(f, "notification")
	h := newHarness(f, options{
		// Unlimited, so that the budget a long run spends is no answer.
		general:   ratelimit.Policy{Name: route.ClassGeneral},
		strict:    ratelimit.Policy{Name: route.ClassStrict},
		instances: map[string][]string{"records": {records.hostport()}, "notification": {notification.hostport()}},
	})
	backends := map[string]*backend{"auth": h.auth, "patient": h.patients[0], "doctor": h.doctor,
		"appointment": h.appt, "records": records, "notification": notification}
	table, err := route.New(route.Defaults())
	if err != nil {
		f.Fatal(err)
	}
	tok := h.token("u1")
	f.Fuzz(func(t *testing.T, method, target string) {
		// The request as Go's server reads it off the wire; a line it
		// cannot read is its 400, not the gateway's business.
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
			method + " " + target + " HTTP/1.1\r\nHost: gateway.example\r\n\r\n")))
		if err != nil {
			return
		}
		r.RemoteAddr = "203.0.113.5:4000"
		r.Header.Set("Authorization", "Bearer "+tok)
		before := map[string]int64{}
		for name, b := range backends {
			before[name] = b.hits.Load()
		}
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: the gateway answered %d: %s", method, target, rec.Code, rec.Body.String())
		}
		var hit *backend
		for name, b := range backends {
			if b.hits.Load() != before[name] {
				if hit != nil {
					t.Fatalf("%s %q reached both %s and %s", method, target, hit.name, name)
				}
				hit = b
			}
		}
		if hit == nil {
			switch r.URL.Path {
			case "/metrics", "/health/live", "/health/ready":
				return
			}
			if rec.Code < 400 {
				t.Fatalf("%s %q: the gateway answered %d itself", method, target, rec.Code)
			}
			var p struct{ Status int }
			if rec.Header().Get("Content-Type") != "application/problem+json" ||
				json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code {
				t.Fatalf("%s %q: %d is not a problem: %s", method, target, rec.Code, rec.Body.String())
			}
			return
		}
		rt, _ := table.Match(method, r.URL.Path)
		if rt == nil || backends[rt.Service] != hit {
			t.Fatalf("%s %q (path %q) reached %s, which no route sends it to", method, target, r.URL.Path, hit.name)
		}
		up := hit.lastRequest()
		// What the service routes on: its own decoding of the request line.
		got := up.URL.Path
		if got != r.URL.Path {
			t.Fatalf("%s %q: the gateway matched %q, the service sees %q", method, target, r.URL.Path, got)
		}
		prefix, _, _ := strings.Cut(rt.Pattern, "*")
		if !strings.HasPrefix(got, prefix) && got+"/" != prefix {
			t.Fatalf("%s %q: the service sees %q, outside %s", method, target, got, rt.Pattern)
		}
		for _, seg := range strings.Split(up.URL.EscapedPath(), "/")[1:] {
			// Servers that unescape again, or cut ";" parameters off a
			// segment (Java's), must find no dot segment either.
			seg, _, _ = strings.Cut(seg, ";")
			dec, err := url.PathUnescape(seg)
			if err != nil {
				dec = seg
			}
			if dec == "." || dec == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") {
				t.Fatalf("%s %q: the service sees %q, with a dot segment", method, target, up.RequestURI)
			}
		}
		for _, p := range []string{"/internal/", "/metrics", "/health/"} {
			if strings.HasPrefix(got, p) {
				t.Fatalf("%s %q: the service sees its internal path %q", method, target, got)
			}
		}
	})
}
