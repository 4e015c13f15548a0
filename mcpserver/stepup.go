package mcpserver

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// CodeInsufficientScope is the JSON-RPC error code of the body of a 403
// step-up answer, and of the error a tools/call gets when the scope check
// inside MCP refuses it. It is in the range JSON-RPC reserves for
// implementation-defined server errors, and clear of the codes go-sdk uses
// there (-32003 means "client is closing" to go-sdk's client, which would
// report the connection closed).
const CodeInsufficientScope = -32030

// admitStepUp is the step-up check. It reads the JSON-RPC body of a POST once (restoring it for the
// layers below), and for every tools/call checks the caller's scopes
// against the tool's requirement before the call is dispatched (SPEC 10).
// When a call lacks scopes it answers 403 with an insufficient_scope
// challenge naming every scope the request's tool calls need (the union,
// for a batch; see also Config.StepUpIncludeGrantedScopes) and a JSON-RPC
// error body. Unknown tools and malformed bodies pass: go-sdk answers them
// with its usual JSON-RPC errors. A batch of more than peekMaxMessages
// messages gets 400.
//
// The body is read into a pooled buffer and scanned in place
// (peekMessages): nothing is decoded but the method and the tool name, and
// an allowed call allocates only the tool name's string.
//
// It reports whether the request goes on, having answered it otherwise,
// and returns the pooled body (nil when none was read), which the caller
// puts back into s.bodies once the request is done with it, go-sdk
// included. (afterAuthStepUp calls it, so that its frame is not on the
// stack while go-sdk runs.)
func (s *Server) admitStepUp(w http.ResponseWriter, r *http.Request) (*pooledBody, bool) {
	entry := audit.EntryFrom(r.Context())
	if r.Method != http.MethodPost || r.Body == nil {
		entry.SetDecision(audit.Allow, "")
		return nil, true
	}
	pb := s.bodies.get()
	err := pb.readFrom(r.Body)
	r.Body.Close()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			entry.SetDecision(audit.Deny, "body_too_large")
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return pb, false
		}
		var ne net.Error
		if r.Context().Err() != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			// The client went away before it had sent the whole body
			// (net/http cancels the context on any read error of the
			// connection, Config.BodyReadTimeout's too): nobody reads
			// the answer, and nobody refused the request.
			entry.SetDecision(audit.Error, "client_gone")
		} else {
			entry.SetDecision(audit.Deny, "bad_body")
		}
		writeError(w, http.StatusBadRequest, "cannot read request body")
		return pb, false
	}
	r.Body = pb
	msgs, batch, ok := peekMessages(pb.buf, pb.msgs[:0])
	pb.msgs, pb.batch, pb.ok, pb.scanned = msgs, batch, ok, true
	if !ok && batch && len(msgs) == peekMaxMessages {
		// More calls than the check reads: go-sdk would run them all.
		entry.SetDecision(audit.Deny, "batch_too_large")
		writeError(w, http.StatusBadRequest, "batch too large")
		return pb, false
	}
	if !ok && tooDeep(pb.buf, peekMaxDepth) {
		entry.SetDecision(audit.Deny, "nested_too_deep")
		writeError(w, http.StatusBadRequest, "request nested too deeply")
		return pb, false
	}
	if !ok {
		// Malformed: let go-sdk answer it.
		entry.SetDecision(audit.Deny, "malformed_request")
		return pb, true
	}
	var granted scopes.Set
	if id, _ := identity.FromContext(r.Context()); id != nil {
		granted = id.Scopes
	}
	tool, denied, calls := "", false, 0
	for i := range msgs {
		name, ok := callee(&msgs[i])
		if !ok {
			continue
		}
		calls++
		if tool == "" {
			tool = name
		}
		req, ok := s.policy.Requirement(name)
		if !ok {
			continue // go-sdk (or the receiving middleware) answers unknown tool
		}
		if req.Check(granted, s.policy.Hierarchy()) != nil {
			denied = true
		}
	}
	method := "batch"
	if !batch {
		method = methodName(msgs[0].method)
	}
	entry.SetMCP(method, tool)
	pb.calls = calls
	if !denied {
		if batch && calls > 1 && !s.chargeBatchCalls(w, r, calls-1) {
			return pb, false
		}
		reason := ""
		if calls > 0 {
			// Until a call records its outcome (audit.Entry.SetOutcome):
			// see afterAuthStepUp.
			reason = reasonCallPending
		}
		entry.SetDecision(audit.Allow, reason)
		return pb, true
	}
	entry.SetDecision(audit.Deny, identity.ErrorCodeInsufficientScope)
	s.refuseCalls(w, msgs, granted, batch)
	return pb, false
}

