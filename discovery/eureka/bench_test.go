package eureka_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// Side by side over loopback HTTP with 10,000 instances: our heartbeat, the
// Eureka renewal (target: at least 80 % of the heartbeat rate) and the full
// Eureka registry fetch.
//
//	go test -run '^$' -bench . ./eureka/
func BenchmarkRenewals(b *testing.B) {
	_, srv := server(b, "-max-instances", "20000")
	const n = 10_000
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	put := func(method, url, ct, body string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range n {
		svc := fmt.Sprintf("svc%d", i%100)
		if c := put(http.MethodPost, fmt.Sprintf("%s/eureka/apps/%s", srv.URL, strings.ToUpper(svc)), "application/json",
			fmt.Sprintf(`{"instance":{"instanceId":"i%d","hostName":"10.0.0.1","app":"%s","ipAddr":"10.0.0.1","status":"UP","port":{"$":%d,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},"leaseInfo":{"durationInSecs":300}}}`,
				i, strings.ToUpper(svc), 1000+i%60000)); c != http.StatusNoContent {
			b.Fatalf("register: %d", c)
		}
	}
	run := func(b *testing.B, url func(i int) string) {
		var k atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(k.Add(1)) % n
				if c := put(http.MethodPut, url(i), "", ""); c != http.StatusOK {
					b.Errorf("status %d", c)
				}
			}
		})
	}
	b.Run("heartbeat", func(b *testing.B) {
		run(b, func(i int) string { return fmt.Sprintf("%s/api/v1/registry/svc%d/i%d/heartbeat", srv.URL, i%100, i) })
	})
	b.Run("eureka-renew", func(b *testing.B) {
		run(b, func(i int) string {
			return fmt.Sprintf("%s/eureka/apps/SVC%d/i%d?status=UP&lastDirtyTimestamp=0", srv.URL, i%100, i)
		})
	})
	b.Run("eureka-full-fetch", func(b *testing.B) {
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/eureka/apps", nil)
			req.Header.Set("Accept", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
