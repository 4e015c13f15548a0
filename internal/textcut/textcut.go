// Package textcut bounds text written to logs.
package textcut

import "unicode/utf8"

// At returns s cut to at most n bytes, on a rune boundary, followed by "…"
// when it was cut.
func At(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
