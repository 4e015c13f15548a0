package identity

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// BearerToken returns the bearer token a request carries in its
// Authorization header (RFC 6750 §2.1). It never reads the body, and the
// token it returns is a substring of the header: no allocation.
//
// It accepts exactly one form, "Authorization: Bearer <token>", where the
// scheme is matched case-insensitively ("bearer x" works), one or more
// spaces separate scheme and token, and the token has the RFC 6750 b64token
// syntax (letters, digits and "-._~+/", then optional trailing "="). Surrounding
// spaces and tabs are ignored. Its errors wrap:
//
//   - ErrMissingToken: no Authorization header, an empty one, or one with
//     another scheme such as Basic (RFC 6750 treats a scheme the resource
//     server does not understand as no token).
//   - ErrInvalidRequest: an "access_token" query parameter (always refused,
//     also next to a header: the token was sent two ways), more than one
//     Authorization header, "Bearer" with no token, or a token that breaks
//     the b64token syntax (spaces, commas, quotes, control or non-ASCII
//     bytes). These are malformed requests (400), not bad tokens (401): the
//     client should fix how it sends the token rather than throw it away.
//
// Errors never contain the token or the header value.
func BearerToken(r *http.Request) (string, error) {
	tok, err := bearerCandidate(r)
	if err != nil {
		return "", err
	}
	if !isB64Token(tok) {
		return "", errNotB64Token
	}
	return tok, nil
}

// errNotB64Token is BearerToken's error for a token that breaks the
// b64token syntax.
var errNotB64Token = fmt.Errorf("%w: bearer token is not RFC 6750 b64token syntax", ErrInvalidRequest)

// bearerCandidate is BearerToken without the token's b64token syntax
// check: what the header holds where the token goes. Middleware asks the
// verifier's cache about it first (a cached token passed the check when it
// was verified) and checks the syntax only when the cache does not know it.
func bearerCandidate(r *http.Request) (string, error) {
	if queryHasAccessToken(r.URL) {
		return "", fmt.Errorf("%w: access_token in the query string is not accepted; send an Authorization: Bearer header", ErrInvalidRequest)
	}
	values := r.Header["Authorization"]
	switch len(values) {
	case 0:
		return "", ErrMissingToken
	case 1:
	default:
		return "", fmt.Errorf("%w: %d Authorization headers", ErrInvalidRequest, len(values))
	}
	v := trimOWS(values[0])
	if v == "" {
		return "", ErrMissingToken
	}
	scheme, rest := v, ""
	if i := indexOWS(v); i >= 0 {
		scheme, rest = v[:i], v[i:]
	}
	if !equalFoldASCII(scheme, "Bearer") {
		return "", ErrMissingToken
	}
	if len(rest) == 0 || rest[0] != ' ' {
		// "Bearer" alone (surrounding blanks were trimmed) or "Bearer\t...".
		if len(rest) == 0 {
			return "", fmt.Errorf("%w: Bearer scheme with no token", ErrInvalidRequest)
		}
		return "", fmt.Errorf("%w: scheme and token must be separated by a space", ErrInvalidRequest)
	}
	return strings.TrimLeft(rest, " "), nil
}

// queryHasAccessToken reports whether the URL query has an "access_token"
// parameter, with or without a value, in any percent-encoding. It does not
// allocate unless a key needs unescaping.
func queryHasAccessToken(u *url.URL) bool {
	if u == nil {
		return false
	}
	q := u.RawQuery
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		key, _, _ := strings.Cut(pair, "=")
		if key == "access_token" {
			return true
		}
		if strings.ContainsAny(key, "%+") {
			if k, err := url.QueryUnescape(key); err == nil && k == "access_token" {
				return true
			}
		}
	}
	return false
}

// trimOWS trims optional whitespace (SP, HTAB) from both ends of s.
func trimOWS(s string) string {
	// By hand: strings.Trim builds a set of its cutset on every call
	// (~35 ns against ~7).
	i, j := 0, len(s)
	for i < j && isOWS(s[i]) {
		i++
	}
	for j > i && isOWS(s[j-1]) {
		j--
	}
	return s[i:j]
}

// indexOWS returns the index of the first space or tab in s, or -1.
func indexOWS(s string) int {
	for i := 0; i < len(s); i++ {
		if isOWS(s[i]) {
			return i
		}
	}
	return -1
}

// equalFoldASCII reports whether s equals the ASCII string t, ignoring ASCII
// case only.
func equalFoldASCII(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
//
// It runs on every request, over tokens of a kilobyte or more, so it looks
// each byte up in a table and ORs the results, eight bytes at a time,
// instead of branching on each byte (random base64 defeats the branch
// predictor: 3 ns a byte against well under 1).
func isB64Token(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 {
		return false
	}
	s = s[:n] // '=' is not a token character, so no '=' may remain
	var bad uint8
	for len(s) >= 8 {
		c := s[:8]
		bad |= notB64TokenChar[c[0]] | notB64TokenChar[c[1]] | notB64TokenChar[c[2]] | notB64TokenChar[c[3]] |
			notB64TokenChar[c[4]] | notB64TokenChar[c[5]] | notB64TokenChar[c[6]] | notB64TokenChar[c[7]]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		bad |= notB64TokenChar[s[i]]
	}
	return bad == 0
}

// notB64TokenChar is 1 for every byte that is not a b64token character
// (before the trailing '='s) and 0 for those that are.
var notB64TokenChar = func() (t [256]uint8) {
	for c := range t {
		if !isB64TokenChar(byte(c)) {
			t[c] = 1
		}
	}
	return t
}()

func isB64TokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		return true
	}
	return false
}
