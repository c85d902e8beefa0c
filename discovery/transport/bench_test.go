package transport_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medisync/medisync/discovery/wire"
)

// benchServer returns a handler holding 100 services of 100 instances.
func benchServer(b *testing.B) (*wire.Server, []string) {
	b.Helper()
	a, err := wire.New(wire.DefaultConfig(), []string{"-discovery-token", token}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	var paths []string
	for s := 0; s < 100; s++ {
		for i := 0; i < 100; i++ {
			p := fmt.Sprintf("/api/v1/registry/svc-%d/inst-%d", s, i)
			req := httptest.NewRequest(http.MethodPut, p,
				strings.NewReader(fmt.Sprintf(`{"address":"10.0.%d.%d","port":8080,"metadata":{"version":"1.0.0"}}`, s, i)))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			a.Handler.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				b.Fatal(w.Code, w.Body.String())
			}
			paths = append(paths, p+"/heartbeat")
		}
	}
	return a, paths
}

func BenchmarkHTTPHeartbeatHandler(b *testing.B) {
	a, paths := benchServer(b)
	var n atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPut, paths[n.Add(1)%uint64(len(paths))], nil)
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			a.Handler.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
}

func BenchmarkHTTPServiceListHandler(b *testing.B) {
	a, _ := benchServer(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		a.Handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/registry/svc-42", nil))
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkHTTPHeartbeatLoopback goes through a real TCP socket on
// 127.0.0.1 with keep-alive connections, client and server sharing the CPU.
func BenchmarkHTTPHeartbeatLoopback(b *testing.B) {
	a, paths := benchServer(b)
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var n atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPut, srv.URL+paths[n.Add(1)%uint64(len(paths))], nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatal(resp.StatusCode)
			}
		}
	})
}
