package recent_test

import (
	"sync/atomic"
	"testing"

	"github.com/idgate/idgate/internal/recent"
)

// TestPair: a hash's pair is two adjacent slots starting at an even index,
// the same for every hash that agrees in the index bits.
func TestPair(t *testing.T) {
	var slots [8]atomic.Pointer[int]
	for h := range uint64(64) {
		pair := recent.Pair(slots[:], h|1<<40)
		want := int(h % 8 &^ 1)
		if &pair[0] != &slots[want] || &pair[1] != &slots[want+1] || len(pair) != 2 {
			t.Fatalf("Pair(%#x) is not slots %d and %d", h, want, want+1)
		}
	}
}

// TestPut: an empty slot is filled first; with both full, the top bit of
// the hash picks the slot replaced.
func TestPut(t *testing.T) {
	var slots [2]atomic.Pointer[int]
	pair := recent.Pair(slots[:], 0)
	a, b, c, d := 1, 2, 3, 4
	recent.Put(pair, 1<<63, &a) // both empty: the first
	recent.Put(pair, 1<<63, &b) // the second is empty
	if slots[0].Load() != &a || slots[1].Load() != &b {
		t.Fatal("empty slots were not filled in order")
	}
	recent.Put(pair, 0, &c)
	if slots[0].Load() != &c || slots[1].Load() != &b {
		t.Fatal("a hash with the top bit clear did not replace the first slot")
	}
	recent.Put(pair, 1<<63, &d)
	if slots[0].Load() != &c || slots[1].Load() != &d {
		t.Fatal("a hash with the top bit set did not replace the second slot")
	}
}
