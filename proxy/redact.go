package proxy

import "bytes"

// maxEscapedLen is how many bytes one character of a secret takes at most
// once escaped ("\\u002B").
const maxEscapedLen = 6

// redactEscaped replaces with "[redacted]" each occurrence in b of secret
// written with some of its characters other than ASCII letters and digits
// escaped, as a server that echoes what it got writes it: in JSON ("\\/",
// "\\u002B" or "\\u002b", as PHP's json_encode and .NET's System.Text.Json
// escape "/" and "+") or percent-encoded in either case ("%2B", "%2b"). A
// bearer token of RFC 6750 b64token syntax, or a Basic credential, has
// "+", "/" and "=" in it. It returns b itself when nothing matched.
func redactEscaped(b []byte, secret string) []byte {
	if !bytes.ContainsAny(b, `\%`) || !hasEscapable(secret) {
		return b
	}
	var out []byte // nil until a match
	last := 0
	for i := 0; i < len(b); {
		n := matchEscaped(b[i:], secret)
		if n == 0 {
			i++
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:i]...)
		out = append(out, "[redacted]"...)
		i += n
		last = i
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// hasEscapable reports whether s has a character redactEscaped looks for
// escaped: one that is not an ASCII letter or digit.
func hasEscapable(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return true
		}
	}
	return false
}

// matchEscaped returns the length of the prefix of b that is secret with
// any of its characters other than letters and digits escaped, or 0 when
// b does not start so.
func matchEscaped(b []byte, secret string) int {
	j := 0
	for k := 0; k < len(secret); k++ {
		c := secret[k]
		if !isAlnum(c) {
			if n := escapedLen(b[j:], c); n > 0 {
				j += n
				continue
			}
		}
		if j >= len(b) || b[j] != c {
			return 0
		}
		j++
	}
	return j
}

// escapedLen returns the length of the escape of c that b starts with, or
// 0: "%XX", "\\u00XX" (hex digits in either case), or "\\/", "\\\\" and
// "\\"" for the characters JSON escapes so.
func escapedLen(b []byte, c byte) int {
	switch {
	case len(b) >= 3 && b[0] == '%' && hexByte(b[1], b[2]) == int(c):
		return 3
	case len(b) >= 6 && b[0] == '\\' && b[1] == 'u' && b[2] == '0' && b[3] == '0' && hexByte(b[4], b[5]) == int(c):
		return 6
	case len(b) >= 2 && b[0] == '\\' && b[1] == c && (c == '/' || c == '\\' || c == '"'):
		return 2
	}
	return 0
}

// hexByte returns the byte the hex digits h and l write, or -1.
func hexByte(h, l byte) int {
	x, y := unhex(h), unhex(l)
	if x < 0 || y < 0 {
		return -1
	}
	return x<<4 | y
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// escapedPrefix reports whether all of b is how secret starts, with some
// of its characters escaped as matchEscaped allows, b possibly ending
// inside an escape.
func escapedPrefix(b []byte, secret string) bool {
	j := 0
	for k := 0; k < len(secret) && j < len(b); k++ {
		c := secret[k]
		if !isAlnum(c) {
			if n := escapedLen(b[j:], c); n > 0 {
				j += n
				continue
			}
			if partialEscape(b[j:], c) {
				return true
			}
		}
		if b[j] != c {
			return false
		}
		j++
	}
	return j == len(b) && len(b) > 0
}

// partialEscape reports whether all of b is how an escape of c
// (escapedLen) starts, cut short.
func partialEscape(b []byte, c byte) bool {
	const hex = "0123456789ABCDEF"
	pct := [...]byte{'%', hex[c>>4], hex[c&15]}
	uni := [...]byte{'\\', 'u', '0', '0', hex[c>>4], hex[c&15]}
	switch {
	case len(b) == 0:
		return false
	case len(b) < len(pct) && bytes.EqualFold(b, pct[:len(b)]):
		return true
	case len(b) < len(uni) && bytes.EqualFold(b, uni[:len(b)]):
		return true
	}
	return len(b) == 1 && b[0] == '\\' && (c == '/' || c == '\\' || c == '"')
}
