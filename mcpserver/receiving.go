package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/internal/textcut"
	"github.com/idgate/idgate/scopes"
)

// cacheScopePrivate is the MCP cacheScope of results that depend on the
// caller.
const cacheScopePrivate = "private"

// privateReads returns the ServerOptions.SetCacheable idgate gives
// go-sdk: set (the program's own, may be nil) first, then a
// resources/read result whose scope is still unset is marked private.
//
// Such a result is produced per call by the resource's handler, which
// sees the caller (identity.FromContext) and may well answer each user
// differently; go-sdk would mark it "public", which lets a shared cache
// (a gateway) serve one user's answer to another. idgate cannot tell, so
// it takes the safe side; a handler (or set) whose answer is the same
// for everyone says "public" itself. The lists, prompts/list,
// resources/list and resources/templates/list, and server/discover are
// the same for every caller (idgate filters tools/list alone, which
// filterTools marks private), and keep go-sdk's "public". Tool results
// carry no cache fields.
func privateReads(set func(context.Context, mcp.Request, *mcp.Cacheable)) func(context.Context, mcp.Request, *mcp.Cacheable) {
	return func(ctx context.Context, req mcp.Request, c *mcp.Cacheable) {
		if set != nil {
			set(ctx, req, c)
		}
		if _, read := req.(*mcp.ReadResourceRequest); read && c.CacheScope == "" {
			c.CacheScope = cacheScopePrivate
		}
	}
}

// receiving is the go-sdk receiving middleware idgate installs on its
// mcp.Server. It works on every message, whatever HTTP path it came by:
//
//   - tools/list: drops the tools the caller's scopes do not allow (and any
//     tool not declared with AddTool), and marks the result private: go-sdk
//     marks list results publicly cacheable by default, which a per-user
//     list is not;
//   - tools/call: refuses a tool not declared with AddTool, checks the
//     caller's scopes again, and fills the audit entry of the HTTP request
//     that carried the call (tool, arguments when the tool opted in,
//     outcome);
//   - every message: the handler's context carries the identity and the
//     audit entry of the HTTP request that carried the message
//     (withCaller).
func (s *Server) receiving(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (res mcp.Result, err error) {
		if s.relater != nil {
			ctx = s.relater.relate(ctx, req)
		}
		ctx = withCaller(ctx, req)
		defer func() {
			if p := recover(); p != nil {
				res, err = nil, s.handlerPanicked(ctx, method, req, p)
			}
		}()
		switch method {
		case "tools/list":
			res, err := next(ctx, method, req)
			if lr, ok := res.(*mcp.ListToolsResult); ok && err == nil {
				s.filterTools(lr, identityOf(req))
			}
			return res, err
		case "tools/call":
			if creq, ok := req.(*mcp.CallToolRequest); ok {
				return s.call(ctx, method, creq, next)
			}
		}
		return next(ctx, method, req)
	}
}

// handlerPanicked deals with the panic p of the handler of a message
// (method) that go-sdk's session handed the server, in a goroutine of
// go-sdk's, where a panic would end the process: on a stateless server
// before its first message had gone go-sdk's way (calls are dispatched
// only then), with Config.GoSDKTransport or JSON answers on sessions, or
// with middleware wrapping idgate's. It logs the panic (redacted, with
// its stack), records it in the message's audit entry, and returns the
// error the client gets: JSON-RPC's internal error, saying nothing of
// the panic. A call dispatched in its HTTP request's goroutine (see
// dispatch.go) panics on, as before: the audit middleware recovers it and
// ends that request.
func (s *Server) handlerPanicked(ctx context.Context, method string, req mcp.Request, p any) error {
	if dc, ok := ctx.Value(directCallKey{}).(*directCall); ok && dc.own {
		panic(p)
	}
	entry := auditEntryOf(req)
	if entry == nil {
		entry = audit.EntryFrom(ctx)
	}
	out := audit.Outcome{MCPMethod: method, Decision: audit.Error, Reason: "panic"}
	if creq, ok := req.(*mcp.CallToolRequest); ok {
		out.Tool = toolName(creq)
	}
	entry.SetOutcome(out)
	tok := callerToken(ctx, req)
	s.cfg.Logger.LogAttrs(ctx, slog.LevelError, "mcpserver: handler panicked",
		slog.String("mcp_method", textcut.At(method, 1<<10)),
		slog.String("panic", textcut.At(redactToken(audit.Redact(fmt.Sprint(p)), tok), 1<<10)),
		slog.String("stack", textcut.At(redactToken(audit.Redact(string(debug.Stack())), tok), 32<<10)))
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "internal error"}
}

// callerToken returns the raw token of the caller of req ("" when none).
func callerToken(ctx context.Context, req mcp.Request) string {
	id := identityOf(req)
	if id == nil {
		id, _ = identity.FromContext(ctx)
	}
	if id == nil {
		return ""
	}
	return id.Token()
}

// redactToken returns s with every copy of tok replaced by "[redacted]",
// for the text of a panic, which may quote the request (its headers, or
// the token itself): audit.Redact recognises JWTs only, not an opaque
// token. A token shorter than 8 bytes is left: replacing it wherever it
// occurs would garble the text more than it hides.
func redactToken(s, tok string) string {
	if len(tok) < 8 {
		return s
	}
	return strings.ReplaceAll(s, tok, "[redacted]")
}

