package mcpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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

// rpcMessage is the part of a JSON-RPC message the step-up check reads.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// toolCallParams is the part of tools/call params the step-up check reads.
type toolCallParams struct {
	Name string `json:"name"`
}

// stepUp reads the JSON-RPC body of a POST once (restoring it for the
// layers below), and for every tools/call checks the caller's scopes
// against the tool's requirement before the call is dispatched (SPEC 10).
// When a call lacks scopes it answers 403 with an insufficient_scope
// challenge naming every scope the request's tool calls need (the union,
// for a batch) and a JSON-RPC error body. Unknown tools and malformed
// bodies pass: go-sdk answers them with its usual JSON-RPC errors.
func (s *Server) stepUp(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entry := audit.EntryFrom(r.Context())
		if r.Method != http.MethodPost || r.Body == nil {
			entry.SetDecision(audit.Allow, "")
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				entry.SetDecision(audit.Deny, "body_too_large")
				writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			entry.SetDecision(audit.Deny, "bad_body")
			writeError(w, http.StatusBadRequest, "cannot read request body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		msgs, batch := parseMessages(body)
		if msgs == nil {
			// Malformed: let go-sdk answer it.
			entry.SetDecision(audit.Deny, "malformed_request")
			next.ServeHTTP(w, r)
			return
		}
		id, _ := identity.FromContext(r.Context())
		var granted scopes.Set
		if id != nil {
			granted = id.Scopes
		}
		var (
			denied []*rpcMessage
			need   []string
			tool   string
		)
		for i := range msgs {
			m := &msgs[i]
			if m.Method != "tools/call" {
				continue
			}
			var p toolCallParams
			if json.Unmarshal(m.Params, &p) != nil {
				continue // go-sdk answers invalid params
			}
			if tool == "" {
				tool = p.Name
			}
			req, ok := s.policy.Requirement(p.Name)
			if !ok {
				continue // go-sdk (or the receiving middleware) answers unknown tool
			}
			need = append(need, req.Scopes()...)
			if err := req.Check(granted, s.policy.Hierarchy()); err != nil {
				denied = append(denied, m)
			}
		}
		method := "batch"
		if !batch {
			method = msgs[0].Method
		}
		entry.SetMCP(method, tool)
		if len(denied) == 0 {
			entry.SetDecision(audit.Allow, "")
			next.ServeHTTP(w, r)
			return
		}
		entry.SetDecision(audit.Deny, identity.ErrorCodeInsufficientScope)
		s.writeInsufficientScope(w, scopes.Of(need...).List(), denied, batch)
	})
}

// parseMessages decodes a JSON-RPC body: one message or a batch. It returns
// nil when the body is neither.
func parseMessages(body []byte) (msgs []rpcMessage, batch bool) {
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) == 0 {
		return nil, false
	}
	if body[0] == '[' {
		if json.Unmarshal(body, &msgs) != nil || len(msgs) == 0 {
			return nil, true
		}
		return msgs, true
	}
	var m rpcMessage
	if json.Unmarshal(body, &m) != nil {
		return nil, false
	}
	return []rpcMessage{m}, false
}

// scopeData is the "data" of an insufficient-scope JSON-RPC error:
// {"scope":["a","b"]}.
func scopeData(need []string) json.RawMessage {
	if need == nil {
		need = []string{}
	}
	b, _ := json.Marshal(struct {
		Scope []string `json:"scope"`
	}{need})
	return b
}

// writeInsufficientScope answers 403 with an insufficient_scope challenge
// asking for need, and a JSON-RPC error for each refused call (an array
// for a batch).
func (s *Server) writeInsufficientScope(w http.ResponseWriter, need []string, denied []*rpcMessage, batch bool) {
	c := identity.Challenge{
		ResourceMetadata: s.cfg.prmURL,
		Scope:            need,
		Error:            identity.ErrorCodeInsufficientScope,
	}
	scope := scopeData(need)
	var b []byte
	if batch {
		b = append(b, '[')
	}
	for i, m := range denied {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"jsonrpc":"2.0","id":`...)
		if len(m.ID) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, m.ID...)
		}
		b = append(b, `,"error":{"code":`...)
		b = strconv.AppendInt(b, CodeInsufficientScope, 10)
		b = append(b, `,"message":"insufficient scope","data":`...)
		b = append(b, scope...)
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
