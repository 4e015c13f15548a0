package identitytest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Expiry and eviction of the store behind clients, pending sign-ins, codes
// (60 s) and refresh tokens, with expiry times in the past or far future
// instead of waiting.
func TestBoundedStore(t *testing.T) {
	past, future := time.Now().Add(-time.Second), time.Now().Add(time.Hour)
	cases := []struct {
		name    string
		max     int
		put     []string // keys, in order; a key ending in "!" is stored already expired
		want    []string // present afterwards
		missing []string
	}{
		{"keeps entries", 3, []string{"a", "b", "c"}, []string{"a", "b", "c"}, nil},
		{"evicts the oldest when full", 2, []string{"a", "b", "c"}, []string{"b", "c"}, []string{"a"}},
		{"expired entries are gone", 3, []string{"a!", "b"}, []string{"b"}, []string{"a"}},
		{"expired entries go first", 2, []string{"a!", "b", "c"}, []string{"b", "c"}, []string{"a"}},
		{"a key put again is fresh", 2, []string{"a", "b", "a", "c"}, []string{"a", "c"}, []string{"b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newBoundedStore[string](tc.max)
			for _, k := range tc.put {
				exp := future
				if k[len(k)-1] == '!' {
					k, exp = k[:len(k)-1], past
				}
				s.put(k, "v"+k, exp)
			}
			for _, k := range tc.want {
				v, ok := s.get(k)
				require.True(t, ok, k)
				require.Equal(t, "v"+k, v)
			}
			for _, k := range tc.missing {
				_, ok := s.get(k)
				require.False(t, ok, k)
			}
			require.LessOrEqual(t, s.len(), tc.max)
		})
	}

	s := newBoundedStore[int](10)
	for k, v := range map[string]int{"a": 1, "b": 2, "c": 1, "d": 0} {
		s.put(k, v, time.Time{}) // zero: never expires
	}
	s.removeIf(func(v int) bool { return v == 1 })
	s.remove("d")
	_, a := s.get("a")
	_, b := s.get("b")
	require.Equal(t, []bool{false, true}, []bool{a, b})
	require.Equal(t, 1, s.len())
}
