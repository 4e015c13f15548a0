//lint:file-ignore SA1019 go-sdk's session reads the deprecated log level and fills in the deprecated roots fields at 2026-07-28; the direct path must do the same

package mcpserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"

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
// version). A tools/list is answered the same way (newList), its result
// also given resultType "complete", as go-sdk's session gives it.
// TestStatelessNewProtocolMatchesGoSDK holds the two to the same answers,
// byte for byte.
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
	id, ok := newEnvelope(m, h, "tools/call")
	if !ok {
		return nil, nil, nil, false
	}
	p, init, ok := decodeNewCall(m.params, version)
	if !ok || p.Name == "" || h.Get(headerMcpName) != p.Name {
		return nil, nil, nil, false
	}
	if !numbersInRange(p.Arguments) {
		// go-sdk's transport decodes the params for its Mcp-Name check
		// with the arguments as an any, which fails on such a number:
		// it refuses the call itself.
		return nil, nil, nil, false
	}
	if bound, known := t.toolHeaders(p.Name); bound || !known {
		return nil, nil, nil, false
	}
	return &jsonrpc.Request{ID: id, Method: "tools/call", Params: json.RawMessage(m.params)}, p, init, true
}

// numbersInRange reports whether every number in b, valid JSON, is within
// float64's range (as go-sdk's decoder requires of a number it decodes
// into an any). Only a number with an exponent or of more than 300
// characters can be out of range; only those are parsed.
func numbersInRange(b []byte) bool {
	var str jsonString
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case str.within(c):
		case c == '-' || '0' <= c && c <= '9':
			j, exp := i, false
			for ; j < len(b); j++ {
				d := b[j]
				if d == 'e' || d == 'E' {
					exp = true
				} else if !(d == '-' || d == '+' || d == '.' || '0' <= d && d <= '9') {
					break
				}
			}
			if exp || j-i > 300 {
				if _, err := strconv.ParseFloat(string(b[i:j]), 64); err != nil {
					return false
				}
			}
			i = j - 1
		}
	}
	return true
}

// newEnvelope returns the id of m when it is a 2026-07-28 request of
// method the direct path may take: "jsonrpc":"2.0", a plain id, params an
// object (they must carry _meta), and the Mcp-Method header naming the
// method.
func newEnvelope(m *peeked, h http.Header, method string) (jsonrpc.ID, bool) {
	if string(m.version) != `"2.0"` || m.id == nil || !rawStringIs(m.method, method) ||
		len(m.params) == 0 || m.params[0] != '{' || h.Get(headerMcpMethod) != method {
		return jsonrpc.ID{}, false
	}
	return plainID(m.id)
}

// rawStringIs reports whether the raw JSON value v is the string want
// written without escapes (an escaped method goes go-sdk's way).
func rawStringIs(v []byte, want string) bool {
	return len(v) == len(want)+2 && v[0] == '"' && v[len(v)-1] == '"' && string(v[1:len(v)-1]) == want
}

// newList returns the tools/list m is, its params decoded as go-sdk's
// session decodes them, and the initialize params their _meta gives the
// session, when go-sdk's stateless handler would hand it to the server at
// version (2026-07-28) without refusing it first. As newCall, but the
// Mcp-Method header alone is checked (a tools/list has no Mcp-Name), and
// the params are decoded the exact way: a client lists the tools once a
// conversation, not once a call.
func newList(m *peeked, h http.Header, version string) (*jsonrpc.Request, *mcp.ListToolsParams, *mcp.InitializeParams, bool) {
	return newRequest[mcp.ListToolsParams](m, h, version, "tools/list")
}

// newDiscover returns the server/discover m is, as newList returns a
// tools/list. go-sdk's client sends one to every server it connects to,
// before anything else: through go-sdk's handler it cost about eleven
// tools/calls (BenchmarkHandlerConnect).
func newDiscover(m *peeked, h http.Header, version string) (*jsonrpc.Request, *mcp.DiscoverParams, *mcp.InitializeParams, bool) {
	return newRequest[mcp.DiscoverParams](m, h, version, "server/discover")
}

// newRequest is newList and newDiscover: the 2026-07-28 request of method
// m is, with params of type *P.
func newRequest[P any, PP interface {
	*P
	mcp.Params
}](m *peeked, h http.Header, version, method string) (*jsonrpc.Request, PP, *mcp.InitializeParams, bool) {
	id, ok := newEnvelope(m, h, method)
	if !ok {
		return nil, nil, nil, false
	}
	var p PP
	if decodeExact(m.params, &p) != nil || p == nil {
		return nil, nil, nil, false
	}
	init, ok := metaInitializeParams(p.GetMeta(), version)
	if !ok {
		return nil, nil, nil, false
	}
	return &jsonrpc.Request{ID: id, Method: method, Params: json.RawMessage(m.params)}, p, init, true
}

