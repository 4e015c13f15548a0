// Package audit writes one structured event per request through log/slog:
// who asked (a keyed hash of the subject, never the raw value), what they
// asked for, what was decided (allow, deny, rate_limited, error), why, the
// HTTP status and how long it took. It also gives every request an id and
// recovers from panics.
//
// It depends only on the standard library, so any Go HTTP service can use
// it:
//
//	aud, err := audit.New(audit.Config{
//		Logger:     slog.New(audit.NewJSONHandler(os.Stderr, nil)), // or any slog.Logger
//		SubjectKey: key, // ≥16 random bytes, kept secret
//	})
//	if err != nil {
//		return err
//	}
//	hs := &http.Server{Addr: ":8080", Handler: aud.Middleware(mux), ReadHeaderTimeout: 10 * time.Second}
//	log.Fatal(hs.ListenAndServe())
//
// Middleware belongs at the front of the handler chain. It puts an *Entry in
// the request context; inner layers fill it (EntryFrom(ctx).SetIdentity,
// SetMCP, SetDecision, SetArgs) and the middleware writes the event once the
// request is done. An operation that may run several times in one request
// (the calls of a JSON-RPC batch) records itself whole with SetOutcome, so
// that the first refusal or failure stands. Code that serves a request's
// operation in another context (an MCP session's handler) is given the
// request's entry with ContextWithEntry. Layers that set nothing still
// produce a useful event: the
// decision is derived from the status (DecisionFromStatus) and, for a 401 or
// 403, the reason from the RFC 6750 error code in the WWW-Authenticate
// challenge. Outside of Middleware, Auditor.Record writes an Event directly.
//
// An event line written by a JSON handler looks like this (one line,
// wrapped here):
//
//	{"time":"...","level":"INFO","msg":"audit","request_id":"4f1c...",
//	 "http_method":"POST","path":"/mcp","sub":"9b2e...","iss":"https://issuer.example/",
//	 "client_id":"cli","mcp_method":"tools/call","tool":"notes.add",
//	 "decision":"deny","reason":"insufficient_scope","status":403,"duration_us":1250}
//
// # Speed
//
// Record builds a slog.Record and hands it to the Logger's handler, which
// costs about 1.5 µs per event with slog's JSON handler. A JSONHandler
// (NewJSONHandler) writes the same bytes as slog's JSON handler, for events
// and for any other record, and lets Record encode events itself: about
// 0.4 µs and no allocation. Use it wherever slog.NewJSONHandler would do.
//
// # Tokens
//
// The package never receives a token and callers must not put one in an
// Event, a reason or tool arguments. As a second line of defence Record
// replaces every JWT-looking part of a string attribute or of the arguments'
// JSON (three base64url segments joined by dots, the first starting with
// "eyJ") with "[redacted]", and Middleware never writes the query string,
// where a misbehaving client may have put its token, nor a request id that
// is the request's credential. Redact applies the same redaction to any
// text about to be logged.
package audit
