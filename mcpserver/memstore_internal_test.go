package mcpserver

import (
	"context"
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
