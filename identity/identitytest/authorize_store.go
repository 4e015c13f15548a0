package identitytest

import (
	"container/list"
	"time"
)

// boundedStore is a map of at most max entries, each with an optional
// expiry. Adding to a full store forgets the oldest entry, so that no client
// can grow the issuer's memory without bound. It is not safe for concurrent
// use: authServer.mu guards every store.
type boundedStore[V any] struct {
	max     int
	entries map[string]*list.Element
	order   *list.List // of *storedEntry[V], oldest first
}

type storedEntry[V any] struct {
	key     string
	value   V
	expires time.Time // zero: never
}

func newBoundedStore[V any](max int) *boundedStore[V] {
	return &boundedStore[V]{max: max, entries: map[string]*list.Element{}, order: list.New()}
}

// put stores value under key until expires (zero: until evicted).
func (s *boundedStore[V]) put(key string, value V, expires time.Time) {
	s.remove(key)
	now := time.Now()
	// Entries are added in time order, mostly with one lifetime: the
	// expired ones gather at the front.
	for e := s.order.Front(); e != nil; e = s.order.Front() {
		ent := e.Value.(*storedEntry[V])
		if len(s.entries) < s.max && (ent.expires.IsZero() || ent.expires.After(now)) {
			break
		}
		s.remove(ent.key)
	}
	s.entries[key] = s.order.PushBack(&storedEntry[V]{key: key, value: value, expires: expires})
}

// get returns the value under key unless it is absent or expired.
func (s *boundedStore[V]) get(key string) (V, bool) {
	var zero V
	e, ok := s.entries[key]
	if !ok {
		return zero, false
	}
	ent := e.Value.(*storedEntry[V])
	if !ent.expires.IsZero() && !ent.expires.After(time.Now()) {
		s.remove(key)
		return zero, false
	}
	return ent.value, true
}

// remove forgets key.
func (s *boundedStore[V]) remove(key string) {
	if e, ok := s.entries[key]; ok {
		s.order.Remove(e)
		delete(s.entries, key)
	}
}

// removeIf forgets every entry whose value satisfies drop.
func (s *boundedStore[V]) removeIf(drop func(V) bool) {
	for e := s.order.Front(); e != nil; {
		next := e.Next()
		if ent := e.Value.(*storedEntry[V]); drop(ent.value) {
			s.order.Remove(e)
			delete(s.entries, ent.key)
		}
		e = next
	}
}

// len returns the number of entries, expired ones included.
func (s *boundedStore[V]) len() int { return len(s.entries) }