// callee returns the tool a message calls, when it is a tools/call whose
// params name one.
func callee(m *peeked) (string, bool) {
	if !methodIs(m.method, "tools/call") {
		return "", false
	}
	return peekToolName(m.params) // not ok: go-sdk answers invalid params
}

// refuseCalls answers 403 to a request some of whose tool calls lack
// scopes: the challenge asks for every scope the request's tool calls need
// (and, with Config.StepUpIncludeGrantedScopes, the caller's advertised
// scopes), and each refused call gets a JSON-RPC error naming what the
// calls need.
func (s *Server) refuseCalls(w http.ResponseWriter, msgs []peeked, granted scopes.Set, batch bool) {
	var (
		need   []string
		denied []*peeked
	)
	for i := range msgs {
		name, ok := callee(&msgs[i])
		if !ok {
			continue
		}
		req, ok := s.policy.Requirement(name)
		if !ok {
			continue
		}
		need = append(need, req.Scopes()...)
		if req.Check(granted, s.policy.Hierarchy()) != nil {
			denied = append(denied, &msgs[i])
		}
	}
	needed := scopes.Of(need...)
	ask := needed
	if s.cfg.StepUpIncludeGrantedScopes {
		ask = needed.Union(s.grantedSupported(granted))
	}
	s.writeInsufficientScope(w, ask.List(), needed.List(), denied, batch)
}

// grantedSupported returns the scopes of scopes_supported (never
// offline_access) that granted grants, under the configured hierarchy.
func (s *Server) grantedSupported(granted scopes.Set) scopes.Set {
	var kept []string
	for _, sc := range s.supportedScopes() {
		if s.policy.Hierarchy().Grants(granted, sc) {
			kept = append(kept, sc)
		}
	}
	return scopes.Of(kept...)
}

// scopeData is the "data" of an insufficient-scope JSON-RPC error:
// {"scope":["a","b"]}.
func scopeData(need []string) json.RawMessage {
	return appendScopeData(nil, need)
}

// appendScopeData appends scopeData(need) to b. Scopes are RFC 6749 scope
// tokens (AddTool and the identity middleware check them: printable ASCII
// without quotes or backslashes), which are JSON strings as they are.
func appendScopeData(b []byte, need []string) []byte {
	b = append(b, `{"scope":[`...)
	for i, sc := range need {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, sc...)
		b = append(b, '"')
	}
	return append(b, "]}"...)
}

// writeInsufficientScope answers 403 with an insufficient_scope challenge
// asking for ask, and a JSON-RPC error naming need for each refused call
// (an array for a batch).
func (s *Server) writeInsufficientScope(w http.ResponseWriter, ask, need []string, denied []*peeked, batch bool) {
	c := identity.Challenge{
		ResourceMetadata: s.cfg.prmURL,
		Scope:            ask,
		Error:            identity.ErrorCodeInsufficientScope,
	}
	var buf [512]byte
	b := buf[:0]
	if batch {
		b = append(b, '[')
	}
	for i, m := range denied {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"jsonrpc":"2.0","id":`...)
		if len(m.id) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, m.id...) // a JSON value: peekMessages validated it
		}
		b = append(b, `,"error":{"code":`...)
		b = strconv.AppendInt(b, CodeInsufficientScope, 10)
		b = append(b, `,"message":"insufficient scope","data":`...)
		b = appendScopeData(b, need)
		b = append(b, "}}"...)
	}
	if batch {
		b = append(b, ']')
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("WWW-Authenticate", c.String())
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusForbidden)
	w.Write(b)
}
