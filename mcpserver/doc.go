// Package mcpserver stands up an OAuth-protected MCP server on the official
// Go SDK (github.com/modelcontextprotocol/go-sdk) in which every request is
// tied to a verified user.
//
//	srv, err := mcpserver.New(mcpserver.Config{
//		Name:                 "crm",
//		PublicURL:            "https://api.example.com/mcp",
//		AuthorizationServers: []string{"https://tenant.example.com/"},
//		Verifier:             v, // identity.NewJWTVerifier with PublicURL as audience
//	})
//	mcpserver.AddTool(srv, &mcp.Tool{Name: "salesSummary"}, scopes.All("crm:read"),
//		func(ctx context.Context, req *mcp.CallToolRequest, in Query) (*mcp.CallToolResult, Summary, error) {
//			who := mcpserver.IdentityFrom(req)
//			return nil, summary(ctx, who.Subject, in), nil
//		})
//	hs := &http.Server{
//		Addr:              ":8080",
//		Handler:           srv.Handler(),
//		ReadHeaderTimeout: 10 * time.Second,
//		IdleTimeout:       2 * time.Minute,
//	}
//	log.Fatal(hs.ListenAndServe())
//
// Serve the handler from an http.Server with a ReadHeaderTimeout:
// http.ListenAndServe has no timeout, so a client trickling its headers
// would hold a connection for as long as it likes. Request bodies on the
// MCP endpoint are bounded by Config.BodyReadTimeout (30s by default; the
// deadline is lifted once the body is in); routes of your own on the same
// server want http.Server.ReadTimeout too. Leave WriteTimeout at zero:
// responses may be event streams that last for minutes.
//
// Each tool declares the scopes it needs where it is registered. A request
// to the MCP endpoint goes through, in order: audit (request id, one event
// per request), the Origin policy and CORS, a body-size limit, a
// per-address rate limit, bearer-token verification (401 challenges that
// point at the protected-resource metadata), a per-user rate limit, and a
// look at the JSON-RPC body: a tools/call the caller's scopes do not allow
// gets a real HTTP 403 with an insufficient_scope challenge, so that
// clients step up (Config.StepUpIncludeGrantedScopes makes the challenge
// name the scopes the caller holds too, for clients that replace theirs
// with the challenge's). Only then does go-sdk see the request. Inside MCP,
// tools/list shows each user only the tools they may call, and every call
// is checked once more with the identity of the request that carried it.
// Results that may differ per caller are marked cacheScope "private", so
// that no shared cache serves one user's answer to another: tools/list,
// and resources/read unless its handler (or ServerOptions.SetCacheable)
// marks the result "public" itself.
//
// A JSON-RPC batch (protocol 2025-03-26) carrying several tools/call
// messages costs the caller's rate limit one unit per call, as many
// requests would, and each of its calls is audited by an event of its own
// (status 0, the request's id), besides the request's one event.
//
// Sessions are bound to the user who opened them (issuer and subject);
// another user's token on that session is refused. A GET stream, verified
// once, ends when its token expires (Config.InsecureStreamsOutliveTokens
// lets it outlive the token); it opens with a priming event whose id the
// client sends back as Last-Event-ID to open the next stream with a fresh
// token. With Config.EventStore,
// a client resumes a lost stream (Last-Event-ID) within its session, so
// only its user can. Stateless mode serves several replicas behind a load
// balancer. A user holds a bounded number of sessions
// (Config.MaxSessionsPerUser) and of protocol 2026-07-28
// subscriptions/listen streams (Config.MaxListenStreamsPerUser) at once:
// one more ends their oldest.
//
// # Multi round-trip requests
//
// From protocol 2026-07-28 on (SEP-2322) a tool, prompt or resource
// handler that needs the user's input returns a result with InputRequests
// and, optionally, an opaque RequestState; the client retries the request
// with InputResponses and the RequestState echoed back. The retry is a
// request like any other: its token is verified, its tools/call checked
// against the caller's scopes and audited, and IdentityFrom
// (identity.FromContext in a prompt or resource handler) gives the retry's
// caller. But neither go-sdk nor idgate looks at RequestState or
// InputResponses: they reach the handler as the client sent them, from any
// client, and nothing ties them to the user whose call produced them. A
// handler must treat both as input from the caller, as it treats the
// arguments. One whose RequestState carries or names anything it relies on
// (a step reached, an approval given, the key of state kept on the server)
// must make it unforgeable and bind it to the caller: for instance an
// HMAC, under a key the replicas share, over the state, the caller (its
// Issuer and Subject), the tool and an expiry, checked on the retry before
// the state is used. Otherwise a user who obtains another's RequestState,
// or makes one up, can have the handler go on from a state that is not
// theirs.
//
// # Transport
//
// In the default mode (sessions, SSE answers, no EventStore, no
// ServerOptions.GetSessionID) the server keeps the session table itself and
// connects each session to go-sdk's own mcp.StreamableServerTransport. A
// plain call (tools/call, tools/list or ping: one message with an integer
// or plain string id and no _meta, on an initialized session, with an
// Mcp-Protocol-Version header before 2026-07-28) is read once, by the same
// scanner the scope check uses, and answered on an SSE stream written by
// idgate: the messages its handler sends in its context (logs,
// elicitation) and then its response, framed as go-sdk frames them.
// Calls of custom methods (mcp.AddReceivingCustomMethod) are answered the
// same way. Everything else goes to the session's go-sdk transport. The
// answers on the wire are go-sdk's (TestDirectTransportMatchesGoSDK and a
// fuzz target compare them), except that a call of a method the server
// does not know gets the server's JSON-RPC "method not found" error
// instead of go-sdk's 400; what changes is the cost: go-sdk's handler decodes
// each POST four times before its server sees it, each time allocating a
// 32 KiB buffer, which made up more than half of a plain call's CPU.
//
// Stateless (Config.Stateless, SSE or JSON answers), go-sdk's handler builds a
// session for every POST and decodes the body four times on the way; a
// plain call as above (from a client of a protocol version before
// 2026-07-28; without a version header it is served at 2025-03-26, as
// go-sdk serves it) is instead read once and handed to a session idgate
// opens for it alone, in the state go-sdk gives such a session
// (initialized at the request's version, log level "info"), and answered
// the same way, or with its response alone as application/json
// (Config.JSONResponse). A tools/call of protocol 2026-07-28 (SEP-2575,
// which go-sdk's and the TypeScript SDK v2's clients speak with a
// stateless server) is answered the same way when go-sdk would take it as
// it comes: the Mcp-Method and Mcp-Name headers match the body, its _meta
// names the version and the client's capabilities, it has no log level,
// and the tool was added with AddTool and binds no argument to an
// Mcp-Param-* header. Its session gets the initialize params the _meta
// carries, and the answer is go-sdk's: the server's name and resultType
// in the result, protocol errors as bare JSON with HTTP 400 or 404. So is
// a 2026-07-28 tools/list under the same conditions (but Mcp-Name), and
// the server/discover go-sdk's client sends first to every server.
// Everything else (custom methods, what go-sdk refuses) goes to go-sdk's
// handler. TestStatelessDirectMatchesGoSDK,
// TestStatelessJSONDirectMatchesGoSDK, TestStatelessNewProtocolMatchesGoSDK
// and their fuzz targets hold the two to the same answers on the wire; a
// stateless call costs about what a call on a session does, not four
// times as much (at 2026-07-28, not nine times).
//
// On either direct transport a plain tools/call does not go through the
// session's connection either: idgate hands it to the server's receiving
// method handler (idgate's middleware, then go-sdk's tool table and the
// tool), with its params decoded as go-sdk's session decodes them, and
// encodes the response as go-sdk's connection does. The session would
// decode the params twice more, allocating 32 KiB each time, and move the
// call through three goroutines. The tool's context is cancelled as
// go-sdk's would be: by the client's notifications/cancelled, not by the
// end of the call's HTTP request, and closing the session waits for it.
// The tool runs in its HTTP request's goroutine; if it panics, the panic
// ends that request (the audit middleware logs it). A handler that runs
// in a goroutine of go-sdk's (a message that goes go-sdk's way), where a
// panic would end the process, has its panic recovered by idgate's
// receiving middleware: logged redacted, audited, and answered with
// JSON-RPC's internal error. Middleware a
// program adds to MCPServer() wraps idgate's, so calls are dispatched
// this way only while idgate's middleware is the one go-sdk calls, which
// idgate checks on every message that goes through a session: add
// middleware before the server serves, as one added later is skipped
// until the next such message (at the latest the next initialize).
//
// Config.GoSDKTransport serves every request with go-sdk's
// StreamableHTTPHandler instead.
//
// The server publishes RFC 9728 protected-resource metadata computed from
// configuration and the declared tools, never from request headers. It
// never acts as an authorization server: /authorize, /token and /register
// are not served.
package mcpserver
