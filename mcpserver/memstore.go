package mcpserver

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMemoryStoreMaxKeys is the default for MemoryStoreConfig.MaxKeys.
const DefaultMemoryStoreMaxKeys = 100_000

// memoryShards is the number of independently locked parts of a
// MemoryStore.
const memoryShards = 16

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
type MemoryStore struct {
	now       func() time.Time
	seed      maphash.Seed
	maxPerShd int
	shards    [memoryShards]memoryShard
}

// memoryTAT is a key's theoretical arrival time, held by pointer so that a
// request updates it where it is.
type memoryTAT struct{ tat time.Time }

type memoryShard struct {
	mu        sync.Mutex
	tats      map[string]*memoryTAT
	lastSweep time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryStoreConfig) *MemoryStore {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMemoryStoreMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &MemoryStore{now: cfg.Now, seed: maphash.MakeSeed(), maxPerShd: max(1, cfg.MaxKeys/memoryShards)}
	for i := range s.shards {
		s.shards[i].tats = make(map[string]*memoryTAT)
	}
	return s
}

// Allow implements RateLimitStore. It never fails.
func (s *MemoryStore) Allow(_ context.Context, key string, limit Limit) (Result, error) {
	if err := limit.withDefaults(DefaultUserRate); err != nil {
		return Result{}, err
	}
	sh := &s.shards[maphash.String(s.seed, key)%memoryShards]
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.tats[key]
	var tat time.Time
	if ok {
		tat = e.tat
	}
	swept := false
	if !ok && len(sh.tats) >= s.maxPerShd {
		sh.makeRoom(now, s.maxPerShd)
	} else if now.Sub(sh.lastSweep) > time.Minute {
		sh.sweep(now)
		swept = true // it may have taken key's entry
	}
	res, newTAT := gcra(tat, now, limit)
	if res.Allowed {
		if ok && !swept {
			e.tat = newTAT // in place: one map lookup per request
		} else {
			sh.tats[key] = &memoryTAT{tat: newTAT}
		}
	}
	return res, nil
}

// Len returns the number of keys the store holds.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.tats)
		sh.mu.Unlock()
	}
	return n
}

// sweep drops keys whose budget has fully recovered: their timestamp is in
// the past, which is the same as no entry.
func (sh *memoryShard) sweep(now time.Time) {
	sh.lastSweep = now
	for k, e := range sh.tats {
		if !e.tat.After(now) {
			delete(sh.tats, k)
		}
	}
}

// makeRoom frees at least one slot: a sweep, then, if the shard is still
// full, the evicting of the entry closest to recovery among a sample.
func (sh *memoryShard) makeRoom(now time.Time, max int) {
	sh.sweep(now)
	for len(sh.tats) >= max {
		const sample = 8
		var victim string
		var oldest time.Time
		n := 0
		for k, e := range sh.tats { // map order is random: a random sample
			if n == 0 || e.tat.Before(oldest) {
				victim, oldest = k, e.tat
			}
			if n++; n == sample {
				break
			}
		}
		delete(sh.tats, victim)
	}
}