// decodeNewCall decodes the params of a 2026-07-28 tools/call as go-sdk's
// session decodes them, and returns the initialize params their _meta
// gives the session (metaInitializeParams), reporting false when go-sdk
// would refuse either, or the direct path does not answer the call.
//
// go-sdk's decoder makes every JSON object decoded into an any a map
// with room for 64 members: of the three small objects a client's _meta
// holds, it made ~5 KB a call, and re-encoding two of them to decode
// them into their types cost as much again (a third of a call's CPU
// in-process). When _meta is plain (printable ASCII, no escapes, no key
// twice, as clients send it), the rest of the params are decoded as
// go-sdk decodes them, _meta by plainValue, which makes the same values
// of such JSON (TestDecodeNewCallPlainMatchesExact, and its fuzzer), and
// the client's name and capabilities are decoded from their own bytes;
// for simple params, names and capabilities (peekCallParams,
// simpleImplementation, simpleCapabilities) without a decoder at all.
// Anything else takes the exact way.
func decodeNewCall(params []byte, version string) (*mcp.CallToolParamsRaw, *mcp.InitializeParams, bool) {
	if p, init, ok, plain := decodeNewCallPlain(params, version); plain {
		return p, init, ok
	}
	p, ok := callParams(params)
	if !ok {
		return nil, nil, false
	}
	init, ok := metaInitializeParams(p.Meta, version)
	return p, init, ok
}

// callParamsMetaRaw is mcp.CallToolParamsRaw with _meta not decoded
// (TestCallParamsMetaRawMirrors keeps the two alike).
type callParamsMetaRaw struct {
	Meta           json.RawMessage      `json:"_meta,omitempty"`
	Name           string               `json:"name"`
	Arguments      json.RawMessage      `json:"arguments,omitempty"`
	InputResponses mcp.InputResponseMap `json:"inputResponses,omitempty"`
	RequestState   string               `json:"requestState,omitempty"`
}

// decodeNewCallPlain is decodeNewCall for params whose _meta is a plain
// object; plain is false for any other, which decodeNewCall then decodes
// the exact way.
func decodeNewCallPlain(params []byte, version string) (_ *mcp.CallToolParamsRaw, _ *mcp.InitializeParams, ok, plain bool) {
	// go-sdk's decoder merges duplicate objects where a map keeps the
	// last: one _meta (and, plainValue, no key twice in any object of
	// it), or the exact way.
	q, metas, simple := peekCallParams(params)
	if metas != 1 || !simple && decodeExact(params, &q) != nil || len(q.Meta) == 0 || q.Meta[0] != '{' ||
		!plainASCII(q.Meta) {
		return nil, nil, false, false
	}
	meta, isPlain := plainValue(q.Meta)
	if !isPlain {
		return nil, nil, false, false
	}
	p := &mcp.CallToolParamsRaw{Meta: meta.(map[string]any), Name: q.Name, Arguments: q.Arguments, InputResponses: q.InputResponses, RequestState: q.RequestState}
	// The members of _meta (each once: plainValue refuses a key twice).
	var versionRaw, info, caps []byte
	hasLog := false
	(&jsonPeeker{b: q.Meta}).object(func(k, v []byte) {
		switch {
		case keyIs(k, mcp.MetaKeyProtocolVersion):
			versionRaw = v
		case keyIs(k, mcp.MetaKeyClientInfo):
			info = v
		case keyIs(k, mcp.MetaKeyClientCapabilities):
			caps = v
		case keyIs(k, mcp.MetaKeyLogLevel):
			hasLog = true
		}
	})
	if v, isString := stringValue(versionRaw); !isString || v != version || hasLog {
		return nil, nil, false, true
	}
	init := &mcp.InitializeParams{ProtocolVersion: version}
	if info != nil {
		if init.ClientInfo = simpleImplementation(info); init.ClientInfo == nil && !decodeObject(info, &init.ClientInfo) {
			return nil, nil, false, true
		}
	}
	if c := simpleCapabilities(caps); c != nil {
		init.Capabilities = c
	} else {
		var c *clientCapabilitiesV2
		if !decodeObject(caps, &c) {
			return nil, nil, false, true
		}
		init.Capabilities = c.toV1()
	}
	return p, init, true, true
}

