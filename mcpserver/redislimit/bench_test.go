package redislimit_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/mcpserver/redislimit"
)

// BenchmarkRedisAllow measures one Allow against the real Redis: a round
// trip running the GCRA script (EVALSHA). "one-key" is one user calling
// serially; "parallel" is many goroutines (GOMAXPROCS × 8) over 10,000
// users, as a busy replica would.
func BenchmarkRedisAllow(b *testing.B) {
	ctx := context.Background()
	lim := mcpserver.Limit{Rate: 1_000_000, Period: time.Minute} // never refused: every call writes
	b.Run("one-key", func(b *testing.B) {
		s := redislimit.New(newClient(b), redislimit.Options{Prefix: newPrefix(b)})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Allow(ctx, "user:https://issuer.example|alice", lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := redislimit.New(newClient(b), redislimit.Options{Prefix: newPrefix(b)})
		keys := make([]string, 10_000)
		for i := range keys {
			keys[i] = "user:https://issuer.example|user-" + strconv.Itoa(i)
		}
		var next atomic.Uint64
		b.SetParallelism(8)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := keys[next.Add(1)%uint64(len(keys))]
				if _, err := s.Allow(ctx, k, lim); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
