package audit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/idgate/idgate/internal/textcut"
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
// layer set one: 2xx, 3xx and 101 (a protocol switched, the one final
// 1xx) → Allow, 429 → RateLimited, any other 4xx → Deny, 5xx → Error.
// Anything else (0, another 1xx, out of range) → Error.
func DecisionFromStatus(status int) Decision {
	switch {
	case status >= 200 && status < 400, status == http.StatusSwitchingProtocols:
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
	var f eventFields
	a.fields(&f, &e)
	if jh, ok := h.(*JSONHandler); ok && jh.fast && a.writeEvent(jh, t, &f) {
		return
	}
	// Collect the attributes first and add them at once: slog.Record then
	// allocates its overflow slice once instead of growing it.
	var buf [len(fieldKeys) + 3]slog.Attr
	attrs := buf[:0]
	for i, v := range f.str {
		if v != "" || i == decisionField {
			attrs = append(attrs, slog.String(fieldKeys[i], v))
		}
	}
	attrs = append(attrs,
		slog.Int("status", f.status),
		slog.Int64("duration_us", f.durationUS),
	)
	switch {
	case f.argsJSON != nil:
		attrs = append(attrs, slog.Any("args", json.RawMessage(f.argsJSON)))
	case f.hasArgs:
		attrs = append(attrs, slog.String("args", f.argsText))
	}
	r := slog.NewRecord(t, a.level, a.message, 0)
	r.AddAttrs(attrs...)
	if err := h.Handle(ctx, r); err != nil {
		a.writeFailed(err)
	}
}

// fieldKeys are the keys of eventFields.str, in the order Record writes
// them.
var fieldKeys = [...]string{"request_id", "http_method", "path", "sub", "iss", "client_id", "mcp_method", "tool", "decision", "reason"}

// decisionField is the index of "decision" in fieldKeys, the one string
// attribute written even when empty.
const decisionField = 8

// eventFields are the values Record writes for an Event.
type eventFields struct {
	str        [len(fieldKeys)]string // redacted and cut; "" (but decision): not written
	status     int
	durationUS int64
	hasArgs    bool
	argsJSON   []byte // the args' JSON, redacted, if written as JSON
	argsText   string // else what is written instead of them
}

// fields fills f with what Record writes for e.
func (a *Auditor) fields(f *eventFields, e *Event) {
	d := e.Decision
	if d == "" {
		d = DecisionFromStatus(e.Status)
	}
	for i, v := range [len(fieldKeys)]string{e.RequestID, e.HTTPMethod, e.Path, a.HashSubject(e.Subject),
		e.Issuer, e.ClientID, e.MCPMethod, e.Tool, string(d), e.Reason} {
		if v != "" {
			v = redact(v)
			if i != decisionField {
				v = truncate(v)
			}
		}
		f.str[i] = v
	}
	f.status = e.Status
	f.durationUS = e.Duration.Microseconds()
	if e.Args != nil {
		f.hasArgs = true
		f.argsJSON, f.argsText = a.encodeArgs(e.Args)
	}
}

// MaxAttrBytes is the most Record writes of a string field of an Event:
// longer values are cut at a character boundary and end in "…".
const MaxAttrBytes = 256

// truncate cuts s to at most MaxAttrBytes bytes plus the "…" that marks the
// cut.
func truncate(s string) string { return textcut.At(s, MaxAttrBytes) }

// encodeArgs encodes args as JSON for the "args" attribute. It returns the
// redacted JSON, or, when args cannot be written, the text written instead.
// A MarshalJSON that panics makes args unencodable: the panic would
// otherwise lose the request's event, and reach net/http's log with its
// value unredacted.
func (a *Auditor) encodeArgs(args any) (js []byte, text string) {
	b, err := marshalArgs(args)
	switch {
	case err != nil:
		return nil, "[unencodable]"
	case a.maxArgs >= 0 && len(b) > a.maxArgs:
		return nil, "[omitted: " + strconv.Itoa(len(b)) + " bytes]"
	}
	return redactBytes(b), ""
}

// marshalArgs is json.Marshal, with a panic turned into an error.
func marshalArgs(args any) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, errArgsPanicked
		}
	}()
	return json.Marshal(args)
}

// errArgsPanicked is marshalArgs's error for a panic.
var errArgsPanicked = errors.New("audit: encoding the arguments panicked")