// peekCallParams reads the params of a tools/call, valid JSON (the
// message was scanned whole), as go-sdk's decoder would into
// callParamsMetaRaw, when they are simple: every key plain, the name a
// plain string, the arguments an object, no inputResponses or
// requestState. It also counts the _meta members, simple or not. simple
// is false for any other params, which the caller then decodes.
func peekCallParams(params []byte) (q callParamsMetaRaw, metas int, simple bool) {
	simple = true
	valid := (&jsonPeeker{b: params}).object(func(k, v []byte) {
		key := k[1 : len(k)-1]
		if !plainASCII(key) {
			simple = false
			if keyIs(k, "_meta") {
				metas++
			}
			return
		}
		switch string(key) {
		case "_meta":
			metas++
			q.Meta = v
		case "name":
			if len(v) < 2 || v[0] != '"' || !plainASCII(v[1:len(v)-1]) {
				simple = false
				return
			}
			q.Name = string(v[1 : len(v)-1])
		case "arguments":
			if v[0] != '{' {
				simple = false
			}
			q.Arguments = v
		case "inputResponses", "requestState":
			simple = false
		}
	})
	if !valid || !simple {
		return callParamsMetaRaw{}, metas, false
	}
	return q, metas, true
}

// simpleCapabilities returns the client capabilities caps, a plain JSON
// object, give the session as go-sdk decodes them, when they are {} or
// roots alone ({"roots":{}} or {"roots":{"listChanged":B}}, as go-sdk's
// client sends them); nil otherwise (decodeObject then decodes them).
func simpleCapabilities(caps []byte) *mcp.ClientCapabilities {
	switch string(caps) {
	case "{}":
		return &mcp.ClientCapabilities{}
	case `{"roots":{}}`:
		return rootsCapabilities(false)
	case `{"roots":{"listChanged":true}}`:
		return rootsCapabilities(true)
	case `{"roots":{"listChanged":false}}`:
		return rootsCapabilities(false)
	}
	return nil
}

// rootsCapabilities is clientCapabilitiesV2.toV1 of roots alone.
func rootsCapabilities(listChanged bool) *mcp.ClientCapabilities {
	c := &mcp.ClientCapabilities{RootsV2: &mcp.RootCapabilities{ListChanged: listChanged}}
	c.Roots.ListChanged = listChanged
	return c
}

// simpleImplementation returns the client name info, a plain JSON object,
// decodes to as go-sdk decodes it, when its members are all known string
// fields of mcp.Implementation; nil otherwise (decodeObject then decodes
// it).
func simpleImplementation(info []byte) *mcp.Implementation {
	impl := &mcp.Implementation{}
	simple := true
	valid := (&jsonPeeker{b: info}).object(func(k, v []byte) {
		var dst *string
		switch string(k[1 : len(k)-1]) {
		case "name":
			dst = &impl.Name
		case "version":
			dst = &impl.Version
		case "title":
			dst = &impl.Title
		case "description":
			dst = &impl.Description
		case "websiteUrl":
			dst = &impl.WebsiteURL
		default:
			simple = false
			return
		}
		if len(v) < 2 || v[0] != '"' {
			simple = false
			return
		}
		*dst = string(v[1 : len(v)-1]) // plain: no escapes
	})
	if !valid || !simple {
		return nil
	}
	return impl
}

// plainValue decodes v, plain JSON (printable ASCII, no escapes) checked
// by the caller, into what go-sdk's decoder makes of it in an any:
// map[string]any, []any, string, float64, bool or nil. ok is false where
// that decoder fails (a number out of float64's range), and where an
// object has a key twice: go-sdk's decoder merges two objects under one
// key where a map keeps the last.
func plainValue(v []byte) (_ any, ok bool) {
	switch v[0] {
	case '{':
		m := map[string]any{}
		ok = true
		valid := (&jsonPeeker{b: v}).object(func(k, val []byte) {
			if !ok {
				return
			}
			key := string(k[1 : len(k)-1])
			if _, dup := m[key]; dup {
				ok = false
				return
			}
			x, good := plainValue(val)
			ok = good
			m[key] = x
		})
		return m, valid && ok
	case '[':
		a := []any{}
		p := &jsonPeeker{b: v, i: 1}
		for {
			p.space()
			if p.i >= len(v) {
				return nil, false
			}
			if v[p.i] == ']' {
				return a, true
			}
			start := p.i
			if !p.value(1) {
				return nil, false
			}
			x, good := plainValue(v[start:p.i])
			if !good {
				return nil, false
			}
			a = append(a, x)
			p.space()
			if p.i < len(v) && v[p.i] == ',' {
				p.i++
			}
		}
	case '"':
		return string(v[1 : len(v)-1]), true
	case 't':
		return true, true
	case 'f':
		return false, true
	case 'n':
		return nil, true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

// decodeObject decodes raw, a JSON object, into *dst, a pointer, as go-sdk
// decodes a _meta value, reporting false for anything but an object and
// for what does not decode.
func decodeObject[T any](raw []byte, dst **T) bool {
	return len(raw) > 0 && raw[0] == '{' && decodeExact(raw, dst) == nil && *dst != nil
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
