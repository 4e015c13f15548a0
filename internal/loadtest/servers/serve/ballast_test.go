package serve

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

func liveHeap(t *testing.T) uint64 {
	t.Helper()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("%s not supported", s[0].Name)
	}
	return s[0].Value.Uint64()
}

// TestBallast checks that the ballast stays live across collections, and
// that Ballast(0) lets it go.
func TestBallast(t *testing.T) {
	const n = 8 << 20
	Ballast(0)
	before := liveHeap(t)
	Ballast(n)
	if got := liveHeap(t); got < n {
		t.Fatalf("live heap %d B after Ballast(%d): the ballast is not kept", got, n)
	}
	Ballast(0)
	if got := liveHeap(t); got >= n {
		t.Fatalf("live heap %d B after Ballast(0), %d B before Ballast(%d): the ballast was not released", got, before, n)
	}
}
