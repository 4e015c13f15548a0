package audit

import (
	"context"
	"sync"

	"github.com/idgate/idgate/internal/reqctx"
)

// An Entry collects what the layers of one request learn about it; when the
// request is done Middleware writes it as an Event. Get it with EntryFrom.
//
// Its methods but Status are safe for concurrent use (a tool handler may
// run on another goroutine) and do nothing on a nil *Entry, so a layer can call
// EntryFrom(ctx).SetX(...) whether or not Middleware is installed. Calls made
// after the event was written are ignored.
type Entry struct {
	rq        *request // the request it belongs to, set by Middleware
	mu        sync.Mutex
	written   bool
	subject   string
	issuer    string
	clientID  string
	mcpMethod string
	tool      string
	decision  Decision
	reason    string
	args      any
}

// EntryFrom returns the Entry that Middleware put in ctx, or nil when there
// is none (no Middleware, or a request it does not record). Every method of
// a nil *Entry does nothing.
func EntryFrom(ctx context.Context) *Entry {
	e, _ := ctx.Value(reqctx.EntryKey{}).(*Entry)
	return e
}

// ContextWithEntry returns a copy of ctx in which EntryFrom returns e, and
// RequestID the id of the request e belongs to: for code that serves one
// operation of a request in a context that is not the request's own (an
// MCP session's handler runs in the context of the request that opened
// the session), so that what it records goes to the event of the request
// that carried the operation, and what it sends on (proxy.Config's
// RequestID) carries that request's id.
func ContextWithEntry(ctx context.Context, e *Entry) context.Context {
	return &entryContext{Context: ctx, e: e}
}

// entryContext is ContextWithEntry's context: one node for the entry and
// its request's id.
type entryContext struct {
	context.Context
	e *Entry
}

func (c *entryContext) Value(key any) any {
	switch key.(type) {
	case reqctx.EntryKey:
		return c.e
	case reqctx.RequestIDKey:
		if c.e != nil && c.e.rq != nil {
			return c.e.rq.id
		}
	}
	return c.Context.Value(key)
}

// SetIdentity records who the caller is: the raw subject (it is hashed when
// written), the token's issuer and the OAuth client id.
func (e *Entry) SetIdentity(subject, issuer, clientID string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.written {
		e.subject, e.issuer, e.clientID = subject, issuer, clientID
	}
}

// SetMCP records the JSON-RPC method and, for "tools/call", the tool name.
func (e *Entry) SetMCP(method, tool string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.written {
		e.mcpMethod, e.tool = method, tool
	}
}

// SetDecision records the decision and a short fixed reason code (see
// Event.Reason). The last call wins. Without any call the decision is
// derived from the status (DecisionFromStatus).
func (e *Entry) SetDecision(d Decision, reason string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.written {
		e.decision, e.reason = d, reason
	}
}

// Decision returns the decision and reason recorded so far with
// SetDecision ("" and "" when none was, or e is nil). A layer that wraps
// another handler reads it before and after that handler to learn whether
// the handler decided.
func (e *Entry) Decision() (Decision, string) {
	if e == nil {
		return "", ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.decision, e.reason
}

// An Outcome is what one operation of a request came to, for
// Entry.SetOutcome.
type Outcome struct {
	// MCPMethod and Tool are the JSON-RPC method and, for "tools/call",
	// the tool name, as SetMCP records them.
	MCPMethod, Tool string
	// Args are the tool's arguments, as SetArgs records them; nil
	// records none.
	Args any
	// Decision and Reason are as SetDecision records them.
	Decision Decision
	Reason   string
}

// SetOutcome records o, unless the entry holds a refusal or a failure
// already (a decision other than Allow or none), which then stands with
// the method, tool and arguments recorded with it. A request that carries
// several operations (the calls of a JSON-RPC batch, which may run
// concurrently) is so audited by its first call refused or failed, else
// by its last call, and never by a mix of two: a refusal is not hidden by
// a later call that was allowed.
func (e *Entry) SetOutcome(o Outcome) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.written || e.decision != "" && e.decision != Allow {
		return
	}
	e.mcpMethod, e.tool, e.decision, e.reason = o.MCPMethod, o.Tool, o.Decision, o.Reason
	e.args = o.Args
}

// SetArgs records a tool's arguments, to be written as JSON. Call it only for
// tools that opted in, with arguments their redaction hook already cleaned.
func (e *Entry) SetArgs(v any) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.written {
		e.args = v
	}
}

// Status returns the final status sent so far through the ResponseWriter
// Middleware gave the handlers (200 once a body was written without one),
// or 0 when nothing was sent yet or e is nil. A layer that wraps another
// handler reads it after that handler returned to learn how the request
// ended, without a ResponseWriter of its own around it. Unlike the other
// methods it reads the ResponseWriter's state without a lock: call it
// from the goroutine that serves the request, as ResponseWriter methods
// are.
func (e *Entry) Status() int {
	if e == nil || e.rq == nil || !e.rq.w.wroteHeader {
		return 0
	}
	return e.rq.w.status
}

// finish marks e written and copies its fields into ev. Later Set calls are
// ignored.
func (e *Entry) finish(ev *Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.written = true
	ev.Subject, ev.Issuer, ev.ClientID = e.subject, e.issuer, e.clientID
	ev.MCPMethod, ev.Tool = e.mcpMethod, e.tool
	ev.Decision, ev.Reason = e.decision, e.reason
	ev.Args = e.args
}
