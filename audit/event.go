package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"
)

// A Decision is what was decided about a request.
type Decision string

// The decisions an event can carry.
const (
	// Allow: the request was let through (it may still have failed later;
	// see the status).
	Allow Decision = "allow"
	// Deny: the request was refused (authentication, authorisation, origin,
	// or any other 4xx).
	Deny Decision = "deny"
	// RateLimited: the caller was over its rate limit (429).
	RateLimited Decision = "rate_limited"
	// Error: the server failed (5xx or a panic).
	Error Decision = "error"
)

// DecisionFromStatus is the decision an HTTP status implies, used when no
// layer set one: 2xx and 3xx → Allow, 429 → RateLimited, any other 4xx →
// Deny, 5xx → Error. Anything else (0, 1xx, out of range) → Error.
func DecisionFromStatus(status int) Decision {
	switch {
	case status >= 200 && status < 400:
		return Allow
	case status == 429:
		return RateLimited
	case status >= 400 && status < 500:
		return Deny
	default:
		return Error
	}
}

// An Event is one audited request. Middleware builds it from an Entry;
// Record writes it.
//
// Never put a token in any field: the package never needs one (Record still
// redacts anything that looks like a JWT, as a second line of defence).
// Several fields can carry what a caller chose (the tool name, the JSON-RPC
// method): Record writes at most MaxAttrBytes of each string field.
type Event struct {
	// Time is when the request started; it becomes the time of the slog
	// record. Zero means the moment Record is called.
	Time time.Time
	// RequestID identifies the request (see RequestID). Attribute
	// "request_id".
	RequestID string
	// HTTPMethod and Path are the request's method and URL path, without
	// the query string. Attributes "http_method" and "path".
	HTTPMethod, Path string
	// Subject is the RAW subject ("sub" claim) of the caller. Record writes
	// only its keyed hash (Auditor.HashSubject), never the raw value.
	// Attribute "sub".
	Subject string
	// Issuer and ClientID say who issued the caller's token and for which
	// OAuth client. Attributes "iss" and "client_id".
	Issuer, ClientID string
	// MCPMethod is the JSON-RPC method ("tools/call") and Tool the tool
	// name, for MCP requests. Attributes "mcp_method" and "tool".
	MCPMethod, Tool string
	// Decision is what was decided. Empty means DecisionFromStatus(Status).
	// Attribute "decision".
	Decision Decision
	// Reason is a short fixed code saying why, such as "invalid_token",
	// "insufficient_scope", "rate_limited", "origin" or "panic"; never free
	// text, never a token. Attribute "reason".
	Reason string
	// Status is the HTTP status sent. Attribute "status".
	Status int
	// Duration is how long the request took. Attribute "duration_us": a
	// whole number of microseconds (an integer, which slog's JSON handler
	// writes far more cheaply than a float).
	Duration time.Duration
	// Args are a tool's arguments, set only when the tool opted in and after
	// its redaction hook ran. Written as JSON (attribute "args") if they
	// encode to at most Config.MaxArgsBytes; nil means no attribute.
	Args any
}

// Record writes e as one slog record at the configured level and message,
// with the attributes, in order: request_id, http_method, path, sub (the
// keyed hash of e.Subject), iss, client_id, mcp_method, tool, decision,
// reason, status, duration_us, args. String attributes that are empty are
// left out, and so is args when nil; decision, status and duration_us are
// always written. Every JWT-looking part of a string value or of the args'
// JSON is replaced by "[redacted]", and string values longer than
// MaxAttrBytes are cut.
//
// ctx is passed to the slog handler (which may read trace ids from it).
func (a *Auditor) Record(ctx context.Context, e Event) {
	h := a.logger.Handler()
	if !h.Enabled(ctx, a.level) {
		return
	}
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	d := e.Decision
	if d == "" {
		d = DecisionFromStatus(e.Status)
	}
	// Collect the attributes first and add them at once: slog.Record then
	// allocates its overflow slice once instead of growing it.
	var buf [13]slog.Attr
	attrs := buf[:0]
	str := func(key, value string) {
		if value != "" {
			attrs = append(attrs, slog.String(key, truncate(redact(value))))
		}
	}
	str("request_id", e.RequestID)
	str("http_method", e.HTTPMethod)
	str("path", e.Path)
	str("sub", a.HashSubject(e.Subject))
	str("iss", e.Issuer)
	str("client_id", e.ClientID)
	str("mcp_method", e.MCPMethod)
	str("tool", e.Tool)
	attrs = append(attrs, slog.String("decision", redact(string(d))))
	str("reason", e.Reason)
	attrs = append(attrs,
		slog.Int("status", e.Status),
		slog.Int64("duration_us", e.Duration.Microseconds()),
	)
	if e.Args != nil {
		attrs = append(attrs, a.argsAttr(e.Args))
	}
	r := slog.NewRecord(t, a.level, a.message, 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r) // a failing log sink has nowhere better to report to
}

// MaxAttrBytes is the most Record writes of a string field of an Event:
// longer values are cut at a character boundary and end in "…".
const MaxAttrBytes = 256

// truncate cuts s to at most MaxAttrBytes bytes plus the "…" that marks the
// cut.
func truncate(s string) string {
	if len(s) <= MaxAttrBytes {
		return s
	}
	cut := MaxAttrBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// argsAttr encodes args as JSON for the "args" attribute.
func (a *Auditor) argsAttr(args any) slog.Attr {
	b, err := json.Marshal(args)
	switch {
	case err != nil:
		return slog.String("args", "[unencodable]")
	case a.maxArgs >= 0 && len(b) > a.maxArgs:
		return slog.String("args", "[omitted: "+strconv.Itoa(len(b))+" bytes]")
	}
	return slog.Any("args", json.RawMessage(redactBytes(b)))
}
