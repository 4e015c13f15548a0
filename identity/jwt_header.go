package identity

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxTokenBytes bounds the length of a token the JWT verifier will decode.
// Real access tokens are a few kilobytes at most.
const maxTokenBytes = 32 << 10

// jwsHeader is the part of a JWS header the verifier checks before any
// cryptography. Other members ("jku", "x5u", "jwk", "x5c", ...) are
// ignored: keys come from the configured JWKS only.
type jwsHeader struct {
	Alg  string
	Typ  string
	Kid  string
	Crit json.RawMessage // nil when absent
}

// parseJWSHeader decodes a JWS header the way golang-jwt reads it: member
// names match exactly (encoding/json's struct decoding would also take
// "Alg" or "ALG" for "alg", so that the header checked here and the one
// the signature is verified under could differ), and, unlike golang-jwt
// (last one wins), a member present twice makes the header malformed
// (RFC 7515 §4: names must be unique; we refuse rather than pick one).
func parseJWSHeader(raw []byte) (jwsHeader, error) {
	var h jwsHeader
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return h, err
	}
	if members == nil {
		return h, errors.New("not a JSON object")
	}
	// The map keeps the last of duplicate names (compared after
	// unescaping, as golang-jwt compares them): fewer entries than
	// members means a name was repeated.
	if countMembers(raw) != len(members) {
		return h, errors.New("a member appears twice")
	}
	if err := decodeHeaderString(members, "alg", &h.Alg); err != nil {
		return h, err
	}
	if err := decodeHeaderString(members, "typ", &h.Typ); err != nil {
		return h, err
	}
	if err := decodeHeaderString(members, "kid", &h.Kid); err != nil {
		return h, err
	}
	h.Crit = members["crit"]
	return h, nil
}

// countMembers returns the number of members of the JSON object raw, which
// must be valid JSON: the commas outside strings at depth 1, plus one
// unless the object is empty.
func countMembers(raw []byte) int {
	depth, commas, inString, escaped, empty := 0, 0, false, false, true
	for _, c := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			continue
		case c == '}' || c == ']':
			depth--
			continue
		case c == ',' && depth == 1:
			commas++
		}
		if depth == 1 && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			empty = false
		}
	}
	if empty {
		return 0
	}
	return commas + 1
}

// decodeHeaderString decodes the string member name into dst; null or
// absent leaves dst empty, as encoding/json does.
func decodeHeaderString(members map[string]json.RawMessage, name string, dst *string) error {
	value := members[name]
	if value == nil || string(value) == "null" {
		return nil
	}
	if value[0] != '"' {
		return fmt.Errorf("member %q is not a string", name)
	}
	if err := json.Unmarshal(value, dst); err != nil {
		return fmt.Errorf("member %q: %w", name, err)
	}
	return nil
}

// notCompactJWS reports whether r may not appear in a JWS in compact
// serialisation: base64url without padding, and the dots between parts.
func notCompactJWS(r rune) bool {
	return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
}

// checkHeader checks the token's shape and header: three parts of
// base64url, a decodable header, an allowed "alg", no "crit", and the
// required "typ". It does no cryptography and fetches nothing.
func (v *JWTVerifier) checkHeader(token string) (jwsHeader, error) {
	var h jwsHeader
	switch n := strings.Count(token, "."); n {
	case 2:
	case 0:
		if token == "" {
			return h, jwtErrorf(ErrMalformedToken, "empty token")
		}
		return h, jwtErrorf(ErrOpaqueToken, "token has no dots, so it is not a JWT; use introspection for opaque tokens")
	case 4:
		return h, &jwtError{sentinel: ErrEncryptedToken}
	default:
		return h, jwtErrorf(ErrMalformedToken, "token has %d parts, a signed JWT has 3", n+1)
	}
	if i := strings.IndexFunc(token, notCompactJWS); i >= 0 {
		// Go's base64 decoders skip CR and LF, even strict: without this
		// check a token with a line break in its signature would verify,
		// a second spelling of the same token (and cache entry).
		return h, jwtErrorf(ErrMalformedToken, "byte %d is not base64url", i)
	}
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(head)
	if err != nil {
		return h, jwtErrorf(ErrMalformedToken, "header is not base64url")
	}
	h, err = parseJWSHeader(raw)
	if err != nil {
		return h, jwtErrorf(ErrMalformedToken, "header is not a JWS header: %v", err)
	}
	switch {
	case h.Alg == "":
		return h, jwtErrorf(ErrMalformedToken, "header has no alg")
	case strings.EqualFold(h.Alg, "none"):
		return h, jwtErrorf(ErrBadAlgorithm, `alg "none": unsigned tokens are never accepted`)
	case !slices.Contains(v.cfg.Algorithms, h.Alg):
		return h, jwtErrorf(ErrBadAlgorithm, "alg %s is not in the allow-list", quoteValue(h.Alg))
	case len(h.Crit) > 0 && string(h.Crit) != "null":
		// RFC 7515 §4.1.11: a recipient that does not understand a critical
		// extension must reject the token. This verifier understands none.
		return h, jwtErrorf(ErrUnsupportedHeader, "critical header extensions (crit) are not supported")
	case v.cfg.requireType != "" && normaliseType(h.Typ) != v.cfg.requireType:
		return h, jwtErrorf(ErrBadType, "typ %s, want %q", quoteValue(h.Typ), v.cfg.RequireType)
	}
	return h, nil
}
