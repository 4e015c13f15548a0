package identity

import "errors"

// Sentinel errors. Every error a Verifier or the middleware returns wraps
// exactly one of them; test with errors.Is. Their texts are short and fixed,
// safe to show a client; the wrapping error may carry details for logs (never
// a token).
var (
	// ErrMissingToken: the request carries no bearer token.
	ErrMissingToken = errors.New("missing bearer token")
	// ErrInvalidRequest: the request is malformed (token in the query string,
	// sent two ways, or "Bearer" with no token). Answered with 400.
	ErrInvalidRequest = errors.New("malformed authorization request")
	// ErrMalformedToken: the token is not a well-formed JWS.
	ErrMalformedToken = errors.New("malformed token")
	// ErrEncryptedToken: the token is an encrypted JWT (JWE, five parts).
	// The authorization server must be configured to issue signed (JWS)
	// access tokens for this API; in Auth0, that means creating an API and
	// requesting its identifier as the audience.
	ErrEncryptedToken = errors.New("encrypted token (JWE) not supported: configure the authorization server to issue signed JWT access tokens for this resource")
	// ErrOpaqueToken: the token is not a JWT at all (an opaque reference
	// token) but was given to a JWT verifier. Use introspection for these.
	ErrOpaqueToken = errors.New("opaque token given to a JWT verifier")
	// ErrExpired: the token's "exp" is in the past (beyond the leeway).
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: the token's "nbf" (or "iat") is in the future.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrMissingClaim: a required claim ("exp", "sub", "aud", "iss") is absent.
	ErrMissingClaim = errors.New("token lacks a required claim")
	// ErrBadIssuer: "iss" is not the configured issuer.
	ErrBadIssuer = errors.New("token issuer not accepted")
	// ErrBadAudience: "aud" names none of the accepted audiences.
	ErrBadAudience = errors.New("token audience not accepted")
	// ErrBadType: the "typ" header is not the one required, or an
	// introspection response says the token is not an access token (a
	// refresh token or an ID token, which some authorization servers
	// introspect as active too).
	ErrBadType = errors.New("token type not accepted")
	// ErrBoundToken: the token is sender-constrained (it has a "cnf"
	// claim, RFC 7800: DPoP, RFC 9449, or mutual TLS, RFC 8705) and was
	// sent as a bearer token. Only the holder of the bound key may use
	// such a token, and a bearer request proves nothing about the key, so
	// accepting it would turn a stolen bound token back into a bearer one
	// (RFC 9449 §7.2).
	ErrBoundToken = errors.New("sender-constrained token not accepted as a bearer token")
	// ErrBadAlgorithm: the signing algorithm is not allowed, or does not fit
	// the key.
	ErrBadAlgorithm = errors.New("token signing algorithm not accepted")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("token signature invalid")
	// ErrUnknownKey: no key with the token's "kid" is published by the
	// issuer, even after a refetch.
	ErrUnknownKey = errors.New("token signing key unknown")
	// ErrUnsupportedHeader: the header names a critical extension ("crit")
	// this verifier does not understand.
	ErrUnsupportedHeader = errors.New("token header not supported")
	// ErrInactive: introspection says the token is not active.
	ErrInactive = errors.New("token not active")
	// ErrKeysUnavailable: no signing key can be had at all (the issuer's
	// JWKS is unreachable and nothing is cached). The token was not judged:
	// answer 503, not 401, so the client keeps it.
	ErrKeysUnavailable = errors.New("signing keys unavailable")
	// ErrVerifierUnavailable: an introspection endpoint or other dependency
	// failed, so the token was not judged. The request fails closed (503).
	ErrVerifierUnavailable = errors.New("token verifier unavailable")
)

// Unavailable reports whether err means the token could not be judged
// (ErrKeysUnavailable or ErrVerifierUnavailable), as opposed to judged bad.
func Unavailable(err error) bool {
	return errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrVerifierUnavailable)
}
