// Package identity turns a bearer token into a verified *Identity and
// protects net/http handlers with it.
//
// It has three parts that work apart or together:
//
//   - Verifiers: NewJWTVerifier checks JWT access tokens against the issuer's
//     JWKS (RFC 9068, RFC 8725); NewIntrospectionVerifier asks an RFC 7662
//     endpoint about opaque tokens. Both cache verified tokens until they
//     expire.
//   - Middleware: extracts the "Authorization: Bearer" token, verifies it,
//     puts the Identity in the request context (FromContext), and answers
//     failures with RFC 6750 / RFC 9728 challenges.
//   - Challenge: builds and parses WWW-Authenticate headers.
//
// Nothing here imports an MCP package: any Go HTTP service can use it.
//
// Secure defaults: an audience is required, "exp" is required, only
// asymmetric algorithms are accepted, "jku", "x5u", "jwk" and "x5c" headers
// are never followed, an unknown "kid" refetches the JWKS at most once per
// interval, tokens in the query string are refused, sender-constrained
// tokens ("cnf": DPoP or mutual-TLS bound) are not accepted as bearer
// tokens, and an introspection answer that names a refresh or ID token is
// refused though "active". Options that weaken
// any of this are named Insecure or Skip.
package identity
