package identity

import (
	"encoding/base64"
	"encoding/json"
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
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// checkHeader checks the token's shape and header: three parts, a decodable
// header, an allowed "alg", no "crit", and the required "typ". It does no
// cryptography and fetches nothing.
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
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(head)
	if err != nil {
		return h, jwtErrorf(ErrMalformedToken, "header is not base64url")
	}
	if err := json.Unmarshal(raw, &h); err != nil {
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
