package mcpserver

import (
	"fmt"
	"sync"
	"testing"
)

// TestLimitKeys: every key is the concatenation of its parts, for more
// distinct keys than the table has slots; a key asked for again is the
// same and costs no allocation.
func TestLimitKeys(t *testing.T) {
	tab := newLimitKeys()
	for round := range 2 {
		for i := range 3 * limitKeySlots {
			iss, sub := fmt.Sprintf("https://as%d.example", i%7), fmt.Sprintf("user-%d", i)
			if got, want := tab.key("user:", iss, "|", sub), "user:"+iss+"|"+sub; got != want {
				t.Fatalf("round %d: key = %q, want %q", round, got, want)
			}
			host := fmt.Sprintf("10.0.%d.%d", i/256, i%256)
			if got, want := tab.key("ip:", host, "", ""), "ip:"+host; got != want {
				t.Fatalf("round %d: key = %q, want %q", round, got, want)
			}
		}
	}
	iss, sub := "https://as.example", "user-1"
	first := tab.key("user:", iss, "|", sub)
	if allocs := testing.AllocsPerRun(100, func() {
		if tab.key("user:", iss, "|", sub) != first {
			t.Error("key changed")
		}
	}); allocs != 0 {
		t.Errorf("a remembered key: %v allocations, want 0", allocs)
	}
}

// TestLimitKeysNeverAnother: with every slot holding another key of the
// same length and shape, stored under the very hash of the parts asked
// for, the table still returns each key exactly.
func TestLimitKeysNeverAnother(t *testing.T) {
	tab := newLimitKeys()
	for _, stored := range []string{"ip:10.0.0.1", "user:https://as.example|user-1", "user:https://as.example||ser-2"} {
		for _, c := range [][4]string{
			{"ip:", "10.0.0.2", "", ""},
			{"ip:", "10.0.0.1", "", ""},
			{"ip:", "10.0.0.", "", "1"},
			{"user:", "https://as.example", "|", "user-2"},
			{"user:", "https://as.exampl", "|", "e|user-1"},
			{"user:", "https://as.example", "|", "|ser-2"},
			{"user:", "https://as.example|", "|", "ser-2"},
			{"usr:", "https://as.example", "|", "user-11"},
		} {
			h := tab.hash(c[1], c[3])
			for i := range tab.slots {
				tab.slots[i].Store(&limitKey{h: h, key: stored})
			}
			if got, want := tab.key(c[0], c[1], c[2], c[3]), c[0]+c[1]+c[2]+c[3]; got != want {
				t.Errorf("slots holding %q: key%q = %q, want %q", stored, c, got, want)
			}
		}
	}
}

// TestLimitKeysConcurrent: goroutines asking for overlapping keys (run
// under the race detector) each get the exact key.
func TestLimitKeysConcurrent(t *testing.T) {
	tab := newLimitKeys()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 4000 {
				sub := fmt.Sprintf("user-%d", (i*7+g)%(4*limitKeySlots))
				if got, want := tab.key("user:", "iss", "|", sub), "user:iss|"+sub; got != want {
					t.Errorf("key = %q, want %q", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkLimitKeys: a remembered key, a key the table misses (another
// caller every time), and the concatenation the table replaces.
func BenchmarkLimitKeys(b *testing.B) {
	const iss, sub = "https://auth.example.com/", "auth0|6512f8a4c3b1e2d4f5a6b7c8"
	b.Run("remembered", func(b *testing.B) {
		tab := newLimitKeys()
		b.ReportAllocs()
		for b.Loop() {
			_ = tab.key("user:", iss, "|", sub)
		}
	})
	subs := make([]string, 4*limitKeySlots)
	for i := range subs {
		subs[i] = fmt.Sprintf("auth0|%024d", i)
	}
	b.Run("missed", func(b *testing.B) {
		tab := newLimitKeys()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = tab.key("user:", iss, "|", subs[i%len(subs)])
			i++
		}
	})
	b.Run("concatenation", func(b *testing.B) {
		b.ReportAllocs()
		s := sub
		for b.Loop() {
			limitKeySink = "user:" + iss + "|" + s
		}
	})
}

// limitKeySink keeps BenchmarkLimitKeys' concatenation from being optimised
// away.
var limitKeySink string
