package transport_test

import (
	"cmp"
	"encoding/json"
	"html"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/transport"
	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/openapitest"
)

var (
	dashID       = regexp.MustCompile(`<td class="mono">([^<]*)</td>`)
	dashMetadata = regexp.MustCompile(`<span class="md">([^<]*)</span>`)
)

// unescaped returns the captures of re in page as a reader sees them.
func unescaped(re *regexp.Regexp, page string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// FuzzNativeRegister: whatever names, address, port, status and metadata a
// client registers, the answer is the instance listed back exactly as
// sent, and shown as sent on the dashboard whatever HTML it holds, or a
// problem naming a field; never a fault, and nothing a reader is served
// can break out of its place.
func FuzzNativeRegister(f *testing.F) {
	for _, s := range []struct {
		svc, id, addr  string
		port, ttl      int
		status, mk, mv string
	}{
		{"auth", "auth-1", "127.0.0.1", 8081, 10, "", "version", "1.4.0"},
		{"auth", "auth-1", "::1", 1, 0, "DOWN", "zone", `</span><script>alert(1)</script>`},
		{"auth", "a:b.c_d", "auth.internal.", 65535, 300, "UP", "a/b", `"&'+<>`},
		{"Auth", "auth-1", "127.0.0.1", 8081, 10, "", "k", "v"},
		{"auth", "..", "127.0.0.1", 8081, 10, "", "k", "v"},
		{"auth", "a/b", "127.0.0.1", 8081, 10, "", "k", "v"},
		{"auth", "auth-1", "http://x", 0, -1, "", "", ""},
		{"auth", "auth-1", "1.2.3", 70000, 9999999999, "up", "k", "\u2028\u202e"},
		{"auth", "auth-1", "fe80::1%eth0", 80, 5, "", "k", "a\x00b"},
		{"auth", "auth-1", "127.0.0.1", 80, 5, "", "authenticated", "true"},
		{"auth", "auth-1", "h", 80, 5, "", "k", "\xff"},
	} {
		f.Add(s.svc, s.id, s.addr, s.port, s.ttl, s.status, s.mk, s.mv)
	}
	doc := openapitest.Load(f, transport.OpenAPI())
	fields := []string{"service", "instanceId", "address", "port", "ttlSeconds", "status", "metadata"}
	f.Fuzz(func(t *testing.T, svc, id, addr string, port, ttl int, status, mk, mv string) {
		cfg := wire.DefaultConfig()
		cfg.Clock = clocktest.New(time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC))
		a, err := wire.New(cfg, []string{"-discovery-token", token}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		// A name that is no path segment of its own misses every route, which
		// the document does not describe.
		routable := !slices.ContainsFunc([]string{svc, id}, func(s string) bool {
			return s == "" || s == "." || s == ".." || strings.Contains(s, "/")
		})
		h := a.Handler
		if routable {
			h = doc.Handler(t, a.Handler)
		}
		// JSON carries text only: invalid UTF-8 is sent as U+FFFD.
		addr, status, mk, mv = apitest.JSONText(addr), apitest.JSONText(status), apitest.JSONText(mk), apitest.JSONText(mv)
		b := map[string]any{"address": addr, "port": port, "ttlSeconds": ttl}
		if status != "" {
			b["status"] = status
		}
		if mk != "" {
			b["metadata"] = map[string]string{mk: mv}
		}
		path := "/api/v1/registry/" + url.PathEscape(svc) + "/" + url.PathEscape(id)
		r := apitest.Serve(h, apitest.NewRequest(t, http.MethodPut, "http://example.com"+path, b, "Authorization", "Bearer "+token))
		desc := func() string {
			raw, _ := json.Marshal(b)
			return path + " " + string(raw)
		}
		switch {
		case r.Status >= 500:
			t.Fatalf("%s: %d %s", desc(), r.Status, r.Body)
		case r.Status == http.StatusNotFound || r.Status == http.StatusMovedPermanently:
			if routable {
				t.Fatalf("%s: %d %s", desc(), r.Status, r.Body)
			}
			return
		case r.Status >= 400:
			named := r.Fields(t)
			if r.Header.Get("Content-Type") != "application/problem+json" || len(named) == 0 {
				t.Fatalf("%s: %d names no field: %s", desc(), r.Status, r.Body)
			}
			for _, n := range named {
				if !slices.Contains(fields, strings.SplitN(n, ".", 2)[0]) {
					t.Fatalf("%s: %d names %q: %s", desc(), r.Status, n, r.Body)
				}
			}
			return
		case r.Status != http.StatusCreated:
			t.Fatalf("%s: %d %s", desc(), r.Status, r.Body)
		}

		l := apitest.Serve(h, apitest.NewRequest(t, http.MethodGet, "http://example.com/api/v1/registry/"+url.PathEscape(svc), nil))
		var view struct {
			Service   string `json:"service"`
			Instances []struct {
				ID       string            `json:"id"`
				Address  string            `json:"address"`
				Port     int               `json:"port"`
				Status   string            `json:"status"`
				Metadata map[string]string `json:"metadata"`
			} `json:"instances"`
		}
		if l.Status != http.StatusOK || json.Unmarshal(l.Body, &view) != nil || len(view.Instances) != 1 {
			t.Fatalf("%s accepted, listed %d %s", desc(), l.Status, l.Body)
		}
		got := view.Instances[0]
		want := map[string]string{}
		if mk != "" && mk != transport.MetaAuthenticated {
			want[mk] = mv
		}
		wantStatus := cmp.Or(status, string(registry.Up))
		if view.Service != svc || got.ID != id || got.Address != addr || got.Port != port || got.Status != wantStatus || !maps.Equal(got.Metadata, want) {
			t.Fatalf("%s accepted, listed as %s", desc(), l.Body)
		}

		d := apitest.Serve(h, apitest.NewRequest(t, http.MethodGet, "http://example.com/", nil))
		page := string(d.Body)
		if d.Status != http.StatusOK {
			t.Fatalf("%s accepted, dashboard %d %s", desc(), d.Status, page)
		}
		if ids := unescaped(dashID, page); !slices.Contains(ids, id) {
			t.Fatalf("%s accepted, dashboard shows ids %q", desc(), ids)
		}
		if mk != "" && mk != transport.MetaAuthenticated {
			if md := unescaped(dashMetadata, page); !slices.Equal(md, []string{mk + "=" + mv}) {
				t.Fatalf("%s accepted, dashboard shows metadata %q", desc(), md)
			}
		}
		if strings.Count(page, "<script") != 0 {
			t.Fatalf("%s accepted, dashboard runs a script", desc())
		}
	})
}
