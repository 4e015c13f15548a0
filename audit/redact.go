package audit

import (
	"bytes"
	"strings"
)

// redacted replaces every JWT-looking part of a value.
const redacted = "[redacted]"

// jwtPrefix starts every JWT: the base64url encoding of `{"`.
const jwtPrefix = "eyJ"

// Redact returns s with every run of it shaped like a JWT (a compact JWS
// or JWE: three or five base64url segments joined by dots, the first
// starting with "eyJ") replaced by "[redacted]", as Record and Middleware
// redact events and log lines. A string without "eyJ" is returned as it
// is, without allocating. It is for text that may hold a token, such as
// an error or panic message about to be logged; opaque tokens are not
// recognised.
func Redact(s string) string { return redact(s) }

// redact is Redact.
func redact(s string) string {
	i := strings.Index(s, jwtPrefix)
	if i < 0 {
		return s
	}
	var b strings.Builder
	last := 0 // s[last:] is not yet copied to b
	for i >= 0 {
		if end, ok := jwtEnd(s, i); ok {
			b.WriteString(s[last:i])
			b.WriteString(redacted)
			last = end
			i = end
		} else {
			// No "eyJ" later in the same run of base64url characters
			// starts a JWT either: its first segment would end where
			// this one did, and what follows is the same. Going on
			// from the next "eyJ" instead made a long run of them
			// cost time quadratic in its length (100 KB: 2 s).
			i = base64URLRun(s, i)
		}
		k := strings.Index(s[i:], jwtPrefix)
		if k < 0 {
			break
		}
		i += k
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// redactBytes is redact for JSON text. A JWT holds no character that JSON
// escapes, so the result of redacting valid JSON is valid JSON.
func redactBytes(b []byte) []byte {
	if !bytes.Contains(b, []byte(jwtPrefix)) {
		return b
	}
	return []byte(redact(string(b)))
}

// jwtEnd reports whether s[start:] begins with something shaped like a
// compact JWS (RFC 7515): a base64url segment of at least four characters
// starting with "eyJ", a dot, a non-empty segment, a dot, and a segment that
// may be empty (unsigned tokens); if so it also returns where that ends.
// Further non-empty dot-separated segments (a JWE has five) are included.
func jwtEnd(s string, start int) (end int, ok bool) {
	i := start
	for n, minLen := range [3]int{4, 1, 0} {
		j := base64URLRun(s, i)
		if j-i < minLen {
			return 0, false
		}
		i = j
		if n < 2 {
			if i >= len(s) || s[i] != '.' {
				return 0, false
			}
			i++
		}
	}
	for i < len(s) && s[i] == '.' {
		j := base64URLRun(s, i+1)
		if j == i+1 {
			break
		}
		i = j
	}
	return i, true
}

// base64URLRun returns the end of the run of base64url characters that
// starts at s[i].
func base64URLRun(s string, i int) int {
	for i < len(s) && isBase64URL(s[i]) {
		i++
	}
	return i
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
