package edge_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// impersonatingPrefixes and impersonatingNames are the headers by which a
// client could pose as another user, address or URL to a service that
// trusted them; only the gateway sets X-Forwarded-For and -Proto.
var (
	impersonatingPrefixes = []string{"x-user-", "x-authenticated-", "x-forwarded-", "x-auth-", "x-remote-", "x-principal-"}
	impersonatingNames    = []string{"forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "x-user", "x-userid", "x-roles",
		"x-role", "x-principal", "remote-user", "x-email", "x-original-url", "x-http-method-override", "x-method-override"}
)

func impersonating(name string) bool {
	// "_" for "-": CGI-style servers read X_User_Id as X-User-Id.
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	return slices.Contains(impersonatingNames, n) ||
		slices.ContainsFunc(impersonatingPrefixes, func(p string) bool { return strings.HasPrefix(n, p) })
}

// validName and validValue are what Go's server lets through: it answers
// 400 to any other header line before a handler sees it.
func validName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	})
}

func validValue(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
}

// FuzzClientHeaders: whatever headers a client sends with a valid request,
// the service behind the gateway sees none that poses as a user, an address
// or a URL, except X-Forwarded-For and -Proto as the gateway writes them,
// and none of those the client's Connection header names; the client gets
// the service's answer or a 4xx, never a fault.
func FuzzClientHeaders(f *testing.F) {
	for _, s := range []string{
		"X-User-Id: admin\nX-Forwarded-For: 10.0.0.1\nForwarded: for=10.0.0.1\nX-Real-Ip: 10.0.0.1",
		"Connection: keep-alive, X-Hop-Secret\nKeep-Alive: timeout=5\nX-Hop-Secret: for the first hop\nTe: trailers",
		"x-user-roles: ADMIN\nx-forwarded-proto: https\nX-AUTH-REQUEST-USER: admin\nx-principal-id: admin",
		"Connection: Upgrade\nUpgrade: websocket\nX-Remote-User: admin\nX-Authenticated-Roles: ADMIN",
		"Connection: X-Forwarded-For, If-Match, X-Request-Id\nIf-Match: \"3\"\nX-Request-Id: abc",
		"Connection: ,,, \t,\nProxy-Connection: keep-alive\nX-Http-Method-Override: DELETE\nX-Original-Url: /api/v1/auth/users",
		"X_User_Id: admin\nX-Userid: admin\nRemote-User: admin\nTrue-Client-Ip: 1.2.3.4\nX-Email: a@b.org",
		"Trailer: X-User-Id\nTe: gzip, trailers;q=1\nConnection: Te",
	} {
		f.Add(s)
	}
	h := newHarness(f, options{})
	tok := h.token("u1")
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/patients/1", nil)
		r.RemoteAddr = "203.0.113.5:4000"
		sent := http.Header{}
		for _, line := range strings.Split(raw, "\n") {
			name, value, ok := strings.Cut(line, ":")
			value = strings.Trim(value, " \t")
			if !ok || !validName(name) || !validValue(value) {
				return
			}
			switch http.CanonicalHeaderKey(name) {
			case "Authorization", "Host", "Content-Length", "Transfer-Encoding", "Expect", "Content-Type":
				return // the request's own framing and credentials are not what this is about
			}
			sent.Add(name, value)
		}
		for k, vv := range sent {
			r.Header[k] = vv
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		before := h.patients[0].hits.Load()
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("headers %q: the gateway answered %d: %s", raw, rec.Code, rec.Body.String())
		}
		if h.patients[0].hits.Load() == before {
			return // answered by the gateway itself, nothing went upstream
		}
		got := h.patients[0].lastRequest().Header
		for k, vv := range got {
			switch {
			case k == "X-Forwarded-For":
				if !slices.Equal(vv, []string{"203.0.113.5"}) {
					t.Fatalf("headers %q: the service sees X-Forwarded-For %q", raw, vv)
				}
			case k == "X-Forwarded-Proto":
				if !slices.Equal(vv, []string{"http"}) {
					t.Fatalf("headers %q: the service sees X-Forwarded-Proto %q", raw, vv)
				}
			case impersonating(k):
				t.Fatalf("headers %q: the service sees %s: %q", raw, k, vv)
			}
		}
		for _, c := range sent["Connection"] {
			for _, n := range strings.Split(c, ",") {
				n = http.CanonicalHeaderKey(strings.TrimSpace(n))
				switch n {
				case "", "Te", "User-Agent", "Accept-Encoding", "X-Forwarded-For", "X-Forwarded-Proto":
					continue // the gateway or its transport writes these itself
				case "Upgrade":
					continue // a protocol upgrade is passed on, as it must be
				}
				for _, v := range sent[n] {
					if slices.Contains(got[n], v) {
						t.Fatalf("headers %q: %s, named in Connection, reaches the service: %q", raw, n, got[n])
					}
				}
			}
		}
	})
}
