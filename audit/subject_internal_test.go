package audit

import (
	"fmt"
	"testing"
)

// TestHashSubjectKeepsItsUsers: a server's active users fit in the table.
// Of 1 000 subjects each hashed once, about 40 are forgotten by the time
// they come back (three or more in one pair of slots); a direct-mapped
// table of the same size forgets about 110, the 256 slots before it about
// 750. The bound, 70, is five standard deviations above 40.
func TestHashSubjectKeepsItsUsers(t *testing.T) {
	a, err := New(Config{SubjectKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		a.HashSubject(fmt.Sprintf("user-%d", i))
	}
	kept := 0
	for i := range n {
		sub := fmt.Sprintf("user-%d", i)
		for j := range a.recent {
			if r := a.recent[j].Load(); r != nil && r.subject == sub {
				kept++
				break
			}
		}
	}
	if kept < n-70 {
		t.Fatalf("%d of %d subjects remembered", kept, n)
	}
}
