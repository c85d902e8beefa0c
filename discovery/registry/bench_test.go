package registry_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/medisync/medisync/discovery/registry"
)

// filled returns a registry holding services×perService instances.
func filled(b *testing.B, services, perService int) (*registry.Registry, []registry.Registration) {
	b.Helper()
	r := registry.New(t0, registry.DefaultLimits())
	regs := make([]registry.Registration, 0, services*perService)
	for s := 0; s < services; s++ {
		for i := 0; i < perService; i++ {
			in := registry.Registration{
				Service: fmt.Sprintf("svc-%d", s), ID: fmt.Sprintf("inst-%d", i), Address: "10.0.0.1",
				Port: 1024 + i, Metadata: map[string]string{"version": "1.0.0", "zone": "a"},
			}
			if _, _, err := r.Register(t0, in); err != nil {
				b.Fatal(err)
			}
			regs = append(regs, in)
		}
	}
	return r, regs
}

func BenchmarkHeartbeat(b *testing.B) {
	r, regs := filled(b, 100, 100)
	var n atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			in := regs[n.Add(1)%uint64(len(regs))]
			if _, err := r.Heartbeat(t0, in.Service, in.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkServiceLookup(b *testing.B) {
	r, _ := filled(b, 100, 100) // 10,000 instances; one service holds 100
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, _, _ := r.Service("svc-42")
		if len(v.Instances) != 100 {
			b.Fatal(len(v.Instances))
		}
	}
}

func BenchmarkRegisterReplace(b *testing.B) {
	r, regs := filled(b, 100, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in := regs[i%len(regs)]
		in.Port = 2000 + i%2 // a visible change each time
		if _, _, err := r.Register(t0, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvictSweepNothingDue(b *testing.B) {
	r, _ := filled(b, 100, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(r.Evict(t0)) != 0 {
			b.Fatal("evicted")
		}
	}
}
