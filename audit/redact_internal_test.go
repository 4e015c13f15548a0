package audit

import (
	"strings"
	"testing"
)

// redactEveryStart is redact as it was before it skipped runs: it tries a
// JWT at every "eyJ", in time quadratic in a run of them. The reference
// the skipping must agree with.
func redactEveryStart(s string) string {
	var b strings.Builder
	last := 0
	for i := strings.Index(s, jwtPrefix); i >= 0; {
		if end, ok := jwtEnd(s, i); ok {
			b.WriteString(s[last:i])
			b.WriteString(redacted)
			last, i = end, end
		} else {
			i += len(jwtPrefix)
		}
		k := strings.Index(s[i:], jwtPrefix)
		if k < 0 {
			break
		}
		i += k
	}
	b.WriteString(s[last:])
	return b.String()
}

// redact skips the rest of a base64url run once a JWT does not start at an
// "eyJ" in it, and redacts exactly what trying every start redacts.
func TestRedactSkipsRunsLikeEveryStart(t *testing.T) {
	for _, s := range []string{
		"eyJeyJeyJ", "eyJeyJ.eyJ.x", "xeyJaeyJbc.d.e", "eyJ.eyJabc.d.e", "eyJabcd.e",
		"eyJabceyJabcd.x.y", "eyJab.cd.ef.eyJab.c.d", "eyJ-_eyJ.a.", "eyJa..eyJabc.d.e",
		strings.Repeat("eyJ", 50), strings.Repeat("eyJ", 50) + ".a.b", "aeyJ" + strings.Repeat("eyJ", 9) + "!eyJabcd.e.f",
	} {
		if got, want := redact(s), redactEveryStart(s); got != want {
			t.Errorf("redact(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzRedactSkipsRunsLikeEveryStart(f *testing.F) {
	for _, s := range []string{"eyJeyJ.eyJ.x", "eyJabc.d.e eyJ", "eyJ.x eyJabcd.e.f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := redact(s), redactEveryStart(s); got != want {
			t.Errorf("redact(%q) = %q, want %q", s, got, want)
		}
	})
}

// BenchmarkRedactRunOfPrefixes redacts 100 KB of "eyJ" with no JWT in it,
// what a request can put in a path or a tool name: linear now (about what
// 100 KB of other text costs), quadratic before (~2 s).
func BenchmarkRedactRunOfPrefixes(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"eyJ", strings.Repeat("eyJ", 100_000/3)},
		{"x", strings.Repeat("x", 100_000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_ = redact(bc.s)
			}
		})
	}
}
