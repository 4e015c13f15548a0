package identity

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTokenCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	alice := &Identity{Subject: "alice"}
	cases := []struct {
		name   string
		put    string
		until  time.Time
		get    string
		at     time.Time
		wantOK bool
	}{
		{"hit", "tok-a", now.Add(time.Minute), "tok-a", now, true},
		{"hit just before the deadline", "tok-a", now.Add(time.Minute), "tok-a", now.Add(time.Minute - time.Nanosecond), true},
		{"miss at the deadline", "tok-a", now.Add(time.Minute), "tok-a", now.Add(time.Minute), false},
		{"miss after the deadline", "tok-a", now.Add(time.Minute), "tok-a", now.Add(time.Hour), false},
		{"miss for another token", "tok-a", now.Add(time.Minute), "tok-b", now, false},
		{"miss for a prefix", "tok-a", now.Add(time.Minute), "tok-", now, false},
		{"zero deadline caches nothing", "tok-a", time.Time{}, "tok-a", now, false},
		{"past deadline is never returned", "tok-a", now.Add(-time.Second), "tok-a", now, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTokenCache(10)
			c.put(tc.put, alice, tc.until)
			id, ok := c.get(tc.get, tc.at)
			require.Equal(t, tc.wantOK, ok)
			if tc.wantOK {
				require.Same(t, alice, id)
			} else {
				require.Nil(t, id)
			}
		})
	}
}

func TestTokenCacheReplaces(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTokenCache(10)
	c.put("tok", &Identity{Subject: "old"}, now.Add(time.Minute))
	c.put("tok", &Identity{Subject: "new"}, now.Add(2*time.Minute))
	id, ok := c.get("tok", now.Add(90*time.Second))
	require.True(t, ok)
	require.Equal(t, "new", id.Subject)
	require.Len(t, c.entries, 1)
}

func TestTokenCacheDisabled(t *testing.T) {
	for _, size := range []int{0, -1} {
		c := newTokenCache(size)
		require.Nil(t, c)
		c.put("tok", &Identity{}, time.Now().Add(time.Hour))
		_, ok := c.get("tok", time.Now())
		require.False(t, ok)
	}
}

func TestTokenCacheBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTokenCache(16)
	for i := range 1000 {
		c.put(fmt.Sprint("tok-", i), &Identity{}, now.Add(time.Hour+time.Duration(i)*time.Second))
		require.LessOrEqual(t, len(c.entries), 16)
	}
	// The newest entry is always kept: eviction happens before insertion.
	_, ok := c.get("tok-999", now)
	require.True(t, ok)
}

func TestTokenCacheEvictsExpiredFirst(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	// With no more entries than the eviction sample, the sample sees every
	// entry, so the choice is deterministic: the one expiring first.
	c := newTokenCache(cacheEvictionSample)
	for i := range cacheEvictionSample {
		until := now.Add(time.Hour)
		if i == 3 {
			until = now.Add(-time.Minute) // already expired
		}
		c.put(fmt.Sprint("tok-", i), &Identity{}, until)
	}
	c.put("tok-new", &Identity{}, now.Add(time.Hour))
	require.Len(t, c.entries, cacheEvictionSample)
	for i := range cacheEvictionSample {
		_, ok := c.get(fmt.Sprint("tok-", i), now)
		require.Equal(t, i != 3, ok, "entry %d", i)
	}
	_, ok := c.get("tok-new", now)
	require.True(t, ok)
}

func TestTokenCacheHitAllocatesNothing(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTokenCache(10)
	tok := string(make([]byte, 900)) // the size of a typical RS256 access token
	c.put(tok, &Identity{}, now.Add(time.Hour))
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := c.get(tok, now); !ok {
			t.Fatal("miss")
		}
	})
	require.Zero(t, allocs)
}

func TestTokenCacheConcurrent(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTokenCache(64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				tok := fmt.Sprint("tok-", g, "-", i%100)
				c.put(tok, &Identity{Subject: tok}, now.Add(time.Hour))
				if id, ok := c.get(tok, now); ok && id.Subject != tok {
					t.Errorf("got %q for %q", id.Subject, tok)
				}
			}
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, len(c.entries), 64)
}

