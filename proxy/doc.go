// Package proxy calls a backend on a verified user's behalf.
//
// A Credential decides how a backend request is credentialed for the user.
// There are three, and the choice is the point of this package (SPEC 22: a
// backend only ever receives a token whose audience names it):
//
//   - Forward sends the user's own token, and only when the backend is one of
//     the token's audiences. Anything else fails with ErrAudienceMismatch
//     before a request is made.
//   - Exchange trades the user's token for one issued for the backend, at the
//     authorization server's RFC 8693 token-exchange endpoint. Results are
//     cached per user token until shortly before they expire, and concurrent
//     misses for the same token share one exchange.
//   - Signer mints a short-lived JWT for the backend, signed by the gateway,
//     and publishes its public key as a JWKS the backend verifies against.
//     With SignerConfig.ReuseFor it sends a token again to the same
//     identity for part of its lifetime, which spares a signature per call
//     here and a signature check per call at the backend.
//
// A Client joins paths onto a fixed base URL so that no path can leave it,
// applies the Credential, bounds every call with a timeout and a response
// size limit, propagates a request id, and returns non-2xx answers as *Error
// with the backend's (bounded) body, so that a tool can tell the model what
// went wrong. Transport offers the same credentials to an ordinary
// *http.Client.
//
// The shortest use, inside a handler protected by identity.Middleware:
//
//	backend, err := proxy.New(proxy.Config{
//		BaseURL:    "https://crm.internal.example.com/api/",
//		Credential: proxy.Forward("https://crm.internal.example.com/"),
//	})
//	...
//	id, _ := identity.FromContext(r.Context())
//	var summary Summary
//	err = backend.Do(r.Context(), id, http.MethodGet, "sales/summary", nil, &summary)
//
// No token ever appears in an error string: errors name the method, the URL
// without its query, the status and a short, redacted snippet of the body.
package proxy
