package mcpserver

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMemoryStoreMaxKeys is the default for MemoryStoreConfig.MaxKeys.
const DefaultMemoryStoreMaxKeys = 100_000

// MemoryStoreConfig configures NewMemoryStore.
type MemoryStoreConfig struct {
	// MaxKeys bounds the number of keys kept. Keys whose limit has fully
	// recovered carry no information and are dropped first; when the store
	// is still full, the key closest to recovery among a few sampled is
	// evicted (that caller gets a fresh budget). Default (0):
	// DefaultMemoryStoreMaxKeys.
	MaxKeys int

	// Now returns the current time. Default: time.Now. Tests may set it.
	Now func() time.Time
}

// MemoryStore is an in-process RateLimitStore using GCRA: one timestamp per
// key, bounded memory. Counters are not shared between processes; several
// replicas need a shared store.
//
// A request for a key the store holds takes no lock: it reads the key's
// timestamp and moves it on with a compare-and-swap, so that requests
// counted under one key (every request behind one proxy address, say) do
// not queue on a mutex. Adding and removing keys (the once-a-minute sweep
// of recovered keys, evictions) are serialised.
type MemoryStore struct {
	now     func() time.Time
	base    time.Time // timestamps are held as nanoseconds since base
	maxKeys int
	tats    sync.Map // key → *memoryTAT

	mu        sync.Mutex // serialises adding and removing keys
	n         int        // keys held, under mu
	nextSweep atomic.Int64
	// nextFullSweep is when (a held timestamp) makeRoom may sweep the
	// whole store again, under mu; fullSweeps counts its sweeps (tests).
	nextFullSweep int64
	fullSweeps    int
}

// memoryTAT is a key's theoretical arrival time, in nanoseconds since the
// store's base, or deadTAT once the key has been removed: a request that
// read the entry before its removal then adds the key afresh instead of
// counting on an entry no one will read again.
type memoryTAT struct{ tat atomic.Int64 }

// deadTAT marks a removed entry.
const deadTAT = math.MinInt64

// memorySweepInterval is how often recovered keys are dropped.
const memorySweepInterval = time.Minute

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryStoreConfig) *MemoryStore {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMemoryStoreMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &MemoryStore{now: cfg.Now, base: cfg.Now(), maxKeys: cfg.MaxKeys}
}

// at returns the instant a held timestamp stands for.
func (s *MemoryStore) at(ns int64) time.Time { return s.base.Add(time.Duration(ns)) }

// since returns t as a held timestamp.
func (s *MemoryStore) since(t time.Time) int64 { return int64(t.Sub(s.base)) }

// Allow implements RateLimitStore. It never fails.
func (s *MemoryStore) Allow(_ context.Context, key string, limit Limit) (Result, error) {
	if err := limit.withDefaults(DefaultUserRate); err != nil {
		return Result{}, err
	}
	now := s.now()
	if s.since(now) >= s.nextSweep.Load() {
		s.sweepIfDue(now)
	}
	for {
		if v, ok := s.tats.Load(key); ok {
			e := v.(*memoryTAT)
			if old := e.tat.Load(); old != deadTAT {
				res, newTAT := gcra(s.at(old), now, limit)
				// A refused request leaves the timestamp as it is,
				// unless gcra brought it back from beyond the burst
				// (a clock set back).
				if n := s.since(newTAT); n == old || e.tat.CompareAndSwap(old, n) {
					return res, nil
				}
				continue // another request moved it first: count again
			}
		}
		if res, ok := s.add(key, now, limit); ok {
			return res, nil
		}
	}
}

// add counts a request under a key the store does not hold, adding it. It
// reports false, having done nothing, when the key was added meanwhile.
func (s *MemoryStore) add(key string, now time.Time, limit Limit) (Result, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tats.Load(key); ok {
		// Under mu no removed entry is left in tats: the key is live.
		return Result{}, false
	}
	res, newTAT := gcra(time.Time{}, now, limit)
	if !res.Allowed {
		return res, true
	}
	if s.n >= s.maxKeys {
		s.makeRoom(now)
	}
	e := &memoryTAT{}
	e.tat.Store(s.since(newTAT))
	s.tats.Store(key, e)
	s.n++
	return res, true
}

// Len returns the number of keys the store holds.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// sweepIfDue sweeps when the last sweep is memorySweepInterval old: the
// request that moves nextSweep on does, and the others go on. The sweep
// holds mu only to remove a key, so that no request waits for the whole
// of it (a sweep that removes 100 000 keys takes ~50 ms).
func (s *MemoryStore) sweepIfDue(now time.Time) {
	t := s.since(now)
	next := s.nextSweep.Load()
	if t < next || !s.nextSweep.CompareAndSwap(next, t+int64(memorySweepInterval)) {
		return
	}
	s.tats.Range(func(k, v any) bool {
		s.sweepEntry(k, v.(*memoryTAT), now)
		return true
	})
}

// sweepEntry drops key k, which the sweep found with entry e, if e has
// recovered by now. e may have been removed since (Range sees a map that
// changes under it), and k added afresh: a removed e is left alone.
func (s *MemoryStore) sweepEntry(k any, e *memoryTAT, now time.Time) {
	if old := e.tat.Load(); old != deadTAT && !s.at(old).After(now) {
		s.mu.Lock()
		s.remove(k, e, old) // unless a request moved it on meanwhile
		s.mu.Unlock()
	}
}

// sweepLocked is the sweep with mu held throughout, for makeRoom.
func (s *MemoryStore) sweepLocked(now time.Time) {
	s.tats.Range(func(k, v any) bool {
		e := v.(*memoryTAT)
		if old := e.tat.Load(); !s.at(old).After(now) {
			s.remove(k, e, old)
		}
		return true
	})
}

// remove drops key k, whose entry e held old, unless a request has moved
// e on since. Under mu.
func (s *MemoryStore) remove(k any, e *memoryTAT, old int64) bool {
	if !e.tat.CompareAndSwap(old, deadTAT) {
		return false
	}
	s.tats.Delete(k)
	s.n--
	return true
}

// makeRoom frees at least one slot: a sweep, at most once per
// memorySweepInterval, then, if the store is still full, the evicting of
// the entry closest to recovery among a sample. Under mu.
//
// A sweep walks every key with mu held (~10 ms for 100 000). When the
// store is full of keys that have not recovered, it frees none, and a
// sweep for every key added made each new caller wait that long, and
// every other new caller queue behind: cheap for a client able to keep
// the store full (a strict limit, many addresses).
func (s *MemoryStore) makeRoom(now time.Time) {
	if t := s.since(now); t >= s.nextFullSweep {
		s.sweepLocked(now)
		s.fullSweeps++
		s.nextFullSweep = t + int64(memorySweepInterval)
	}
	for s.n >= s.maxKeys {
		const sample = 8
		var victim any
		var ve *memoryTAT
		var oldest int64
		n := 0
		// sync.Map ranges in the order of its hashes, seeded at random
		// per map: a sample no caller can choose.
		s.tats.Range(func(k, v any) bool {
			e := v.(*memoryTAT)
			if t := e.tat.Load(); n == 0 || t < oldest {
				victim, ve, oldest = k, e, t
			}
			n++
			return n < sample
		})
		s.remove(victim, ve, oldest) // if a request moved it on, sample again
	}
}
