//lint:file-ignore SA1019 go-sdk's session reads the deprecated log level and fills in the deprecated roots fields at 2026-07-28; the direct path must do the same

package mcpserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Protocol 2026-07-28 (SEP-2575) on the stateless direct path.
//
// From 2026-07-28 on a request carries what initialize used to say (the
// protocol version, the client's capabilities and name) in its params'
// _meta, and the method and tool name again in the Mcp-Method and
// Mcp-Name headers. go-sdk's client negotiates this version with a
// stateless server. go-sdk's handler checks all of it (its transport the
// headers against the body, its session the _meta), decoding the body
// afresh for each check: a call cost about nine times one at 2025-11-25
// (docs/benchmarks.md, "Session 13").
//
// The stateless direct path answers such a tools/call itself only when
// every one of those checks would pass (newCall): a clean call as go-sdk's
// own client sends it. Anything else goes to go-sdk's handler, which
// refuses it with its own status and words (docs/sep2575-stateless-call.md
// lists them). What can still happen once the call is dispatched is done
// as go-sdk does it: the session is given the initialize params _meta
// carries before any middleware runs; the result gets resultType (by
// go-sdk's own tool table, which reads the session's version) and the
// server's name in _meta (annotateServerInfo); protocol errors get their
// HTTP status (newProtocolStatus) and are written as bare JSON; a handler
// cannot close its stream early (CloseSSEStream does nothing at this
// version). TestStatelessNewProtocolMatchesGoSDK holds the two to the same
// answers, byte for byte.
//
// Two inputs go go-sdk's way although they would pass its checks, because
// the direct path could not give the handler exactly what go-sdk gives it:
//   - a _meta logLevel: go-sdk puts it in the handler's context under a
//     key of its own; the direct path could only give it to the session,
//     which differs for a message logged outside the call's context;
//   - a tool whose input schema binds arguments to Mcp-Param-* headers
//     (x-mcp-header), or a tool idgate did not register (whose schema it
//     does not know): go-sdk compares those headers with the arguments.

const (
	headerMcpMethod = "Mcp-Method"
	headerMcpName   = "Mcp-Name"
)

// newCall returns the tools/call m is, its params decoded as go-sdk's
// session decodes them, and the initialize params its _meta gives the
// session, when go-sdk's stateless handler would hand the call to the
// server at version (2026-07-28) without refusing it first, and the
// direct path may answer it. h is the request's header. params must not
// alias a pooled buffer.
func (t *statelessDirect) newCall(m *peeked, h http.Header, version string) (*jsonrpc.Request, *mcp.CallToolParamsRaw, *mcp.InitializeParams, bool) {
	if string(m.version) != `"2.0"` || m.id == nil || string(m.method) != `"tools/call"` ||
		len(m.params) == 0 || m.params[0] != '{' {
		return nil, nil, nil, false
	}
	id, ok := plainID(m.id)
	if !ok || h.Get(headerMcpMethod) != "tools/call" {
		return nil, nil, nil, false
	}
	p, ok := callParams(m.params)
	if !ok || p.Name == "" || h.Get(headerMcpName) != p.Name {
		return nil, nil, nil, false
	}
	init, ok := metaInitializeParams(p.Meta, version)
	if !ok {
		return nil, nil, nil, false
	}
	if bound, known := t.toolHeaders(p.Name); bound || !known {
		return nil, nil, nil, false
	}
	return &jsonrpc.Request{ID: id, Method: "tools/call", Params: json.RawMessage(m.params)}, p, init, true
}

// metaInitializeParams returns the initialize params go-sdk's session
// builds from a 2026-07-28 call's _meta, when it would build them without
// refusing the call: the protocol version is version, the client's
// capabilities are an object, its name (if given) an object, and there is
// no log level (see above).
func metaInitializeParams(meta mcp.Meta, version string) (*mcp.InitializeParams, bool) {
	if v, ok := meta[mcp.MetaKeyProtocolVersion].(string); !ok || v != version {
		return nil, false
	}
	if _, ok := meta[mcp.MetaKeyLogLevel]; ok {
		return nil, false
	}
	init := &mcp.InitializeParams{ProtocolVersion: version}
	if raw, ok := meta[mcp.MetaKeyClientInfo]; ok {
		if !remarshalObject(raw, &init.ClientInfo) || init.ClientInfo == nil {
			return nil, false
		}
	}
	var caps *clientCapabilitiesV2
	if !remarshalObject(meta[mcp.MetaKeyClientCapabilities], &caps) || caps == nil {
		return nil, false
	}
	init.Capabilities = caps.toV1()
	return init, true
}