// An entry is returned only for the token it was verified from: a token
// whose hash lands on another token's entry (a collision, forced here)
// misses, at any length and however much of the tokens is shared.
func TestCacheHashIsNotProof(t *testing.T) {
	now := time.Now()
	for _, n := range []int{1, 900, 4 << 10, 64 << 10} {
		c := newTokenCache(8)
		cached := strings.Repeat("a.b-c_", n/6+1)[:n]
		c.put(cached, &Identity{Subject: "alice"}, now.Add(time.Hour))
		id, ok := c.get(cached, now)
		require.True(t, ok, "length %d", n)
		require.Equal(t, "alice", id.Subject)

		for _, other := range []string{cached[:n-1] + "X", cached[:n-1], cached + "a", "X" + cached[1:]} {
			e := c.entries[c.key(cached)]
			c.entries[c.key(other)] = e // other now hashes to alice's entry
			_, ok := c.get(other, now)
			require.False(t, ok, "length %d: a token sharing an entry's slot got its identity", n)
		}
	}
}

// sameToken tells tokens apart by any byte, in its eight-byte words and
// in the bytes after them, and by length.
func TestSameToken(t *testing.T) {
	// Lengths that end in every way (blocks of 32 bytes, words of 8,
	// single bytes), and every byte and bit of them.
	for n := range 100 {
		a := strings.Repeat("eyJhbGciOi.", 10)[:n]
		require.True(t, sameToken(a, strings.Clone(a)), "length %d", n)
		require.False(t, sameToken(a, a+"x"), "length %d", n)
		for i := range n {
			b := []byte(a)
			b[i] ^= 1 << (i % 8)
			require.False(t, sameToken(a, string(b)), "length %d, byte %d", n, i)
		}
	}
}

// TestTokenCacheKeySamples: a long token's key hashes its end, its middle
// and its length. Tokens that differ in any of them get their own keys;
// tokens alike in all three share one, and the cache still never returns
// one's identity for the other.
func TestTokenCacheKeySamples(t *testing.T) {
	c := newTokenCache(100)
	header := strings.Repeat("h", 300) // like a JWT's header and claims, the same for many tokens
	sig := func(i int) string { return fmt.Sprintf("%0100d", i) }
	base := header + sig(1) + strings.Repeat("s", 242)
	change := func(s string, i int) string { b := []byte(s); b[i] ^= 1; return string(b) }

	keys := map[uint64]string{c.key(base): "base"}
	for name, tok := range map[string]string{
		"last byte":          change(base, len(base)-1),
		"64th byte from end": change(base, len(base)-keyTail),
		"middle":             change(base, len(base)/2),
		"longer":             base + "x",
		// The same bytes where the key looks, only longer.
		"201 a's":       strings.Repeat("a", 201),
		"200 a's":       strings.Repeat("a", 200),
		"a short token": "tok",
	} {
		k := c.key(tok)
		require.NotContains(t, keys, k, "%s has the key of %s", name, keys[k])
		keys[k] = name
	}
	// A thousand JWT-like tokens: same header, signatures that differ.
	for i := range 1000 {
		k := c.key(header + sig(i) + strings.Repeat("s", 242) + sig(i*7))
		require.NotContains(t, keys, k, "token %d has the key of %s", i, keys[k])
		keys[k] = fmt.Sprint("token ", i)
	}

	// Alike where the key looks, different where it does not.
	now := time.Unix(1_700_000_000, 0)
	other := change(base, 10)
	require.Equal(t, c.key(base), c.key(other))
	alice, bob := &Identity{Subject: "alice"}, &Identity{Subject: "bob"}
	c.put(base, alice, now.Add(time.Hour))
	_, ok := c.get(other, now)
	require.False(t, ok, "a token returned for another of the same key")
	c.put(other, bob, now.Add(time.Hour))
	id, ok := c.get(other, now)
	require.True(t, ok)
	require.Same(t, bob, id)
	_, ok = c.get(base, now)
	require.False(t, ok, "the replaced token still returned")
}

// FuzzSameToken: sameToken is string equality.
func FuzzSameToken(f *testing.F) {
	f.Add("eyJhbGciOi.x.y", "eyJhbGciOi.x.y")
	f.Add(strings.Repeat("a", 40), strings.Repeat("a", 39)+"b")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		if got := sameToken(a, b); got != (a == b) {
			t.Fatalf("sameToken(%q, %q) = %v", a, b, got)
		}
		if !sameToken(a, strings.Clone(a)) {
			t.Fatalf("sameToken(%q, a copy) = false", a)
		}
	})
}
