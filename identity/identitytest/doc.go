// Package identitytest is a test OAuth 2.0 authorization server, shipped for
// use in tests the way net/http/httptest is: start an Issuer, mint tokens
// with it, and point a verifier at it.
//
//	iss := identitytest.NewIssuer(t)
//	tok := iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read"))
//	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{
//		Issuer:    iss.URL(),
//		Audiences: []string{iss.Audience()},
//	})
//
// An Issuer runs a real HTTP server (httptest) that serves:
//
//   - discovery: OpenID Connect "/.well-known/openid-configuration" and
//     RFC 8414 "/.well-known/oauth-authorization-server" (in its
//     path-inserted form when the issuer has a path);
//   - its JWKS, with one signing key to start with; Rotate adds keys and
//     RemoveKey withdraws them, SetJWKSAvailable simulates an outage;
//   - RFC 7662 introspection, for opaque tokens (MintOpaque) and for the JWTs
//     it minted, with Revoke to deactivate a token;
//   - an RFC 8693 token-exchange endpoint;
//   - with WithAuthorizationServer, an OAuth 2.1 authorization server for
//     development: authorization code with PKCE S256, RFC 7591 dynamic
//     client registration, refresh tokens, and a sign-in page ("Development
//     sign-in — not for production") where a person picks a demo user and
//     the scopes to grant. SignIn completes that page from a test or
//     script. WithAddr puts the issuer on a fixed loopback address, so that
//     a development server (such as the starter's -dev mode) can name it.
//
// Token options (Subject, Scopes, Audience, ExpiresIn, ...) shape the claims
// of a minted token; others forge the tokens an attacker would send (AlgNone,
// HS256WithPublicKey, ForeignKey, SigningAlgorithm, Header with "jku" or
// "crit") so that tests can prove a verifier refuses them. Counters
// (JWKSFetches, Requests, Introspections, Exchanges) let tests prove what a
// verifier did, or did not, fetch.
//
// The package depends on no other idgate package, so the tests of any
// package, identity included, may import it.
package identitytest
