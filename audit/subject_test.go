package audit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
)

// wantHash is the hash HashSubject must return for sub under testKey.
func wantHash(sub string) string {
	mac := hmac.New(sha256.New, []byte(testKey))
	mac.Write([]byte(sub))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// HashSubject remembers recent subjects; whatever the table holds (more
// subjects than slots, colliding slots, long subjects it does not keep,
// concurrent callers), every answer is the subject's own hash.
func TestHashSubjectRemembered(t *testing.T) {
	a, _ := newAuditor(t, audit.Config{})
	tests := []struct {
		name     string
		subjects []string
	}{
		{"one subject again and again", []string{"alice", "alice", "alice"}},
		{"more subjects than slots, twice", func() []string {
			var s []string
			for round := 0; round < 2; round++ {
				for i := range 2000 {
					s = append(s, fmt.Sprintf("user-%d", i))
				}
			}
			return s
		}()},
		{"long subjects are not kept but hashed", []string{strings.Repeat("x", 300), strings.Repeat("x", 300), strings.Repeat("y", 300)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, sub := range tt.subjects {
				require.Equal(t, wantHash(sub), a.HashSubject(sub), sub)
			}
		})
	}
	t.Run("concurrent callers", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := range 8 {
			wg.Go(func() {
				for i := range 500 {
					sub := fmt.Sprintf("user-%d", (i*7+g)%300)
					if a.HashSubject(sub) != wantHash(sub) {
						errs <- sub
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		require.Empty(t, errs)
	})
}

// Hashing a subject seen just before allocates nothing.
func TestHashSubjectRememberedAllocations(t *testing.T) {
	a, _ := newAuditor(t, audit.Config{})
	a.HashSubject("auth0|6543210fedcba9876543210")
	allocs := testing.AllocsPerRun(100, func() {
		if a.HashSubject("auth0|6543210fedcba9876543210") == "" {
			t.Fatal("empty hash")
		}
	})
	require.Zero(t, allocs)
}
