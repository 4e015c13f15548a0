// Package demoapi is the starter's demo backend: the service its MCP tools
// call, over HTTP through proxy.Client, on behalf of the signed-in user. It
// is an ordinary http.Handler that verifies its own credentials, enforces
// each tool's scope itself, and keys every row it reads or writes by the
// verified subject, so that identity is proven again after crossing a real
// network hop. The starter mounts it at /demo; it can also run as a process
// of its own.
//
//	h, err := demoapi.New(demoapi.Config{
//		Verifier: v, // verifies the tokens the gateway signs for this backend
//		Store:    s,
//		PIISalt:  salt,
//	})
//	if err != nil { ... }
//	mux.Handle("/demo/", http.StripPrefix("/demo", h))
//
// # Routes
//
// Paths are relative to where the handler is mounted:
//
//   - GET (or HEAD) /health answers {"ok":true,"service":"demo-api"}, without
//     authentication.
//   - POST /{tool} calls a tool. The body is the tool's JSON arguments: an
//     object, "{}" or empty when the tool takes none, at most MaxBodyBytes;
//     a field the tool does not declare is refused, as its descriptor says
//     additionalProperties:false.
//
// A tool call is checked in this order, each step with its own answer:
//
//  1. the tool name must match ^[A-Za-z][A-Za-z0-9_]{0,63}$, else 404
//     {"ok":false,"error":"unknown_tool"} (the name is not echoed);
//  2. the method must be POST, else 405;
//  3. the bearer token must verify (identity.Middleware: 401 with an RFC 6750
//     challenge, 400 for a malformed request, 503 when keys are unavailable);
//  4. the tool must exist, else 404 {"ok":false,"error":"unknown_tool",
//     "toolName":...};
//  5. the token must carry the tool's scope (Tools lists them), else 403
//     {"ok":false,"error":"insufficient_scope","needed":[...]};
//  6. the body must be JSON of at most MaxBodyBytes with the tool's fields
//     (400, 413, 415 {"ok":false,"error":<code>,"message":<text>});
//  7. the tool runs; a storage failure is a 500
//     {"ok":false,"error":"internal_error"}, its details go to the log.
//
// # Responses
//
// Every tool answers with the TypeScript starter's field names and "ok"
// (true, except crmAttemptCrossUserRead, which explains its refusal in a 200
// with "ok":false), plus the short text the model should see, which that
// starter computed in its gateway. It is the "summary" string of every tool
// except crmGetSalesSummary, whose "summary" is already the sales object: its
// text is in "summary_text". ModelText reads either.
//
// # Who the caller is
//
// The backend never sees the user's own token: the gateway sends a token it
// signs for this backend (proxy.Signer), with iss = the gateway, aud = the
// backend, sub = the user's subject, scope = the user's scopes, and "email"
// and "name" copied from the user's token. Data is stored under
// store.UserKey(PIISalt, sub) and shown only as store.Label of that key.
//
// whoami describes the user's token as the gateway verified it. The gateway
// copies its facts into the token it signs under these claim names, which
// whoami reads, each falling back to the backend token's own claim when
// absent or malformed:
//
//	user_iss          the user's "iss"  (fallback: "iss")
//	user_aud          the user's "aud"  (fallback: "aud")
//	user_iat          the user's "iat"  (fallback: "iat")
//	user_exp          the user's "exp"  (fallback: "exp")
//	user_permissions  the user's Auth0 "permissions", an array
//	                  (fallback: "permissions", else [])
//
// The permissions travel as "user_permissions", not "permissions": a
// verifier reads "permissions" as scopes by default, and the backend's
// scopes must be only those the gateway granted in "scope".
//
// "scope" is the backend token's "scope": the user's scopes, possibly
// narrowed by the gateway.
//
// # Logs
//
// Each tool call logs one Debug record (tool, status, user label, request
// id) and each storage failure an Error record. The request id is the
// X-Request-Id header the gateway's proxy sends (a new one when absent or
// not visible ASCII of at most 128 bytes). No record ever holds a token or a
// raw subject.
package demoapi
