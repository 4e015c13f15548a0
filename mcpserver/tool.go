package mcpserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/scopes"
)

// A ToolOption configures one tool registered with AddTool.
type ToolOption func(*toolOptions)

type toolOptions struct {
	auditArgs bool
	redact    func(args map[string]any) map[string]any
	// headerBound: the tool's input schema binds arguments to Mcp-Param-*
	// headers (paramHeaderBound).
	headerBound bool
}

// AuditArgs records the tool's arguments in its audit events (Config.Audit).
// Arguments are never recorded unless the tool opts in with this option.
// redact, when not nil, gets the arguments decoded afresh for the audit
// (the handler never sees this copy, so it may be modified in place) and
// returns what is recorded: drop or mask anything sensitive there. With a
// nil redact the arguments are recorded as sent.
func AuditArgs(redact func(args map[string]any) map[string]any) ToolOption {
	return func(o *toolOptions) {
		o.auditArgs = true
		o.redact = redact
	}
}

// AddTool registers a tool whose callers must satisfy need, next to its
// typed handler (see mcp.AddTool for how In and Out become JSON schemas and
// how errors are reported).
//
// need is required: a tool cannot be registered without saying what it
// needs; use scopes.Public() for a tool any authenticated user may call.
// AddTool panics when need is nil or names an invalid scope, and when
// mcp.AddTool panics (an invalid schema).
//
// For the common shape of tool (In a struct or a pointer to one, t's
// schemas unset or given in any form) AddTool does what go-sdk's
// typed wrapper does itself — the same schemas, defaults, validation,
// decoding and results —
// without the 32 KiB decoder buffers go-sdk allocates per call (two for
// the arguments, one more for a typed output), about a quarter of what a
// tools/call allocates.
//
// The scope check happens three times, so that no path skips it: before
// dispatch at the HTTP layer (a real 403 with an insufficient_scope
// challenge, which makes clients step up), in the MCP receiving middleware,
// and in the handler wrapper, each time with the identity of the request
// that carried the call (IdentityFrom). tools/list shows each caller only
// the tools its scopes allow. Adding a tool updates the protected-resource
// metadata's scopes_supported and the scope of 401 challenges.
func AddTool[In, Out any](s *Server, t *mcp.Tool, need scopes.Requirement, h mcp.ToolHandlerFor[In, Out], opts ...ToolOption) {
	if t == nil || t.Name == "" {
		panic("mcpserver: AddTool: tool without a name")
	}
	if need == nil {
		panic(fmt.Sprintf("mcpserver: AddTool %q: nil requirement: say what the tool needs (scopes.Public() for no scope)", t.Name))
	}
	if h == nil {
		panic(fmt.Sprintf("mcpserver: AddTool %q: nil handler", t.Name))
	}
	for _, sc := range need.Scopes() {
		if !scopes.ValidScope(sc) {
			panic(fmt.Sprintf("mcpserver: AddTool %q: invalid scope %q (RFC 6749: printable ASCII, no spaces, quotes or backslashes)", t.Name, sc))
		}
	}
	var o toolOptions
	for _, opt := range opts {
		opt(&o)
	}
	// An inferred schema binds nothing: only a schema given can.
	o.headerBound = paramHeaderBound(t.InputSchema)
	name := t.Name
	wrapped := func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		if err := s.checkCall(name, req); err != nil {
			var zero Out
			return nil, zero, err // a *jsonrpc.Error: go-sdk sends it as is
		}
		return h(ctx, req, in)
	}

	// Declare first, so that the tool is never callable without its
	// requirement; undo it if go-sdk refuses the tool.
	prev, hadPrev := s.policy.Requirement(name)
	prevOpts, _ := s.toolOpts.Load(name)
	if err := s.policy.Require(name, need); err != nil {
		panic("mcpserver: AddTool: " + err.Error())
	}
	s.toolOpts.Store(name, &o)
	defer func() {
		if p := recover(); p != nil {
			if hadPrev {
				_ = s.policy.Require(name, prev)
				s.toolOpts.Store(name, prevOpts)
			} else {
				s.policy.Remove(name)
				s.toolOpts.Delete(name)
			}
			s.policyChanged()
			panic(p)
		}
	}()
	s.policyChanged()
	if tt, th, ok := typedTool(t, wrapped); ok {
		s.mcp.AddTool(tt, th)
		return
	}
	mcp.AddTool(s.mcp, t, wrapped)
}

// toolHeaders reports whether the tool name, registered with AddTool,
// binds arguments to Mcp-Param-* headers; known is false for a tool
// AddTool did not register.
func (s *Server) toolHeaders(name string) (bound, known bool) {
	v, ok := s.toolOpts.Load(name)
	if !ok {
		return false, false
	}
	return v.(*toolOptions).headerBound, true
}

// RemoveTools removes the named tools from the server and the policy.
func (s *Server) RemoveTools(names ...string) {
	s.mcp.RemoveTools(names...)
	for _, n := range names {
		s.policy.Remove(n)
		s.toolOpts.Delete(n)
	}
	s.policyChanged()
}

// checkCall checks the caller of req against the requirement of tool. It
// returns nil, or the JSON-RPC error the call gets.
func (s *Server) checkCall(tool string, req *mcp.CallToolRequest) *jsonrpc.Error {
	granted := scopes.Set{}
	if id := IdentityFrom(req); id != nil {
		granted = id.Scopes
	}
	err := s.policy.Check(tool, granted)
	if err == nil {
		return nil
	}
	if errors.Is(err, scopes.ErrUnknownTool) {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", tool)}
	}
	var ise *scopes.InsufficientScopeError
	if errors.As(err, &ise) {
		return insufficientScopeError(ise.Required)
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "scope check failed"}
}

// insufficientScopeError is the JSON-RPC error of a call refused inside
// MCP for lack of scopes.
func insufficientScopeError(required []string) *jsonrpc.Error {
	return &jsonrpc.Error{Code: CodeInsufficientScope, Message: "insufficient scope", Data: scopeData(required)}
}
