// Package recent is the slot arithmetic of idgate's lock-free caches of
// recently seen values (audit's subject hashes, mcpserver's rate-limit
// keys): a two-way set-associative table of atomic pointers, indexed by a
// hash of the value. Entries are immutable once stored; a reader checks
// that the entry it finds is the one it wants, so a collision or a race
// costs a miss, never a wrong answer.
package recent

import "sync/atomic"

// Pair returns the two slots of slots where a value of hash h lives.
// len(slots) must be a power of two, at least 2.
func Pair[T any](slots []atomic.Pointer[T], h uint64) []atomic.Pointer[T] {
	return slots[h&uint64(len(slots)-1)&^1:][:2]
}

// Put stores v in pair (as Pair returned it): in an empty slot if there is
// one, else in the slot the top bit of h picks, a bit Pair's index does not
// use in a table of fewer than 2^63 slots.
func Put[T any](pair []atomic.Pointer[T], h uint64, v *T) {
	i := int(h >> 63)
	if pair[0].Load() == nil {
		i = 0
	} else if pair[1].Load() == nil {
		i = 1
	}
	pair[i].Store(v)
}
