package textcut

import "testing"

func TestAt(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"longer text", 6, "longer…"},
		{"héllo", 2, "h…"}, // not inside é
		{"", 0, ""},
	} {
		if got := At(tc.s, tc.n); got != tc.want {
			t.Errorf("At(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
