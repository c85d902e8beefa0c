package route_test

import (
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/medisync/medisync/gateway/route"
)

// refMatch is an independent, plain statement of what a pattern matches:
// the same number of segments, literals equal, "*" any non-empty segment,
// a trailing "/**" the rest (including nothing).
func refMatch(pattern, p string) bool {
	ps := strings.Split(pattern[1:], "/")
	segs := strings.Split(p[1:], "/")
	if ps[len(ps)-1] == "**" {
		prefix := ps[:len(ps)-1]
		if len(segs) < len(prefix) {
			return false
		}
		if len(segs) == len(prefix)+1 && segs[len(segs)-1] == "" && len(prefix) > 0 {
			segs = segs[:len(segs)-1] // "/api/v1/patients/" is the prefix itself
		}
		return segsMatch(prefix, segs[:len(prefix)])
	}
	return len(ps) == len(segs) && segsMatch(ps, segs)
}

func segsMatch(pattern, segs []string) bool {
	for i, s := range pattern {
		switch {
		case s == "*":
			if segs[i] == "" {
				return false
			}
		case s != segs[i]:
			return false
		}
	}
	return true
}

// FuzzMatch feeds request targets through what the gateway does with them:
// net/http's parsing, CleanPath, then Match. Run longer with
// `go test -fuzz FuzzMatch ./route/`; the seeds run with every go test.
func FuzzMatch(f *testing.F) {
	for _, seed := range []string{
		"/api/v1/patients/1", "/api/v1/patients", "/api/v1/patients/", "/api/v1/auth/login",
		"/api/v1/auth/login/", "/.well-known/jwks.json", "/api/v1/doctors/me/schedule",
		"/api/v1/patients/../auth/login", "/api/v1/patients/%2e%2e/%2e%2e/auth/login",
		"/api/v1/patients/%2E%2E%2Fauth", "/api/v1/patients%2F..%2F..%2Fdoctors",
		"//api/v1/patients/1", "/api/v1//patients/1", "/api/v1/patients//1", "/./api/v1/patients/1",
		"/api/v1/patients/1%00", "/api/v1/patients/\x00", "/api/v1/auth/login\x00", "/api/v1/auth/%00login",
		"/api/v1/auth/login%2f", "/api/v1/auth/login;.js", "/api/v1/auth/login?x=/../", "/api/v1/AUTH/login",
		"/api/v1/auth/login/..", "/api/v1/specializations", "/api/v1/specializationsX", "/", "", "*",
		"http://evil.example/api/v1/patients/1", "/api/v1/patients/%", "/api/v1/patients/%zz",
		"/api/v1/patients/\u202e", "/api/v1/p\u0430tients/1", "/%61pi/v1/patients/1",
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			f.Add(m, seed)
		}
	}
	table, err := route.New(route.Defaults())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		// Match alone must never panic, whatever it is given.
		r, allow := table.Match(method, target)
		checkMatch(t, table, method, target, r, allow)

		// What the gateway routes: the decoded path of a request target
		// net/http accepted, and only when it is canonical.
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Path == "" {
			return
		}
		p := u.Path
		if !route.CleanPath(p) {
			return
		}
		r, allow = table.Match(method, p)
		checkMatch(t, table, method, p, r, allow)
		if r == nil {
			return
		}
		// A routed path is already what any upstream's normalisation would
		// make of it: no "..", ".", "//" left to climb out of the route.
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		if clean != p {
			t.Fatalf("routed %q, which resolves to %q", p, clean)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("routed %q with a dot segment", p)
			}
		}
	})
}

func checkMatch(t *testing.T, table *route.Table, method, p string, r *route.Route, allow string) {
	t.Helper()
	if r == nil {
		return
	}
	if r.ID < 0 || r.ID >= len(table.Routes) || table.Routes[r.ID] != r {
		t.Fatalf("Match(%q, %q) returned a route not in the table: %+v", method, p, r)
	}
	if !slices.Contains(r.Methods, method) {
		t.Fatalf("Match(%q, %q) returned %s, which does not allow the method", method, p, r.Pattern)
	}
	if allow == "" {
		t.Fatalf("Match(%q, %q) matched %s with no Allow", method, p, r.Pattern)
	}
	if !strings.HasPrefix(p, "/") || !refMatch(r.Pattern, p) {
		t.Fatalf("Match(%q, %q) returned %s, which the pattern does not cover", method, p, r.Pattern)
	}
	// The most specific pattern wins: a literal route that covers the path
	// must not lose to a wildcard one.
	for _, other := range table.Routes {
		if other != r && !strings.Contains(other.Pattern, "*") && other.Pattern == p && slices.Contains(other.Methods, method) && strings.Contains(r.Pattern, "*") {
			t.Fatalf("Match(%q, %q) returned %s over the exact route %s", method, p, r.Pattern, other.Pattern)
		}
	}
}
