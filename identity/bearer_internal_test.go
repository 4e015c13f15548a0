package identity

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// b64tokenRE is RFC 6750's b64token grammar, the reference isB64Token is
// held to.
var b64tokenRE = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// isB64Token agrees with the grammar on random strings over an alphabet
// weighted towards the edge cases ('=', bytes just outside the ranges),
// at every length around the eight-byte blocks it reads.
func TestIsB64TokenMatchesGrammar(t *testing.T) {
	const alphabet = "aZ09-._~+/==== \t\x00\x80\xff@[`{:,;\"%"
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		n := rng.IntN(40)
		b := make([]byte, n)
		for j := range b {
			if rng.IntN(4) == 0 {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[j] = "abcXYZ019-._~+/"[rng.IntN(15)]
			}
		}
		s := string(b)
		if got, want := isB64Token(s), b64tokenRE.MatchString(s); got != want {
			t.Fatalf("isB64Token(%q) = %v, want %v", s, got, want)
		}
	}
}

// One bad byte anywhere in a long token, and an '=' anywhere but the end,
// is refused.
func TestIsB64TokenLongToken(t *testing.T) {
	tok := randomToken(rand.New(rand.NewPCG(3, 4)), 901)
	if !isB64Token(tok) || !isB64Token(tok+"==") {
		t.Fatal("valid token refused")
	}
	for i := range len(tok) {
		for _, c := range []byte{' ', '=', '\x00', '\xff', '"', ','} {
			bad := tok[:i] + string(c) + tok[i+1:]
			if c == '=' && i == len(tok)-1 {
				continue // a trailing '=' is allowed
			}
			if isB64Token(bad) {
				t.Fatalf("byte %q at %d accepted", c, i)
			}
		}
	}
	for _, s := range []string{"", "=", "====", "=a", "a=a", strings.Repeat("=", 9)} {
		if isB64Token(s) {
			t.Fatalf("%q accepted", s)
		}
	}
}

// randomToken returns n random base64url characters, as in a JWT.
func randomToken(rng *rand.Rand, n int) string {
	const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = b64url[rng.IntN(len(b64url))]
	}
	return string(b)
}

// isB64TokenBranchy is the check as it was before the table: a loop that
// branches on each byte. Kept for BenchmarkIsB64Token's side-by-side.
func isB64TokenBranchy(s string) bool {
	n := 0
	for n < len(s) && isB64TokenChar(s[n]) {
		n++
	}
	if n == 0 {
		return false
	}
	for n < len(s) && s[n] == '=' {
		n++
	}
	return n == len(s)
}

// BenchmarkIsB64Token checks 64 different random 900-byte tokens in turn
// (one token over and over lets the branch predictor learn it, which a
// server's traffic does not), with the table and with the old loop.
func BenchmarkIsB64Token(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	toks := make([]string, 64)
	for i := range toks {
		toks[i] = randomToken(rng, 900)
	}
	for _, bc := range []struct {
		name string
		f    func(string) bool
	}{{"table", isB64Token}, {"branchy", isB64TokenBranchy}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(900)
			i := 0
			for b.Loop() {
				if !bc.f(toks[i&63]) {
					b.Fatal("refused")
				}
				i++
			}
		})
	}
}
