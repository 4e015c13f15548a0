package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// vNew is the protocol version of SEP-2575: no sessions, what initialize
// said carried in each call's _meta.
const vNew = "2026-07-28"

// newMeta is the _meta go-sdk's client sends with a 2026-07-28 call.
const newMeta = `{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},"io.modelcontextprotocol/clientInfo":{"name":"test","version":"1"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"}`

// newBody is a 2026-07-28 tools/call of tool with args and meta.
func newBody(id, tool, args, meta string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"_meta":` + meta + `,"name":"` + tool + `","arguments":` + args + `}}`
}

// newCase is a 2026-07-28 case with the headers go-sdk's client sends
// (Mcp-Method and Mcp-Name), then headers, which replace them.
func newCase(name, body, tool string, direct bool, headers ...string) directCase {
	return directCase{
		name: name, body: body, version: vNew, direct: direct,
		headers: append([]string{"Mcp-Method", "tools/call", "Mcp-Name", tool}, headers...),
	}
}

// metaWith is newMeta with its clientCapabilities, clientInfo and extra
// members as given ("" leaves a member out).
func metaWith(version, caps, info, extra string) string {
	var m []string
	if caps != "" {
		m = append(m, `"io.modelcontextprotocol/clientCapabilities":`+caps)
	}
	if info != "" {
		m = append(m, `"io.modelcontextprotocol/clientInfo":`+info)
	}
	if version != "" {
		m = append(m, `"io.modelcontextprotocol/protocolVersion":`+version)
	}
	if extra != "" {
		m = append(m, extra)
	}
	return "{" + strings.Join(m, ",") + "}"
}

// newProtocolCases are the 2026-07-28 requests
// TestStatelessNewProtocolMatchesGoSDK compares: those the direct path
// answers (direct), and those that go go-sdk's way, each to be answered
// the same.
var newProtocolCases = func() []directCase {
	call := func(id, tool, args string) string { return newBody(id, tool, args, newMeta) }
	q := func(s string) string { return `"` + s + `"` }
	return []directCase{
		// Answered directly.
		newCase("call", call("1", "whoami", "{}"), "whoami", true),
		newCase("string id", call(`"a-1"`, "whoami", "{}"), "whoami", true),
		newCase("id 0", call("0", "whoami", "{}"), "whoami", true),
		newCase("tool error", call("2", "fail", "{}"), "fail", true),
		newCase("bad arguments", call("3", "salesWrite", `{"account":5}`), "salesWrite", true),
		newCase("scoped tool", call("4", "notes", "{}"), "notes", true),
		newCase("markup", call("5", "markup", "{}"), "markup", true),
		newCase("method not found from a tool", call("6", "gone", "{}"), "gone", true),
		newCase("invalid params from a tool", call("7", "invalid", "{}"), "invalid", true),
		newCase("unsupported version from a tool", call("8", "unsupported", "{}"), "unsupported", true),
		newCase("internal error from a tool", call("9", "internal", "{}"), "internal", true),
		newCase("stream closed (does nothing)", call("10", "closer", "{}"), "closer", true),
		newCase("related messages", call("11", "chatty", "{}"), "chatty", true),
		newCase("progress", call("12", "progress", "{}"), "progress", true),
		newCase("progress, then invalid params", call("13", "progressInvalid", "{}"), "progressInvalid", true),
		newCase("what the handler sees", call("14", "session", `{"x":1}`), "session", true),
		newCase("input required", call("15", "input", "{}"), "input", true),
		newCase("load shed", call("16", "shed", "{}"), "shed", true),
		newCase("content and input requests", call("17", "both", "{}"), "both", true),
		newCase("result _meta", call("18", "meta", "{}"), "meta", true),
		newCase("serverInfo given", call("19", "named", "{}"), "named", true),
		newCase("no clientInfo", newBody("20", "session", "{}", metaWith(q(vNew), "{}", "", "")), "session", true),
		newCase("empty clientInfo", newBody("21", "session", "{}", metaWith(q(vNew), "{}", "{}", "")), "session", true),
		newCase("clientInfo case-folded", newBody("22", "session", "{}", metaWith(q(vNew), "{}", `{"NAME":"x","version":"2"}`, "")), "session", true),
		newCase("capabilities of every kind", newBody("23", "session", "{}", metaWith(q(vNew), `{"roots":{},"sampling":{"tools":{}},"elicitation":{"form":{}},"experimental":{"x":[1,2.5]},"extensions":{"a/b":{}},"other":true}`, "", "")), "session", true),
		newCase("capabilities case-folded", newBody("24", "session", "{}", metaWith(q(vNew), `{"Roots":{"listChanged":true}}`, "", "")), "session", true),
		newCase("roots null", newBody("25", "session", "{}", metaWith(q(vNew), `{"roots":null}`, "", "")), "session", true),
		newCase("other _meta", newBody("26", "session", "{}", metaWith(q(vNew), "{}", "", `"progressToken":"p","x":{"y":1}`)), "session", true),
		newCase("unknown params field", `{"jsonrpc":"2.0","id":27,"method":"tools/call","params":{"_meta":`+newMeta+`,"name":"whoami","arguments":{},"extra":1}}`, "whoami", true),
		newCase("no arguments", `{"jsonrpc":"2.0","id":28,"method":"tools/call","params":{"_meta":`+newMeta+`,"name":"whoami"}}`, "whoami", true),
		newCase("content type charset", call("30", "whoami", "{}"), "whoami", true, "Content-Type", "application/json; charset=utf-8"),
		newCase("as the TypeScript SDK v2 sends it", `{"method":"tools/call","params":{"name":"whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"idgate-interop-ts-v2","version":"2.0.0"},"io.modelcontextprotocol/clientCapabilities":{}}},"jsonrpc":"2.0","id":0}`, "whoami", true),

		// go-sdk's way: refused there, or answered there.
		newCase("no Mcp-Method", call("40", "whoami", "{}"), "whoami", false, "Mcp-Method", ""),
		newCase("Mcp-Method mismatch", call("41", "whoami", "{}"), "whoami", false, "Mcp-Method", "tools/list"),
		newCase("no Mcp-Name", call("42", "whoami", "{}"), "", false),
		newCase("Mcp-Name mismatch", call("43", "whoami", "{}"), "fail", false),
		newCase("Mcp-Name case", call("44", "whoami", "{}"), "WHOAMI", false),
		newCase("no _meta", `{"jsonrpc":"2.0","id":45,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`, "whoami", false),
		newCase("_meta not an object", newBody("46", "whoami", "{}", "[]"), "whoami", false),
		newCase("_meta version 2025-11-25", newBody("47", "whoami", "{}", metaWith(q("2025-11-25"), "{}", "", "")), "whoami", false),
		newCase("_meta version not a string", newBody("48", "whoami", "{}", metaWith("20260728", "{}", "", "")), "whoami", false),
		newCase("_meta without version", newBody("49", "whoami", "{}", metaWith("", "{}", "", "")), "whoami", false),
		newCase("no capabilities", newBody("50", "whoami", "{}", metaWith(q(vNew), "", "", "")), "whoami", false),
		newCase("capabilities null", newBody("51", "whoami", "{}", metaWith(q(vNew), "null", "", "")), "whoami", false),
		newCase("capabilities a number", newBody("52", "whoami", "{}", metaWith(q(vNew), "5", "", "")), "whoami", false),
		newCase("capabilities an array", newBody("53", "whoami", "{}", metaWith(q(vNew), "[]", "", "")), "whoami", false),
		newCase("capabilities mistyped", newBody("54", "whoami", "{}", metaWith(q(vNew), `{"roots":5}`, "", "")), "whoami", false),
		newCase("clientInfo null", newBody("55", "whoami", "{}", metaWith(q(vNew), "{}", "null", "")), "whoami", false),
		newCase("clientInfo a string", newBody("56", "whoami", "{}", metaWith(q(vNew), "{}", `"c"`, "")), "whoami", false),
		newCase("clientInfo mistyped", newBody("57", "whoami", "{}", metaWith(q(vNew), "{}", `{"name":5}`, "")), "whoami", false),
		newCase("log level", newBody("58", "chatty", "{}", metaWith(q(vNew), "{}", "", `"io.modelcontextprotocol/logLevel":"debug"`)), "chatty", false),
		newCase("unknown tool", call("59", "nope", "{}"), "nope", false),
		newCase("header-bound argument", call("60", "region", `{"region":"eu"}`), "region", false, "Mcp-Param-Region", "eu"),
		newCase("header-bound argument, no header", call("61", "region", `{"region":"eu"}`), "region", false),
		newCase("ping", `{"jsonrpc":"2.0","id":62,"method":"ping","params":{"_meta":`+newMeta+`}}`, "", false, "Mcp-Method", "ping"),
		newCase("tools/list", `{"jsonrpc":"2.0","id":63,"method":"tools/list","params":{"_meta":`+newMeta+`}}`, "", true, "Mcp-Method", "tools/list"),
		newCase("tools/list with Mcp-Name", `{"jsonrpc":"2.0","id":"l","method":"tools/list","params":{"_meta":`+newMeta+`}}`, "x", true, "Mcp-Method", "tools/list"),
		newCase("tools/list, bad cursor", `{"jsonrpc":"2.0","id":72,"method":"tools/list","params":{"_meta":`+newMeta+`,"cursor":"nope"}}`, "", true, "Mcp-Method", "tools/list"),
		newCase("tools/list, no Mcp-Method", `{"jsonrpc":"2.0","id":73,"method":"tools/list","params":{"_meta":`+newMeta+`}}`, "", false, "Mcp-Method", ""),
		newCase("tools/list, Mcp-Method tools/call", `{"jsonrpc":"2.0","id":74,"method":"tools/list","params":{"_meta":`+newMeta+`}}`, "", false),
		newCase("tools/list, no _meta", `{"jsonrpc":"2.0","id":75,"method":"tools/list","params":{}}`, "", false, "Mcp-Method", "tools/list"),
		newCase("tools/list, no params", `{"jsonrpc":"2.0","id":76,"method":"tools/list"}`, "", false, "Mcp-Method", "tools/list"),
		newCase("tools/list, capabilities missing", `{"jsonrpc":"2.0","id":77,"method":"tools/list","params":{"_meta":`+metaWith(q(vNew), "", "", "")+`}}`, "", false, "Mcp-Method", "tools/list"),
		newCase("tools/list, log level", `{"jsonrpc":"2.0","id":78,"method":"tools/list","params":{"_meta":`+metaWith(q(vNew), "{}", "", `"io.modelcontextprotocol/logLevel":"info"`)+`}}`, "", false, "Mcp-Method", "tools/list"),
		newCase("tools/list, cursor not a string", `{"jsonrpc":"2.0","id":79,"method":"tools/list","params":{"_meta":`+newMeta+`,"cursor":5}}`, "", false, "Mcp-Method", "tools/list"),
		newCase("server/discover", `{"jsonrpc":"2.0","id":90,"method":"server/discover","params":{"_meta":`+newMeta+`}}`, "", true, "Mcp-Method", "server/discover"),
		newCase("server/discover as go-sdk's client sends it", `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},"io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, "", true, "Mcp-Method", "server/discover"),
		newCase("server/discover, string id and Mcp-Name", `{"jsonrpc":"2.0","id":"d","method":"server/discover","params":{"_meta":`+newMeta+`}}`, "x", true, "Mcp-Method", "server/discover"),
		newCase("server/discover, unknown params field", `{"jsonrpc":"2.0","id":91,"method":"server/discover","params":{"_meta":`+newMeta+`,"x":[1]}}`, "", true, "Mcp-Method", "server/discover"),
		newCase("server/discover, other _meta", `{"jsonrpc":"2.0","id":92,"method":"server/discover","params":{"_meta":`+metaWith(q(vNew), "{}", "", `"progressToken":"p"`)+`}}`, "", true, "Mcp-Method", "server/discover"),
		newCase("server/discover, no Mcp-Method", `{"jsonrpc":"2.0","id":93,"method":"server/discover","params":{"_meta":`+newMeta+`}}`, "", false, "Mcp-Method", ""),
		newCase("server/discover, Mcp-Method tools/list", `{"jsonrpc":"2.0","id":94,"method":"server/discover","params":{"_meta":`+newMeta+`}}`, "", false, "Mcp-Method", "tools/list"),
		newCase("server/discover, no _meta", `{"jsonrpc":"2.0","id":95,"method":"server/discover","params":{}}`, "", false, "Mcp-Method", "server/discover"),
		newCase("server/discover, no params", `{"jsonrpc":"2.0","id":96,"method":"server/discover"}`, "", false, "Mcp-Method", "server/discover"),
		newCase("server/discover, _meta version 2025-11-25", `{"jsonrpc":"2.0","id":97,"method":"server/discover","params":{"_meta":`+metaWith(q("2025-11-25"), "{}", "", "")+`}}`, "", false, "Mcp-Method", "server/discover"),
		newCase("server/discover, capabilities missing", `{"jsonrpc":"2.0","id":98,"method":"server/discover","params":{"_meta":`+metaWith(q(vNew), "", "", "")+`}}`, "", false, "Mcp-Method", "server/discover"),
		newCase("server/discover, log level", `{"jsonrpc":"2.0","id":99,"method":"server/discover","params":{"_meta":`+metaWith(q(vNew), "{}", "", `"io.modelcontextprotocol/logLevel":"info"`)+`}}`, "", false, "Mcp-Method", "server/discover"),
		newCase("server/discover, clientInfo mistyped", `{"jsonrpc":"2.0","id":100,"method":"server/discover","params":{"_meta":`+metaWith(q(vNew), "{}", `{"name":5}`, "")+`}}`, "", false, "Mcp-Method", "server/discover"),
		newCase("server/discover, notification", `{"jsonrpc":"2.0","method":"server/discover","params":{"_meta":`+newMeta+`}}`, "", false, "Mcp-Method", "server/discover"),
		{name: "server/discover at 2025-11-25", body: `{"jsonrpc":"2.0","id":101,"method":"server/discover","params":{}}`, version: "2025-11-25", headers: []string{"Mcp-Method", "server/discover"}},
		newCase("batch", "["+call("64", "whoami", "{}")+"]", "whoami", false),
		newCase("notification", `{"jsonrpc":"2.0","method":"tools/call","params":{"_meta":`+newMeta+`,"name":"whoami","arguments":{}}}`, "whoami", false),
		newCase("null id", call("null", "whoami", "{}"), "whoami", false),
		newCase("escaped method", strings.Replace(call("80", "whoami", "{}"), `"tools/call"`, `"tools\/call"`, 1), "whoami", false),
		newCase("fraction id", call("1.5", "whoami", "{}"), "whoami", false),
		newCase("name not a string", `{"jsonrpc":"2.0","id":65,"method":"tools/call","params":{"_meta":`+newMeta+`,"name":5,"arguments":{}}}`, "5", false),
		newCase("params too deep", call("66", "whoami", `{"a":`+strings.Repeat("[", 1001)+strings.Repeat("]", 1001)+`}`), "whoami", false),
		newCase("Last-Event-ID", call("67", "whoami", "{}"), "whoami", false, "Last-Event-ID", "x"),
		newCase("accept json only", call("68", "whoami", "{}"), "whoami", false, "Accept", "application/json"),
		{name: "later version", body: newBody("69", "whoami", "{}", metaWith(q("2099-01-01"), "{}", "", "")), version: "2099-01-01", headers: []string{"Mcp-Method", "tools/call", "Mcp-Name", "whoami"}},
		{name: "header 2025-11-25, _meta 2026-07-28", body: call("70", "whoami", "{}"), version: "2025-11-25", headers: []string{"Mcp-Method", "tools/call", "Mcp-Name", "whoami"}},
		{name: "no version header, _meta 2026-07-28", body: call("71", "whoami", "{}"), version: "-", headers: []string{"Mcp-Method", "tools/call", "Mcp-Name", "whoami"}},
	}
}()

// regionIn is the input of the tool whose argument is bound to a header.
type regionIn struct {
	Region string `json:"region"`
}

// addNewProtocolTools adds the tools the 2026-07-28 cases call.
func addNewProtocolTools(srv *mcpserver.Server) {
	protocolError := func(name string, code int64) {
		mcpserver.AddTool(srv, &mcp.Tool{Name: name}, scopes.Public(),
			func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
				return nil, nil, &jsonrpc.Error{Code: code, Message: name + " <here>"}
			})
	}
	protocolError("invalid", jsonrpc.CodeInvalidParams)
	protocolError("unsupported", mcp.CodeUnsupportedProtocolVersion)
	protocolError("internal", jsonrpc.CodeInternalError)
	result := func(name string, res *mcp.CallToolResult) {
		mcpserver.AddTool(srv, &mcp.Tool{Name: name}, scopes.Public(),
			func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
				r := *res
				if res.Meta != nil {
					r.Meta = maps(res.Meta)
				}
				return &r, nil, nil
			})
	}
	elicit := &mcp.ElicitParams{Mode: "form", Message: "name?", RequestedSchema: map[string]any{"type": "object"}}
	result("input", &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"q1": elicit}, RequestState: "st"})
	result("shed", &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{}})
	result("both", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x"}}, InputRequests: mcp.InputRequestMap{"q1": elicit}})
	result("meta", &mcp.CallToolResult{Meta: mcp.Meta{"a": "b"}, Content: []mcp.Content{}})
	result("named", &mcp.CallToolResult{Meta: mcp.Meta{mcp.MetaKeyServerInfo: "mine"}})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "progress"}, scopes.Public(),
		func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
			err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: "t", Progress: 1, Message: "half"})
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "progress: " + errString(err)}}}, summaryOut{Total: 1}, nil
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "progressInvalid"}, scopes.Public(),
		func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
			if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: "t", Progress: 1}); err != nil {
				return nil, nil, err
			}
			return nil, nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "after progress"}
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "session"}, scopes.Public(),
		func(ctx context.Context, req *mcp.CallToolRequest, _ map[string]any) (*mcp.CallToolResult, any, error) {
			req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 1000})
			init, _ := json.Marshal(req.Session.InitializeParams())
			//lint:ignore SA1019 what go-sdk's session fills in at 2026-07-28 is compared
			rootsV2, _ := json.Marshal(req.Session.InitializeParams().Capabilities.RootsV2)
			params, _ := json.Marshal(req.Params)
			info, _ := json.Marshal(req.ClientInfo())
			caps, _ := json.Marshal(req.ClientCapabilities())
			text := fmt.Sprintf("init=%s rootsV2=%s id=%q version=%q clientInfo=%s caps=%s params=%s token=%v name=%q",
				init, rootsV2, req.Session.ID(), req.ProtocolVersion(), info, caps,
				params, req.Extra.TokenInfo != nil && req.Extra.TokenInfo.UserID != "", req.Extra.Header.Get("Mcp-Name"))
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "region", InputSchema: map[string]any{
		"type":       "object",
		"properties": map[string]any{"region": map[string]any{"type": "string", "x-mcp-header": "Region"}},
	}}, scopes.Public(),
		func(_ context.Context, _ *mcp.CallToolRequest, in regionIn) (*mcp.CallToolResult, summaryOut, error) {
			return nil, summaryOut{Total: len(in.Region)}, nil
		})
}

// maps returns a copy of m (a result's _meta, which go-sdk changes).
func maps(m mcp.Meta) mcp.Meta {
	c := make(mcp.Meta, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// TestStatelessNewProtocolMatchesGoSDK sends the same 2026-07-28 requests
// to a stateless server on the direct transport and to one on go-sdk's
// handler, in both response modes, and requires the same status,
// Content-Type, headers compared and body, byte for byte, and that the
// direct path answered exactly the clean calls.
func TestStatelessNewProtocolMatchesGoSDK(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []envOption
	}{{"sse", nil}, {"json", []envOption{jsonResponse}}} {
		t.Run(mode.name, func(t *testing.T) {
			direct, plain := statelessPair(t, mode.opts...)
			for _, c := range newProtocolCases {
				t.Run(c.name, func(t *testing.T) { compareStateless(t, direct, plain, c) })
			}
		})
	}
	// The comparison covers calls answered directly and refused by
	// go-sdk, and the answers are what SEP-2575 says they are.
	direct, _ := statelessPair(t)
	find := func(name string) directCase {
		i := slices.IndexFunc(newProtocolCases, func(c directCase) bool { return c.name == name })
		require.GreaterOrEqual(t, i, 0, name)
		return newProtocolCases[i]
	}
	a := exchangeStateless(direct.with(t), find("call"))
	require.Equal(t, http.StatusOK, a.Status)
	require.Contains(t, a.Body, `"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"crm","version":"1.0.0"}}`)
	require.Contains(t, a.Body, `"resultType":"complete"`)
	a = exchangeStateless(direct.with(t), find("method not found from a tool"))
	require.Equal(t, http.StatusNotFound, a.Status)
	require.Equal(t, `{"jsonrpc":"2.0","id":6,"error":{"code":-32601,"message":"method not found: \"tools/call\""}}`, a.Body)
	a = exchangeStateless(direct.with(t), find("input required"))
	require.Contains(t, a.Body, `"content":null,"requestState":"st","resultType":"input_required"`)
	a = exchangeStateless(direct.with(t), find("what the handler sees"))
	require.Contains(t, a.Body, `init={\"capabilities\":{\"roots\":{\"listChanged\":true}},\"clientInfo\":{\"name\":\"test\",\"version\":\"1\"},\"protocolVersion\":\"2026-07-28\"} rootsV2={\"listChanged\":true} id=\"\"`)
	require.Contains(t, a.Body, `token=true name=\"session\"`)
	a = exchangeStateless(direct.with(t), find("server/discover"))
	require.Equal(t, http.StatusOK, a.Status)
	require.Contains(t, a.Body, `"resultType":"complete"`)
	require.Contains(t, a.Body, `"supportedVersions":["2026-07-28",`)
	require.Contains(t, a.Body, `"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"crm","version":"1.0.0"}}`)
	a = exchangeStateless(direct.with(t), find("no Mcp-Method"))
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.Contains(t, a.Body, `"code":-32020,"message":"missing required Mcp-Method header"`)
}

// TestStatelessNewProtocolClients: go-sdk's own client negotiates
// 2026-07-28 with a stateless server and its calls are answered by the
// direct path, with the results go-sdk's handler gives.
func TestStatelessNewProtocolClients(t *testing.T) {
	direct, plain := statelessPair(t)
	results := map[string]string{}
	for _, e := range []*env{direct, plain} {
		cs, _ := e.with(t).connect(e.alice)
		before, _ := mcpserver.StatelessDirectCalls(e.srv)
		for _, tool := range []string{"whoami", "session", "meta"} {
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
			require.NoError(t, err, tool)
			b, err := json.Marshal(res)
			require.NoError(t, err)
			if results[tool] == "" {
				results[tool] = string(b)
			} else {
				assert.Equal(t, results[tool], string(b), tool)
			}
		}
		after, ok := mcpserver.StatelessDirectCalls(e.srv)
		if ok {
			assert.Equal(t, before+3, after, "calls answered directly")
		}
		require.NoError(t, cs.Close())
	}
	assert.Contains(t, results["session"], `\"protocolVersion\":\"2026-07-28\"`, "the client negotiated 2026-07-28")
	assert.Contains(t, results["whoami"], `"subject":"alice"`)
}

// FuzzStatelessNewProtocolMatchesGoSDK is the 2026-07-28 comparison over
// any body, Mcp-Method and Mcp-Name.
func FuzzStatelessNewProtocolMatchesGoSDK(f *testing.F) { fuzzNewProtocol(f) }

// FuzzStatelessNewProtocolJSONMatchesGoSDK is
// FuzzStatelessNewProtocolMatchesGoSDK with JSONResponse on both servers.
func FuzzStatelessNewProtocolJSONMatchesGoSDK(f *testing.F) { fuzzNewProtocol(f, jsonResponse) }

func fuzzNewProtocol(f *testing.F, opts ...envOption) {
	for _, c := range newProtocolCases {
		var method, name string
		for i := 0; i+1 < len(c.headers); i += 2 {
			switch c.headers[i] {
			case "Mcp-Method":
				method = c.headers[i+1]
			case "Mcp-Name":
				name = c.headers[i+1]
			}
		}
		f.Add(c.body, method, name)
	}
	direct, plain := statelessPair(f, opts...)
	f.Fuzz(func(t *testing.T, body, method, name string) {
		if !validHeaderValue(method) || !validHeaderValue(name) {
			return // not a header value the client sends
		}
		c := newCase("", body, name, false, "Mcp-Method", method)
		got := exchangeStateless(direct.with(t), c)
		want := exchangeStateless(plain.with(t), c)
		if got != want {
			t.Fatalf("body %q, Mcp-Method %q, Mcp-Name %q:\ndirect: %+v\ngo-sdk: %+v", body, method, name, got, want)
		}
	})
}

// validHeaderValue reports whether net/http's client sends v as a header
// value.
func validHeaderValue(v string) bool {
	return !strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
}

// TestStatelessNewProtocolIdentity: a 2026-07-28 call answered by the
// direct path runs as the user whose token it carries, a tools/list shows
// that user the tools its scopes allow, and a call to a tool they do not
// allow is refused with a step-up challenge, as at any other version.
func TestStatelessNewProtocolIdentity(t *testing.T) {
	direct, _ := statelessPair(t)
	call := func(token, tool string) rawResponse {
		h := []string{"Mcp-Protocol-Version", vNew, "Mcp-Method", "tools/call", "Mcp-Name", tool}
		if token != "" {
			h = append(h, bearer(token)...)
		}
		return direct.with(t).doSet(http.MethodPost, newBody("1", tool, "{}", newMeta), h)
	}
	before, _ := mcpserver.StatelessDirectCalls(direct.srv)
	r := call(direct.bob, "whoami")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Contains(t, r.Body, `"structuredContent":{"scopes":["notes:read"],"subject":"bob"}`)
	r = call(direct.alice, "whoami")
	require.Contains(t, r.Body, `"subject":"alice"`)
	after, _ := mcpserver.StatelessDirectCalls(direct.srv)
	require.Equal(t, before+2, after, "answered by the direct path")

	// tools/list shows each caller the tools its scopes allow.
	list := func(token string) string {
		r := direct.with(t).doSet(http.MethodPost, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":`+newMeta+`}}`,
			with(bearer(token), []string{"Mcp-Protocol-Version", vNew, "Mcp-Method", "tools/list"}))
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		return r.Body
	}
	require.Contains(t, list(direct.alice), `"name":"salesRead"`)
	bobs := list(direct.bob)
	require.Contains(t, bobs, `"name":"whoami"`)
	require.NotContains(t, bobs, `"name":"salesRead"`)
	require.NotContains(t, bobs, `"name":"salesWrite"`)
	after, _ = mcpserver.StatelessDirectCalls(direct.srv)
	require.Equal(t, before+4, after, "answered by the direct path")

	r = call(direct.bob, "salesRead")
	require.Equal(t, http.StatusForbidden, r.Status, r.Body)
	require.Contains(t, r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
	require.Contains(t, r.Header.Get("WWW-Authenticate"), `scope="crm:read"`)
	r = call("", "whoami")
	require.Equal(t, http.StatusUnauthorized, r.Status, r.Body)
	done, _ := mcpserver.StatelessDirectCalls(direct.srv)
	require.Equal(t, after, done, "refused before the direct path")
}

// TestStatelessNewProtocolAudit: a 2026-07-28 call answered by the direct
// path is audited as go-sdk's handler's answer to it is: one event, with
// the same decision, reason, status, tool and (redacted) arguments, and
// no token; a protocol error, which has an HTTP status of its own at this
// version, is audited as the call's outcome, not as a refused request.
func TestStatelessNewProtocolAudit(t *testing.T) {
	direct, plain := statelessPair(t)
	cases := []struct {
		name, tool, args string
		direct           bool
		decision, reason string
		status           float64
	}{
		{"success", "whoami", "{}", true, "allow", "", 200},
		{"tool error", "fail", "{}", true, "error", "tool_error", 200},
		{"audited, redacted arguments", "salesWrite", `{"account":"acme","secret":"hunter2"}`, true, "allow", "", 200},
		{"protocol error from a tool", "invalid", "{}", true, "error", "tool_failed", 400},
		{"method not found from a tool", "gone", "{}", true, "error", "tool_failed", 404},
		{"unknown tool", "nope", "{}", false, "deny", "unknown_tool", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got [2]map[string]any
			for i, e := range []*env{direct, plain} {
				e := e.with(t)
				before := len(e.logs.events(t))
				answered, _ := mcpserver.StatelessDirectCalls(e.srv)
				r := e.doSet(http.MethodPost, newBody("1", c.tool, c.args, newMeta), with(bearer(e.alice),
					[]string{"Mcp-Protocol-Version", vNew, "Mcp-Method", "tools/call", "Mcp-Name", c.tool}))
				events := e.logs.events(t)
				require.Len(t, events, before+1, "exactly one event per request")
				ev := events[before]
				require.Equal(t, float64(r.Status), ev["status"])
				if i == 0 {
					after, _ := mcpserver.StatelessDirectCalls(e.srv)
					require.Equal(t, c.direct, after > answered, "answered by the direct path")
				}
				for _, k := range []string{"request_id", "time", "duration_us", "iss", "remote_addr"} {
					delete(ev, k) // differ from request to request
				}
				got[i] = ev
				require.NotContains(t, e.logs.String(), e.alice)
				require.NotContains(t, e.logs.String(), "hunter2")
			}
			require.Equal(t, got[1], got[0])
			require.Equal(t, c.tool, got[0]["tool"])
			require.Equal(t, c.decision, got[0]["decision"])
			require.Equal(t, c.reason, stringOr(got[0]["reason"]))
			require.Equal(t, c.status, got[0]["status"])
			if c.tool == "salesWrite" {
				require.Equal(t, `{"account":"acme","secret":"[masked]"}`, mustJSON(t, got[0]["args"]))
			}
		})
	}
}

// TestStatelessNewProtocolConcurrentUsers: 2026-07-28 calls of two users
// answered by the direct path at the same time each run as their own
// caller (run with -race).
func TestStatelessNewProtocolConcurrentUsers(t *testing.T) {
	direct, _ := statelessPair(t)
	before, _ := mcpserver.StatelessDirectCalls(direct.srv)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 8 {
		wg.Go(func() {
			token, user := direct.alice, "alice"
			if g%2 == 1 {
				token, user = direct.bob, "bob"
			}
			for i := range 25 {
				req, err := http.NewRequest(http.MethodPost, direct.http.URL+"/mcp", strings.NewReader(newBody(itoa(i), "whoami", "{}", newMeta)))
				if err != nil {
					errs <- err
					return
				}
				for k, v := range map[string]string{
					"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
					"Mcp-Protocol-Version": vNew, "Mcp-Method": "tools/call", "Mcp-Name": "whoami",
					"Authorization": "Bearer " + token,
				} {
					req.Header.Set(k, v)
				}
				resp, err := direct.http.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !strings.Contains(string(b), `"subject":"`+user+`"`) || !strings.Contains(string(b), `"id":`+itoa(i)+`,`) {
					errs <- fmt.Errorf("%s, call %d: %v %s", user, i, err, b)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	after, _ := mcpserver.StatelessDirectCalls(direct.srv)
	require.EqualValues(t, 200, after-before, "answered by the direct path")
}