// remarshalObject decodes v, a JSON object as decoded into a map, into
// dst as go-sdk decodes a _meta value (encoded again, then decoded with
// field names matched exactly), reporting false for anything but an
// object and for what does not decode.
func remarshalObject(v any, dst any) bool {
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	b, err := json.Marshal(obj)
	return err == nil && decodeExact(b, dst) == nil
}

// clientCapabilitiesV2 is go-sdk's unexported type of the same name: the
// client capabilities as _meta carries them, roots as a pointer.
type clientCapabilitiesV2 struct {
	mcp.ClientCapabilities
	Roots *mcp.RootCapabilities `json:"roots,omitempty"`
}

// toV1 is go-sdk's clientCapabilitiesV2.toV1.
func (c *clientCapabilitiesV2) toV1() *mcp.ClientCapabilities {
	caps := c.ClientCapabilities
	caps.RootsV2 = c.Roots
	if caps.RootsV2 != nil {
		caps.Roots = *caps.RootsV2
	}
	return &caps
}

// annotateServerInfo is go-sdk's: it names the server in the _meta of a
// 2026-07-28 result, unless the handler has named something there
// already. (go-sdk dereferences a nil result here and ends the process;
// idgate's typed tools never return one, and one is left alone.)
func annotateServerInfo(res mcp.Result, impl *mcp.Implementation) {
	if res == nil || impl == nil {
		return
	}
	if v := reflect.ValueOf(res); v.Kind() == reflect.Pointer && v.IsNil() {
		return
	}
	m := res.GetMeta()
	if m == nil {
		m = map[string]any{}
	}
	if _, ok := m[mcp.MetaKeyServerInfo]; ok {
		return
	}
	m[mcp.MetaKeyServerInfo] = impl
	res.SetMeta(m)
}

// newProtocolStatus is the HTTP status go-sdk's transport answers a
// 2026-07-28 response with, 0 for the stream's usual one: protocol
// errors "method not found" (404) and "invalid params", "unsupported
// protocol version" and "missing required client capabilities" (400).
func newProtocolStatus(resp *jsonrpc.Response) int {
	var jerr *jsonrpc.Error
	if resp.Error == nil || !errors.As(resp.Error, &jerr) {
		return 0
	}
	switch jerr.Code {
	case jsonrpc.CodeMethodNotFound:
		return http.StatusNotFound
	case jsonrpc.CodeInvalidParams, mcp.CodeUnsupportedProtocolVersion, mcp.CodeMissingRequiredClientCapabilities:
		return http.StatusBadRequest
	}
	return 0
}

// paramHeaderBound reports whether a tool's input schema may bind an
// argument to an Mcp-Param-* header (x-mcp-header on a property, at any
// depth of "properties"), as go-sdk reads it; true also when the schema
// cannot be read that way, so that go-sdk decides.
func paramHeaderBound(schema any) bool {
	if schema == nil {
		return false
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return true
	}
	var s headerSchema
	if decodeExact(b, &s) != nil {
		return true
	}
	return s.bound()
}

// headerSchema is what go-sdk reads of an input schema for x-mcp-header
// (without the type, which it also decodes: where that fails it finds no
// binding, and this finds one, so the call goes its way).
type headerSchema struct {
	XMCPHeader json.RawMessage         `json:"x-mcp-header"`
	Properties map[string]headerSchema `json:"properties"`
}

func (s *headerSchema) bound() bool {
	for _, p := range s.Properties {
		if p.XMCPHeader != nil || p.bound() {
			return true
		}
	}
	return false
}
