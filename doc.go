// Package idgate is a Go library for building MCP servers in which every
// request is tied to a real, verified user.
//
// An AI client (ChatGPT, Claude, an IDE) calls an MCP server on a person's
// behalf. idgate verifies that person's OAuth access token, enforces per-tool
// scopes with proper step-up challenges, calls backends on the user's behalf
// without leaking the token, rate-limits per user and writes an audit trail.
//
// This package holds only documentation; import the package for the job:
//
//   - [github.com/idgate/idgate/identity]: bearer token → verified Identity
//     (JWT via JWKS, or RFC 7662 introspection), net/http middleware, RFC 6750
//     and RFC 9728 challenges. Usable in any Go HTTP service, no MCP needed.
//   - [github.com/idgate/idgate/identity/identitytest]: a test issuer for your
//     own tests (keys, JWKS, discovery, token minting, rotation, introspection,
//     token exchange), like net/http/httptest.
//   - [github.com/idgate/idgate/scopes]: scope sets, all-of/any-of
//     requirements, hierarchies, a per-tool policy.
//   - [github.com/idgate/idgate/audit]: one structured log/slog event per
//     decision, request ids, hashed subjects, never a token.
//   - [github.com/idgate/idgate/proxy]: call a backend on the user's behalf by
//     forwarding (only to the token's own audience), RFC 8693 token exchange, or
//     a short-lived token the gateway signs.
//   - [github.com/idgate/idgate/mcpserver]: all of the above wired into the
//     official MCP Go SDK: tools declared with their scopes, 403 step-up before
//     dispatch, per-user tools/list, protected-resource metadata.
//
// examples/starter is a complete server to copy as a template.
package idgate
