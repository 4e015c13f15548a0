package mcpserver_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/mcpserver"
)

// BenchmarkMemoryStore counts requests in a MemoryStore: one at a time
// ("serial"), and from every P at once under one key ("one key": every
// request behind one proxy address, as the load harness's) or 32 keys
// ("32 keys": its users). With RunParallel, ns/op is wall time per request
// over all Ps: the CPU per request is GOMAXPROCS times it.
func BenchmarkMemoryStore(b *testing.B) {
	lim := mcpserver.Limit{Rate: 1 << 30, Period: time.Minute}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Allow(ctx, "ip:127.0.0.1", lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range []int{1, 32} {
		name := "one key"
		if n > 1 {
			name = strconv.Itoa(n) + " keys"
		}
		b.Run(name, func(b *testing.B) {
			s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{})
			keys := make([]string, n)
			for i := range keys {
				keys[i] = "user:https://issuer.example|user-" + strconv.Itoa(i)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1))
				for pb.Next() {
					i++
					if _, err := s.Allow(ctx, keys[i%n], lim); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
