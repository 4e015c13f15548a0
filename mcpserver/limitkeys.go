package mcpserver

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"

	"github.com/idgate/idgate/internal/recent"
)

// limitKeys remembers the rate-limit keys of recent callers
// ("ip:<address>", "user:<issuer>|<subject>"), so that a caller seen again
// costs a table lookup instead of a concatenation and its allocation. It
// is a two-way set-associative table (internal/recent) indexed by a keyed
// hash of the key's parts, read and written without locks. An entry is
// never changed once stored, and a key is returned only when it is exactly
// the concatenation asked for: a collision or a race costs a fresh key,
// never a wrong one.
type limitKeys struct {
	seed  maphash.Seed
	slots [limitKeySlots]atomic.Pointer[limitKey]
}

// limitKey is an entry of limitKeys: a key and the hash of its parts,
// compared first so that a miss rarely compares the key's bytes.
type limitKey struct {
	h   uint64
	key string
}

// limitKeySlots is the number of slots of limitKeys (a power of two: they
// go in pairs, see package internal/recent). 8 KiB of pointers per table.
const limitKeySlots = 1024

// maxRememberedLimitKey is the longest key limitKeys remembers.
const maxRememberedLimitKey = 512

// newLimitKeys returns an empty table.
func newLimitKeys() *limitKeys { return &limitKeys{seed: maphash.MakeSeed()} }

// key returns prefix + a + sep + b.
func (t *limitKeys) key(prefix, a, sep, b string) string {
	h := t.hash(a, b)
	pair := recent.Pair(t.slots[:], h) // two ways: the key is in either slot
	for i := range pair {
		if e := pair[i].Load(); e != nil && e.h == h && isConcat(e.key, prefix, a, sep, b) {
			return e.key
		}
	}
	k := prefix + a + sep + b
	if len(k) <= maxRememberedLimitKey {
		recent.Put(pair, h, &limitKey{h: h, key: k})
	}
	return k
}

// hash is the keyed hash of a key's variable parts.
func (t *limitKeys) hash(a, b string) uint64 {
	return maphash.String(t.seed, a) ^ bits.RotateLeft64(maphash.String(t.seed, b), 29)
}

// isConcat reports whether k == prefix + a + sep + b, without building the
// right-hand side.
func isConcat(k, prefix, a, sep, b string) bool {
	if len(k) != len(prefix)+len(a)+len(sep)+len(b) {
		return false
	}
	i := len(prefix)
	j := i + len(a)
	l := j + len(sep)
	return k[:i] == prefix && k[i:j] == a && k[j:l] == sep && k[l:] == b
}
