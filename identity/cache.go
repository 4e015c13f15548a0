package identity

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
	"unsafe"
)

// tokenCache remembers verified identities so that a token presented again
// is not verified again. It is bounded in size and safe for concurrent use.
// A nil *tokenCache is a disabled cache: get misses and put does nothing.
//
// Entries are found by a keyed hash of the token (maphash, with a seed of
// the cache's own, over samples of a long token: see key) and returned only when the token they were verified
// from is the one presented, compared in constant time: a hash is only
// where to look, never a proof (the entry's Identity holds its token
// anyway, for Token). Two tokens of the same hash share a slot; the later
// put wins and the other is verified again when it comes back.
//
// An entry is returned only strictly before its deadline, which the caller
// sets no later than the token's expiry. When the cache is full, put evicts
// the entry that expires first among a small sample (expired entries go
// first), which keeps put O(1) without the write-on-read of an LRU.
type tokenCache struct {
	size    int
	seed    maphash.Seed
	mu      sync.RWMutex
	entries map[uint64]cacheEntry
}

type cacheEntry struct {
	token string
	id    *Identity
	until time.Time
	// bound is the key the token was verified with, for a verifier whose
	// keys can be withdrawn (JWTVerifier); nil otherwise.
	bound *keyBinding
}

// cacheEvictionSample is how many entries put examines to choose a victim.
const cacheEvictionSample = 8

// newTokenCache returns a cache of at most size entries, or nil (disabled)
// when size <= 0.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{size: size, seed: maphash.MakeSeed(), entries: make(map[uint64]cacheEntry)}
}

// tokenMemory is implemented by the verifiers of this package that cache
// what they verified. remembered returns the identity token was verified
// as while it is cached, exactly as Verify would return it, and false
// otherwise, without verifying anything. Middleware asks it before the
// token's syntax check: only a token that passed that check and
// verification is ever cached, and the cache returns an entry only for
// the very token it was verified from (sameToken).
type tokenMemory interface {
	remembered(token string) (*Identity, bool)
}

// get returns the identity cached for token if its deadline is after now.
// It allocates nothing.
func (c *tokenCache) get(token string, now time.Time) (*Identity, bool) {
	e, ok := c.lookup(token, now)
	return e.id, ok
}

// lookup is get returning the whole entry.
func (c *tokenCache) lookup(token string, now time.Time) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	k := c.key(token)
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) || !sameToken(e.token, token) {
		return cacheEntry{}, false
	}
	return e, true
}

// Where key looks in a long token: its last keyTail bytes and keyMiddle
// bytes around its middle.
const (
	keyTail   = 64
	keyMiddle = 32
)

// key is where token's entry is: a keyed hash of the whole token when it
// is short, else of its last keyTail bytes and keyMiddle bytes around its
// middle, and its length. Hashing a few samples instead of a kilobyte
// (~20 ns against ~100 ns) loses nothing the cache relies on: a key only
// says where to look, and get compares the whole token with the one
// cached. A JWT ends in its signature, which differs from one token to
// the next; the middle sample and the length spread tokens of other
// formats whose last bytes are alike. Tokens alike in all three share a
// slot and, like any two tokens of the same key, replace each other.
func (c *tokenCache) key(token string) uint64 {
	n := len(token)
	if n <= 2*keyTail {
		return maphash.String(c.seed, token)
	}
	m := n/2 - keyMiddle/2
	tail := maphash.String(c.seed, token[n-keyTail:])
	mid := maphash.String(c.seed, token[m:m+keyMiddle])
	return tail ^ bits.RotateLeft64(mid, 29) ^ uint64(n)*0x9e3779b97f4a7c15
}

// sameToken reports whether a and b are the same token, in time that
// depends on their lengths only (subtle.ConstantTimeCompare's promise, 32
// bytes a step in four independent words: a token is about a kilobyte).
func sameToken(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	x := unsafe.Slice(unsafe.StringData(a), len(a))
	y := unsafe.Slice(unsafe.StringData(b), len(b))
	var d0, d1, d2, d3 uint64
	for len(x) >= 32 && len(y) >= 32 {
		d0 |= binary.LittleEndian.Uint64(x[0:8]) ^ binary.LittleEndian.Uint64(y[0:8])
		d1 |= binary.LittleEndian.Uint64(x[8:16]) ^ binary.LittleEndian.Uint64(y[8:16])
		d2 |= binary.LittleEndian.Uint64(x[16:24]) ^ binary.LittleEndian.Uint64(y[16:24])
		d3 |= binary.LittleEndian.Uint64(x[24:32]) ^ binary.LittleEndian.Uint64(y[24:32])
		x, y = x[32:], y[32:]
	}
	for len(x) >= 8 && len(y) >= 8 {
		d0 |= binary.LittleEndian.Uint64(x) ^ binary.LittleEndian.Uint64(y)
		x, y = x[8:], y[8:]
	}
	for i := 0; i < len(x) && i < len(y); i++ {
		d1 |= uint64(x[i] ^ y[i])
	}
	return d0|d1|d2|d3 == 0
}

// put caches id for token until the deadline (exclusive), which must not be
// later than the token's expiry. A zero deadline caches nothing. Putting a
// token again replaces its entry.
func (c *tokenCache) put(token string, id *Identity, until time.Time) {
	c.putBound(token, id, until, nil)
}

// putBound is put of a token verified with the key bound.
func (c *tokenCache) putBound(token string, id *Identity, until time.Time, bound *keyBinding) {
	if c == nil || id == nil || until.IsZero() {
		return
	}
	k := c.key(token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.size {
		c.evictLocked()
	}
	c.entries[k] = cacheEntry{token: token, id: id, until: until, bound: bound}
}

// evictLocked removes the entry that expires first among a sample. Go's map
// iteration starts at a random position, so the sample moves around the
// map. c.mu is held for writing.
func (c *tokenCache) evictLocked() {
	var (
		victim uint64
		first  time.Time
		n      int
	)
	for k, e := range c.entries {
		if n == 0 || e.until.Before(first) {
			victim, first = k, e.until
		}
		n++
		if n == cacheEvictionSample {
			break
		}
	}
	if n > 0 {
		delete(c.entries, victim)
	}
}
