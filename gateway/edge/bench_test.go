package edge_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/medisync/medisync/gateway/ratelimit"
)

// BenchmarkProxyGet measures the gateway's work for an authenticated GET
// answered by a loopback upstream (the upstream's own cost included).
func BenchmarkProxyGet(b *testing.B) {
	h := newHarness(b, options{general: ratelimit.Policy{Name: "general", RPS: 0}})
	tok := h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")
	req := httptest.NewRequest(http.MethodGet, "/api/v1/patients/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