// withCaller returns ctx with the identity of the token that came with req
// (withCallerIdentity) and the audit entry of the HTTP request that
// carried it, when ctx carries others: a handler's audit.EntryFrom(ctx)
// then records into that request's event, not into the already written
// one of the request that opened the session. A call dispatched in its
// request's goroutine carries both already (callContext), at no cost.
func withCaller(ctx context.Context, req mcp.Request) context.Context {
	ctx = withCallerIdentity(ctx, req)
	ctx = withSDKTokenInfo(ctx, req)
	if e := auditEntryOf(req); e != nil && audit.EntryFrom(ctx) != e {
		ctx = audit.ContextWithEntry(ctx, e)
	}
	return ctx
}

// withCallerIdentity returns ctx with the identity of the token that came
// with req (identityOf), when ctx carries another. A stateful session's
// handlers run in the context of the request that opened the session, so
// identity.FromContext there gave that request's identity: the same user
// (the session is bound to it), but an earlier token, with its scopes and
// expiry, which code taking the caller from the context (proxy.Transport,
// say) would have acted for. Where ctx already carries req's identity (a
// stateless call; a session whose token has not changed, the identity
// coming from the verifier's cache) it costs a lookup and allocates
// nothing.
func withCallerIdentity(ctx context.Context, req mcp.Request) context.Context {
	id := identityOf(req)
	if id == nil {
		return ctx
	}
	if cur, ok := identity.FromContext(ctx); ok && cur == id {
		return ctx
	}
	return identity.NewContext(ctx, id)
}

// filterTools keeps in lr the tools id may call, and marks lr private.
func (s *Server) filterTools(lr *mcp.ListToolsResult, id *identity.Identity) {
	var granted scopes.Set
	if id != nil {
		granted = id.Scopes
	}
	kept := make([]*mcp.Tool, 0, len(lr.Tools))
	for _, t := range lr.Tools {
		if s.policy.Allows(t.Name, granted) {
			kept = append(kept, t)
		}
	}
	lr.Tools = kept
	lr.CacheScope = cacheScopePrivate
}

// call checks and audits one tools/call.
func (s *Server) call(ctx context.Context, method string, req *mcp.CallToolRequest, next mcp.MethodHandler) (mcp.Result, error) {
	entry := auditEntryOf(req)
	if entry == nil {
		// Stateless mode without auth: the context is the request's own.
		// (In stateful mode it is the one of the request that opened the
		// session, whose entry is already written: calls on it are no-ops.)
		entry = audit.EntryFrom(ctx)
	}
	out := audit.Outcome{MCPMethod: method, Tool: toolName(req)}
	if b := batchOf(req); b != nil {
		// The request's one event would name one call of the batch: each
		// call gets an event of its own besides.
		b.start(out.Tool)
		start := time.Now()
		defer func() { s.recordBatchCall(ctx, &out, start) }()
	}
	if dc, ok := ctx.Value(directCallKey{}).(*directCall); ok && dc.own {
		// A call dispatched in its request's goroutine, alone in its
		// request: named now, for the audit middleware's event if it
		// panics. (The calls of a batch, which go go-sdk's way, each
		// record their outcome whole: see audit.Entry.SetOutcome.)
		entry.SetMCP(out.MCPMethod, out.Tool)
	}
	if err := s.checkCall(out.Tool, req); err != nil {
		out.Decision, out.Reason = audit.Deny, "unknown_tool"
		if err.Code == CodeInsufficientScope {
			out.Reason = identity.ErrorCodeInsufficientScope
		}
		entry.SetOutcome(out)
		return nil, err
	}
	if o, ok := s.toolOpts.Load(out.Tool); ok && o.(*toolOptions).auditArgs && entry != nil {
		out.Args = auditArgs(req.Params.Arguments, o.(*toolOptions).redact)
	}
	res, err := next(ctx, method, req)
	switch cr, _ := res.(*mcp.CallToolResult); {
	case err != nil:
		out.Decision, out.Reason = audit.Error, "tool_failed"
	case cr != nil && cr.IsError:
		out.Decision, out.Reason = audit.Error, "tool_error"
	default:
		out.Decision = audit.Allow
	}
	entry.SetOutcome(out)
	return res, err
}

// recordBatchCall writes the audit event of one tools/call of a JSON-RPC
// batch: the request's id, method and path, the caller, the call's tool,
// decision, reason and arguments (when the tool opted in), and how long
// the call took; status 0, as a call has no HTTP status of its own. The
// request's own event is written as for any request, and names the
// batch's first call refused or failed, else its last.
func (s *Server) recordBatchCall(ctx context.Context, out *audit.Outcome, start time.Time) {
	ev := audit.Event{
		Time:       start,
		RequestID:  audit.RequestID(ctx),
		HTTPMethod: http.MethodPost,
		Path:       s.cfg.mcpPath,
		MCPMethod:  out.MCPMethod,
		Tool:       out.Tool,
		Decision:   out.Decision,
		Reason:     out.Reason,
		Duration:   time.Since(start),
		Args:       out.Args,
	}
	if ev.Decision == "" {
		ev.Decision, ev.Reason = audit.Error, "panic" // the deferred call runs as the panic goes by
	}
	if id, ok := identity.FromContext(ctx); ok {
		ev.Subject, ev.Issuer, ev.ClientID = id.Subject, id.Issuer, id.ClientID
	}
	s.cfg.Audit.Record(ctx, ev)
}

// toolName returns the tool req calls, "" when it names none.
func toolName(req *mcp.CallToolRequest) string {
	if req.Params == nil {
		return ""
	}
	return req.Params.Name
}

// auditArgs decodes raw tool arguments for the audit and applies redact.
func auditArgs(raw json.RawMessage, redact func(map[string]any) map[string]any) any {
	args := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &args); err != nil {
			return "[undecodable]"
		}
	}
	if redact != nil {
		args = redact(args)
	}
	return args
}
