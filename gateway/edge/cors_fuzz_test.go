package edge_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// asciiEqualFold is how origins compare: scheme and host are ASCII (a
// browser sends an international name in its xn-- form), and only their
// ASCII letters have case.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// FuzzCORSOrigin: whatever Origin a client sends, on a preflight or an
// actual request, the gateway allows it only when it is one of the
// configured origins, and then echoes exactly the origin the browser sent;
// a preflight from a configured origin is answered 204, any other 403.
func FuzzCORSOrigin(f *testing.F) {
	for _, s := range []string{
		"https://app.medisync.example", "https://APP.MediSync.example", "https://app.medisync.example/",
		"https://app.medisync.example:443", "http://app.medisync.example", "null", "https://user@app.medisync.example",
		"https://app.medisync.example.evil.example", "https://evil.example/https://app.medisync.example",
		"https://app.med\u0130sync.example", "https://adm\u0131n.medisync.example", "https://app.medısync.example",
		"https://xn--app-medisync.example", " https://app.medisync.example", "https://admin.medisync.example",
		"https://admin.medisync.example/", "*", "", "https://app.medisync.example\t",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	configured := []string{"https://app.medisync.example", "https://admin.medisync.example"}
	h := newHarness(f, options{origins: []string{configured[0], configured[1] + "/"}})
	tok := h.token("u1")
	f.Fuzz(func(t *testing.T, origin string, preflight bool) {
		if origin == "" || !validValue(origin) || origin != trimOWS(origin) {
			return // Go's server would not hand such a value over
		}
		r := httptest.NewRequest(http.MethodGet, "/api/v1/patients/1", nil)
		if preflight {
			r.Method = http.MethodOptions
			r.Header.Set("Access-Control-Request-Method", http.MethodGet)
		} else {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		r.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("Origin %q: the gateway answered %d: %s", origin, rec.Code, rec.Body.String())
		}
		allowed := asciiEqualFold(origin, configured[0]) || asciiEqualFold(origin, configured[1])
		acao := rec.Header().Values("Access-Control-Allow-Origin")
		switch {
		case allowed && (len(acao) != 1 || acao[0] != origin):
			t.Fatalf("Origin %q is configured; Access-Control-Allow-Origin is %q", origin, acao)
		case !allowed && len(acao) != 0:
			t.Fatalf("Origin %q is not configured; Access-Control-Allow-Origin is %q", origin, acao)
		case preflight && allowed && rec.Code != http.StatusNoContent:
			t.Fatalf("preflight from %q answered %d", origin, rec.Code)
		case preflight && !allowed && rec.Code != http.StatusForbidden:
			t.Fatalf("preflight from %q answered %d", origin, rec.Code)
		}
		if rec.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("Origin %q: credentials allowed", origin)
		}
	})
}

// trimOWS is what Go's server makes of a header value: leading and
// trailing spaces and tabs are not part of it.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
