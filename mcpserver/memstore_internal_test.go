package mcpserver

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMemoryStoreRemovedEntry pins what keeps a request racing a removal
// counted: an entry read before its removal takes no update, and a request
// that finds an entry being removed waits to add its key afresh.
func TestMemoryStoreRemovedEntry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewMemoryStore(MemoryStoreConfig{Now: func() time.Time { return now }})
	lim := Limit{Rate: 60, Period: time.Minute, Burst: 3}
	ctx := context.Background()
	entry := func() *memoryTAT {
		v, ok := s.tats.Load("user:a")
		require.True(t, ok)
		return v.(*memoryTAT)
	}

	t.Run("read before the sweep", func(t *testing.T) {
		_, err := s.Allow(ctx, "user:a", lim)
		require.NoError(t, err)
		e := entry()
		old := e.tat.Load() // a request read it, and is about to count...
		now = now.Add(2 * time.Minute)
		s.sweepIfDue(now) // ...when the sweep drops the recovered key
		_, ok := s.tats.Load("user:a")
		require.False(t, ok)
		require.False(t, e.tat.CompareAndSwap(old, old+1), "an entry read before its removal must refuse the update")
	})

	t.Run("found while being removed", func(t *testing.T) {
		_, err := s.Allow(ctx, "user:a", lim)
		require.NoError(t, err)
		e := entry()
		// remove holds mu between marking the entry and deleting it.
		s.mu.Lock()
		require.True(t, e.tat.CompareAndSwap(e.tat.Load(), deadTAT))
		done := make(chan Result, 1)
		go func() {
			res, err := s.Allow(ctx, "user:a", lim)
			require.NoError(t, err)
			done <- res
		}()
		select {
		case res := <-done:
			s.mu.Unlock()
			t.Fatalf("counted on an entry being removed: %+v", res)
		case <-time.After(100 * time.Millisecond): // it waits for mu, as it must
		}
		require.Equal(t, int64(deadTAT), e.tat.Load())
		s.tats.Delete("user:a")
		s.n--
		s.mu.Unlock()
		res := <-done
		require.True(t, res.Allowed)
		require.Equal(t, 2, res.Remaining, "the key added afresh")
		require.Equal(t, 1, s.Len())
	})
}

// TestMemoryStoreSweepNeverWaits: a request for a held key waits neither
// for a sweep another request is running nor for the mutex that sweep
// takes to remove a key.
func TestMemoryStoreSweepNeverWaits(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := NewMemoryStore(MemoryStoreConfig{Now: clock})
	lim := Limit{Rate: 60, Period: time.Minute, Burst: 3}
	ctx := context.Background()
	_, err := s.Allow(ctx, "ip:192.0.2.1", lim)
	require.NoError(t, err)

	mu.Lock()
	now = now.Add(2 * time.Minute) // the key has recovered: a sweep would drop it
	mu.Unlock()
	// Another request has started that sweep and holds the mutex.
	s.nextSweep.Store(s.since(clock()) + int64(memorySweepInterval))
	s.mu.Lock()
	done := make(chan Result, 1)
	go func() {
		res, err := s.Allow(ctx, "ip:192.0.2.1", lim)
		require.NoError(t, err)
		done <- res
	}()
	select {
	case res := <-done:
		s.mu.Unlock()
		require.True(t, res.Allowed)
		require.Equal(t, 2, res.Remaining, "counted on the held key, recovered")
	case <-time.After(10 * time.Second):
		s.mu.Unlock()
		t.Fatal("the request waited for the mutex")
	}
}

// TestMemoryStoreOneSweeper: of the requests that find a sweep due, one
// sweeps; the sweep still drops every recovered key.
func TestMemoryStoreOneSweeper(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewMemoryStore(MemoryStoreConfig{Now: func() time.Time { return now }})
	lim := Limit{Rate: 60, Period: time.Minute, Burst: 3}
	ctx := context.Background()
	for i := range 100 {
		_, err := s.Allow(ctx, "ip:192.0.2."+strconv.Itoa(i), lim)
		require.NoError(t, err)
	}
	now = now.Add(2 * time.Minute)
	next := s.nextSweep.Load()
	s.sweepIfDue(now)
	require.Zero(t, s.Len(), "every recovered key dropped")
	require.Greater(t, s.nextSweep.Load(), next)
	_, err := s.Allow(ctx, "ip:192.0.2.1", lim)
	require.NoError(t, err)
	moved := s.nextSweep.Load()
	s.sweepIfDue(now) // not due again: nothing happens
	require.Equal(t, 1, s.Len())
	require.Equal(t, moved, s.nextSweep.Load())
}

// TestMemoryStoreSweepSkipsRemovedEntry: the sweep may come upon an entry
// removed after it started (an eviction) whose key has been added afresh:
// it must leave the fresh entry, and the count, alone.
func TestMemoryStoreSweepSkipsRemovedEntry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewMemoryStore(MemoryStoreConfig{Now: func() time.Time { return now }})
	lim := Limit{Rate: 60, Period: time.Minute, Burst: 3}
	ctx := context.Background()
	_, err := s.Allow(ctx, "user:a", lim)
	require.NoError(t, err)
	v, _ := s.tats.Load("user:a")
	stale := v.(*memoryTAT) // what the sweep read
	s.mu.Lock()
	require.True(t, s.remove("user:a", stale, stale.tat.Load())) // evicted meanwhile
	s.mu.Unlock()
	_, err = s.Allow(ctx, "user:a", lim) // and added afresh
	require.NoError(t, err)

	s.sweepEntry("user:a", stale, now.Add(time.Hour))
	_, ok := s.tats.Load("user:a")
	require.True(t, ok, "the fresh entry is kept")
	require.Equal(t, 1, s.Len())
}

// TestMemoryStoreFullSweepsSpaced: a store full of keys that have not
// recovered sweeps them all at most once per memorySweepInterval when keys
// are added, not once per key added (each sweep walks every key with the
// lock held), and still drops recovered keys when a sweep is due.
func TestMemoryStoreFullSweepsSpaced(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewMemoryStore(MemoryStoreConfig{MaxKeys: 100, Now: func() time.Time { return now }})
	strict := Limit{Rate: 1, Period: time.Hour}
	add := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			res, err := s.Allow(context.Background(), "ip:"+strconv.Itoa(i), strict)
			require.NoError(t, err)
			require.True(t, res.Allowed)
		}
	}
	fullSweeps := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.fullSweeps
	}
	add(0, 1000) // 900 keys added to a full store
	require.Equal(t, 1, fullSweeps())
	require.Equal(t, 100, s.Len())

	now = now.Add(2 * memorySweepInterval) // none has recovered (1 an hour)
	add(1000, 1100)
	require.Equal(t, 2, fullSweeps(), "one sweep an interval, whatever is added")
	require.Equal(t, 100, s.Len())

	// Recovered keys are dropped by the first sweep due.
	now = now.Add(2 * time.Hour)
	s.nextSweep.Store(s.since(now) + int64(time.Hour)) // no sweep from Allow itself
	add(2000, 2001)
	require.Equal(t, 3, fullSweeps())
	require.Equal(t, 1, s.Len())
}
