package recent_test

import (
	"fmt"
	"hash/maphash"
	"strings"
	"sync/atomic"

	"github.com/idgate/idgate/internal/recent"
)

// upper remembers the upper-case forms of recent strings.
type upper struct {
	seed  maphash.Seed
	slots [64]atomic.Pointer[[2]string]
}

func (u *upper) get(s string) string {
	h := maphash.String(u.seed, s)
	pair := recent.Pair(u.slots[:], h)
	for i := range pair {
		if e := pair[i].Load(); e != nil && e[0] == s {
			return e[1]
		}
	}
	e := &[2]string{s, strings.ToUpper(s)}
	recent.Put(pair, h, e)
	return e[1]
}

func Example() {
	u := &upper{seed: maphash.MakeSeed()}
	fmt.Println(u.get("alice"), u.get("bob"), u.get("alice"))
	// Output: ALICE BOB ALICE
}
