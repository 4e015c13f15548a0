package audit

import "testing"

// TestNewRequestIDBits: every character of a generated id is drawn from
// the whole alphabet, independently of the others: each of the 26
// positions takes each of the 32 letters, and no two of 20 000 ids are the
// same.
func TestNewRequestIDBits(t *testing.T) {
	const n = 20_000
	seen := make(map[string]bool, n)
	var counts [26][32]int
	for range n {
		id := newRequestID()
		if len(id) != 26 || !validRequestID(id) {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		seen[id] = true
		for i := range len(id) {
			c := id[i]
			switch {
			case 'A' <= c && c <= 'Z':
				counts[i][c-'A']++
			case '2' <= c && c <= '7':
				counts[i][26+c-'2']++
			default:
				t.Fatalf("id %q: %q is not base32", id, c)
			}
		}
	}
	// n/32 = 625 expected per cell; a uniform draw stays within ±25%
	// (over 6 standard deviations) with near certainty.
	for i := range counts {
		for j, c := range counts[i] {
			if c < 470 || c > 780 {
				t.Fatalf("position %d, letter %d: %d of %d ids", i, j, c, n)
			}
		}
	}
	// Neighbours share no bits: each pair of positions takes (nearly)
	// all 1 024 letter pairs; sharing one bit would halve that.
	for i := range 25 {
		pairs := make(map[[2]byte]bool)
		for id := range seen {
			pairs[[2]byte{id[i], id[i+1]}] = true
		}
		if len(pairs) < 1000 {
			t.Fatalf("positions %d and %d: %d letter pairs of 1024", i, i+1, len(pairs))
		}
	}
}
