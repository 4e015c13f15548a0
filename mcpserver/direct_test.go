package mcpserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

func goSDKTransport(c *mcpserver.Config) { c.GoSDKTransport = true }

// bothTransports are the transports the on-the-wire tests run on: idgate's
// direct transport (the default) and go-sdk's handler (GoSDKTransport).
var bothTransports = []struct {
	name string
	opts []envOption
}{{"direct", nil}, {"gosdk", []envOption{goSDKTransport}}}

// TestDirectTransportMatchesGoSDK sends the same raw requests to a server
// on the direct transport (the default) and to one on go-sdk's handler
// (GoSDKTransport), and requires the same status, Content-Type and body,
// byte for byte: the plain calls the direct path answers, and every
// variation that must go go-sdk's way or be refused as go-sdk refuses it.
// It also checks which requests the direct path answered.
func TestDirectTransportMatchesGoSDK(t *testing.T) {
	direct, plain := transportPair(t)
	for _, c := range directCases {
		t.Run(c.name, func(t *testing.T) {
			before, _, _ := mcpserver.DirectCalls(direct.srv)
			dispatched := mcpserver.DispatchedCalls(direct.srv)
			got := exchange(direct.with(t), c)
			after, _, _ := mcpserver.DirectCalls(direct.srv)
			want := exchange(plain.with(t), c)
			assert.Equal(t, c.direct, after > before, "answered by the direct path")
			// A plain tools/call is dispatched to the server's method
			// handler without going through the session.
			assert.Equal(t, c.dispatched(), mcpserver.DispatchedCalls(direct.srv) > dispatched, "dispatched")
			if c.unknown {
				// The one difference by design: the server, not go-sdk's
				// transport, refuses a method it does not know.
				assert.True(t, unknownMethodAnswers(got, want), "direct: %+v\ngo-sdk: %+v", got, want)
				return
			}
			assert.Equal(t, want, got)
		})
	}
}

// unknownMethodAnswers reports whether got and want are the two
// transports' answers to a call of a method the server does not know: the
// server's JSON-RPC "method not found" on the call's stream, and go-sdk's
// transport's 400.
func unknownMethodAnswers(got, want answer) bool {
	return got.Status == http.StatusOK && got.ContentType == "text/event-stream" &&
		strings.Contains(got.Body, `"code":-32601`) && strings.Contains(got.Body, "method not found") &&
		want.Status == http.StatusBadRequest && strings.Contains(want.Body, "unsupported")
}

// FuzzDirectTransportMatchesGoSDK is TestDirectTransportMatchesGoSDK over
// any body and a choice of protocol versions: both transports must give
// the same answer (status, Content-Type, Cache-Control, Allow, body).
func FuzzDirectTransportMatchesGoSDK(f *testing.F) {
	seedFuzz(f, directCases)
	direct, plain := transportPair(f)
	f.Fuzz(func(t *testing.T, body string, version uint8) {
		c := directCase{body: body, version: fuzzVersions[int(version)%len(fuzzVersions)]}
		got := exchange(direct.with(t), c)
		want := exchange(plain.with(t), c)
		switch {
		case got == want:
		case unknownMethodAnswers(got, want):
			// The server refuses a method it does not know (see
			// TestDirectTransportMatchesGoSDK).
		case got.Status == http.StatusBadRequest && want.Status == http.StatusBadRequest &&
			strings.Contains(got.Body, "unsupported") && strings.Contains(want.Body, "missing id for"):
			// A custom method's name sent as a notification: go-sdk's
			// transport, without its server's table, calls it unknown.
		case (c.version == "2026-07-28" || strings.Contains(body, "protocolVersion")) &&
			got.Status >= 400 && want.Status >= 400:
			// Protocol 2026-07-28 on a stateful server: both refuse,
			// go-sdk's transport sometimes for another reason first (it
			// checks the method against its server's table, which the
			// direct transport cannot read).
		default:
			t.Fatalf("body %q, version %q:\ndirect: %+v\ngo-sdk: %+v", body, c.version, got, want)
		}
	})
}

// seedFuzz adds to f the cases that are a POST body alone (no method,
// session or header of their own), with their protocol version.
func seedFuzz(f *testing.F, cases []directCase) {
	for _, c := range cases {
		if c.method == "" && c.session == "" && c.headers == nil {
			f.Add(c.body, uint8(slices.Index(fuzzVersions, c.version)))
		}
	}
}

// fuzzVersions are the Mcp-Protocol-Version headers the fuzz target
// chooses from ("" is the test's default, "-" none).
var fuzzVersions = []string{"", "-", "2025-03-26", "2025-11-25", "2026-07-28", "1999-01-01"}

// transportPair starts a server on the direct transport and one on
// go-sdk's handler, each with the test tools and a tool that closes its
// stream before it answers.
func transportPair(tb testing.TB) (direct, plain *env) {
	// No rate limits: the fuzz target sends thousands of requests.
	unlimited := func(c *mcpserver.Config) { c.RateLimit.Disabled = true }
	direct = newEnv(tb, unlimited)
	plain = newEnv(tb, unlimited, goSDKTransport)
	_, _, ok := mcpserver.DirectCalls(plain.srv)
	require.False(tb, ok, "GoSDKTransport must serve with go-sdk's handler")
	for _, e := range []*env{direct, plain} {
		// A custom method, which go-sdk's transport refuses unless it
		// knows its server's own method table.
		require.NoError(tb, mcp.AddReceivingCustomMethod(e.srv.MCPServer(), "acme/search",
			func(_ context.Context, _ *mcp.ServerSession, p *searchParams) (*searchResult, error) {
				if p == nil { // params are optional for custom methods
					return &searchResult{Hits: []string{}}, nil
				}
				return &searchResult{Hits: []string{"hit:" + p.Q}}, nil
			}))
		require.NoError(tb, mcp.AddReceivingCustomMethod(e.srv.MCPServer(), "acme/ping",
			func(context.Context, *mcp.ServerSession, *searchParams) (*searchResult, error) {
				return &searchResult{}, nil
			}))
		mcpserver.AddTool(e.srv, &mcp.Tool{Name: "closer", Description: "closes its stream"}, scopes.Public(),
			func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
				req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 1500 * time.Millisecond})
				return nil, summaryOut{Total: 1}, nil
			})
		addPairTools(e.srv)
	}
	return direct, plain
}

// addPairTools adds the tools "gone", which answers with a protocol error
// of code "method not found", and "markup", whose result has characters
// HTML escaping would change.
func addPairTools(srv *mcpserver.Server) {
	mcpserver.AddTool(srv, &mcp.Tool{Name: "gone", Description: "answers method not found"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
			return nil, summaryOut{}, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "no longer here"}
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "markup", Description: "answers markup"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "<b>a & b</b>"}}}, nil, nil
		})
}

// searchParams and searchResult are the custom method's types.
type searchParams struct {
	mcp.ParamsBase
	Q string `json:"q"`
}

type searchResult struct {
	mcp.ResultBase
	Hits []string `json:"hits"`
}

// with returns e reporting to t.
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// directCase is one request of the transport comparison.
type directCase struct {
	name    string
	method  string
	body    string
	version string // Mcp-Protocol-Version; "" the default, "-" none
	headers []string
	// session: "" (the caller's), "none", "unknown", "bob" (the caller is
	// bob on alice's session)
	session string
	direct  bool // answered by the direct path
	unknown bool // a method the server does not know (unknownMethodAnswers)
	// undispatched: a tools/call answered by the direct path but handed
	// to the session, as params the dispatcher does not decode are.
	undispatched bool
}

// dispatched reports whether c is a tools/call the direct path dispatches
// to the server's method handler itself.
func (c directCase) dispatched() bool {
	return c.direct && !c.undispatched && strings.Contains(c.body, `"method":"tools/call"`)
}

// answer is what the comparison compares of a response.
type answer struct {
	Status             int
	ContentType, Body  string
	Allow, CacheHeader string
}

// exchange opens a session for alice on e and sends c's request.
func exchange(e *env, c directCase) answer {
	sid := e.session(e.alice)
	token := e.alice
	var h []string
	switch c.session {
	case "":
		h = append(h, "Mcp-Session-Id", sid)
	case "unknown":
		h = append(h, "Mcp-Session-Id", "nope")
	case "bob":
		h = append(h, "Mcp-Session-Id", sid)
		token = e.bob
	}
	h = append(h, versionHeader(c.version)...)
	h = append(h, bearer(token)...)
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	r := e.doReplacing(method, c.body, h, c.headers)
	return answer{
		Status: r.Status, ContentType: r.Header.Get("Content-Type"),
		Body: strings.ReplaceAll(r.Body, sid, "SID"), Allow: r.Header.Get("Allow"),
		CacheHeader: r.Header.Get("Cache-Control"),
	}
}

// versionHeader returns the Mcp-Protocol-Version header pair a case's
// version asks for: "" the test's default (2025-06-18), "-" none.
func versionHeader(version string) []string {
	switch version {
	case "":
		return []string{"Mcp-Protocol-Version", "2025-06-18"}
	case "-":
		return nil
	}
	return []string{"Mcp-Protocol-Version", version}
}

const directCallBody = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`

// directCases are the requests TestDirectTransportMatchesGoSDK compares.
var directCases = func() []directCase {
	const (
		vOld = "2025-03-26"
		vNew = "2026-07-28"
	)
	call := directCallBody
	type tc = directCase
	return []tc{
		{name: "plain call", body: call, direct: true},
		{name: "string id", body: `{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"whoami","arguments":{}}}`, direct: true},
		{name: "negative id", body: `{"jsonrpc":"2.0","id":-3,"method":"tools/call","params":{"name":"salesRead","arguments":{}}}`, direct: true},
		{name: "fraction id", body: `{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`},
		{name: "huge id", body: `{"jsonrpc":"2.0","id":12345678901234567890,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`},
		{name: "escaped string id", body: `{"jsonrpc":"2.0","id":"a\u0041","method":"tools/call","params":{"name":"whoami","arguments":{}}}`},
		{name: "null id", body: `{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`},
		{name: "progress token", body: `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"whoami","arguments":{},"_meta":{"progressToken":"p"}}}`},
		{name: "stream closed", body: `{"jsonrpc":"2.0","id":24,"method":"tools/call","params":{"name":"closer","arguments":{}}}`, direct: true},
		{name: "stream closed 2025-11-25", body: `{"jsonrpc":"2.0","id":25,"method":"tools/call","params":{"name":"closer","arguments":{}}}`, version: "2025-11-25", direct: true},
		{name: "call 2025-11-25", body: call, version: "2025-11-25", direct: true},
		{name: "tools/list", body: `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`, direct: true},
		{name: "tools/list params", body: `{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{}}`, direct: true},
		{name: "tools/list array params", body: `{"jsonrpc":"2.0","id":9,"method":"tools/list","params":[]}`},
		{name: "ping", body: `{"jsonrpc":"2.0","id":10,"method":"ping"}`, direct: true},
		{name: "call without params", body: `{"jsonrpc":"2.0","id":11,"method":"tools/call"}`},
		{name: "unknown tool", body: `{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"nope","arguments":{}}}`, direct: true},
		// Params as go-sdk's session decodes them: field names matched
		// exactly, the last of duplicates, unknown fields ignored; what it
		// refuses goes its way (undispatched). Nesting too deep for it is
		// refused with the whole message, by go-sdk's transport.
		{name: "params case-folded name", body: `{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"NAME":"whoami","arguments":{}}}`, direct: true},
		{name: "params duplicate name", body: `{"jsonrpc":"2.0","id":32,"method":"tools/call","params":{"name":"nope","name":"whoami","arguments":{}}}`, direct: true},
		{name: "params unknown field", body: `{"jsonrpc":"2.0","id":33,"method":"tools/call","params":{"name":"whoami","arguments":{},"extra":[1,{"a":null}]}}`, direct: true},
		{name: "params null arguments", body: `{"jsonrpc":"2.0","id":34,"method":"tools/call","params":{"name":"whoami","arguments":null}}`, direct: true},
		{name: "params escaped name", body: `{"jsonrpc":"2.0","id":35,"method":"tools/call","params":{"name":"who\u0061mi","arguments":{}}}`, direct: true},
		{name: "params name not a string", body: `{"jsonrpc":"2.0","id":36,"method":"tools/call","params":{"name":5,"arguments":{}}}`, direct: true, undispatched: true},
		{name: "params too deep", body: `{"jsonrpc":"2.0","id":37,"method":"tools/call","params":{"name":"whoami","arguments":{"a":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}}}`},
		// A protocol error "method not found" from a tool: go-sdk's
		// connection answers it as its own, naming the method.
		{name: "tool says method not found", body: `{"jsonrpc":"2.0","id":38,"method":"tools/call","params":{"name":"gone","arguments":{}}}`, direct: true},
		{name: "result with markup", body: `{"jsonrpc":"2.0","id":39,"method":"tools/call","params":{"name":"markup","arguments":{}}}`, direct: true},
		{name: "tool error", body: `{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"fail","arguments":{}}}`, direct: true},
		{name: "bad arguments", body: `{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"salesWrite","arguments":{"account":5}}}`, direct: true},
		{name: "unknown method", body: `{"jsonrpc":"2.0","id":15,"method":"tools/nope"}`, direct: true, unknown: true},
		{name: "unknown notification", body: `{"jsonrpc":"2.0","method":"notifications/nope"}`},
		{name: "custom method", body: `{"jsonrpc":"2.0","id":26,"method":"acme/search","params":{"q":"x"}}`, direct: true},
		{name: "custom method, no version header", body: `{"jsonrpc":"2.0","id":27,"method":"acme/search","params":{"q":"y"}}`, version: "-", direct: true},
		{name: "custom method, bad id", body: `{"jsonrpc":"2.0","id":true,"method":"acme/search","params":{"q":"x"}}`},
		{name: "resources/list", body: `{"jsonrpc":"2.0","id":16,"method":"resources/list"}`},
		{name: "duplicate method key", body: `{"jsonrpc":"2.0","id":17,"method":"tools/list","method":"tools/call","params":{"name":"whoami","arguments":{}}}`, direct: true},
		{name: "case-folded key", body: `{"jsonrpc":"2.0","id":18,"METHOD":"tools/call","params":{"name":"whoami","arguments":{}}}`},
		{name: "escaped method", body: `{"jsonrpc":"2.0","id":19,"method":"tools\/call","params":{"name":"whoami","arguments":{}}}`},
		{name: "jsonrpc 1.0", body: `{"jsonrpc":"1.0","id":20,"method":"ping"}`},
		{name: "no jsonrpc", body: `{"id":21,"method":"ping"}`},
		{name: "trailing data", body: call + ` {"x":1}`, direct: true},
		{name: "malformed", body: `{"jsonrpc":"2.0","id":22,"method":`},
		{name: "not an object", body: `"ping"`},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`},
		{name: "call as notification", body: `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"whoami","arguments":{}}}`},
		{name: "response from client", body: `{"jsonrpc":"2.0","id":99,"result":{}}`},
		{name: "batch 2025-06-18", body: "[" + call + "]"},
		{name: "batch 2025-03-26", body: "[" + call + "]", version: vOld},
		{name: "no version header", body: call, version: "-"},
		{name: "unsupported version", body: call, version: "1999-01-01"},
		{name: "2026-07-28 call", body: call, version: vNew},
		{name: "2026-07-28 malformed", body: `{"id":"","method":0}`, version: vNew},
		{name: "2026-07-28 call without params", body: `{"jsonrpc":"2.0","id":28,"method":"tools/call"}`, version: vNew},
		{name: "batch 2025-03-26, refused first", body: `[{"jsonrpc":"2.0","id":29,"method":"tools/call"},{"jsonrpc":"2.0","id":30,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}]`, version: vOld},
		{name: "batch 2025-06-18 malformed", body: `[{"id":1,"method":"ping"}]`},
		{name: "2026-07-28 notification", body: `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`, version: vNew},
		// server/discover from a 2026-07-28 client, which go-sdk's client
		// sends first to every server: a stateful server answers it with
		// the versions it speaks (none of them 2026-07-28) and opens no
		// session; on a session too.
		{name: "2026-07-28 discover", body: `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":` + newMeta + `}}`, version: vNew, session: "none", headers: []string{"Mcp-Method", "server/discover"}},
		{name: "2026-07-28 discover on a session", body: `{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{"_meta":` + newMeta + `}}`, version: vNew, headers: []string{"Mcp-Method", "server/discover"}},
		{name: "2026-07-28 discover, no _meta", body: `{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{}}`, version: vNew, session: "none", headers: []string{"Mcp-Method", "server/discover"}},
		{name: "2026-07-28 discover, no params", body: `{"jsonrpc":"2.0","id":4,"method":"server/discover"}`, version: vNew, session: "none"},
		{name: "2025-11-25 discover", body: `{"jsonrpc":"2.0","id":5,"method":"server/discover","params":{}}`, version: "2025-11-25", session: "none"},
		{name: "discover, _meta 2026-07-28, header 2025-11-25", body: `{"jsonrpc":"2.0","id":6,"method":"server/discover","params":{"_meta":` + newMeta + `}}`, version: "2025-11-25", session: "none"},
		{name: "_meta protocol version", body: `{"jsonrpc":"2.0","id":23,"method":"tools/call","params":{"name":"whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`},
		{name: "Last-Event-ID", body: call, headers: []string{"Last-Event-ID", "x_1"}},
		{name: "content type", body: call, headers: []string{"Content-Type", "text/plain"}},
		{name: "content type charset", body: call, headers: []string{"Content-Type", "application/json; charset=utf-8"}, direct: true},
		{name: "accept json only", body: call, headers: []string{"Accept", "application/json"}},
		{name: "accept wildcard", body: call, headers: []string{"Accept", "*/*"}, direct: true},
		{name: "empty body", body: ""},
		{name: "unknown session", body: call, session: "unknown"},
		{name: "another user", body: call, session: "bob"},
		{name: "no session", body: call, session: "none"},
		{name: "initialize on a session", body: initializeBody},
		{name: "GET without Accept", method: http.MethodGet},
		{name: "GET without session", method: http.MethodGet, headers: []string{"Accept", "text/event-stream"}, session: "none"},
		{name: "PUT", method: http.MethodPut, body: call},
		{name: "DELETE without session", method: http.MethodDelete, session: "none"},
		{name: "DELETE", method: http.MethodDelete},
	}
}()

// doReplacing is do with the extra headers replacing those do sets.
func (e *env) doReplacing(method, body string, headers, replace []string) rawResponse {
	e.t.Helper()
	if len(replace) == 0 {
		return e.do(method, "/mcp", body, headers...)
	}
	h := append([]string{}, headers...)
	for i := 0; i+1 < len(replace); i += 2 {
		h = append(h, replace[i], replace[i+1])
	}
	return e.doSet(method, body, h)
}

// doSet is do, but header pairs set (not add) their values.
func (e *env) doSet(method, body string, headers []string) rawResponse {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+"/mcp", strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.http.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// TestDirectCallRelatedMessages: what a tool sends in its context while a
// directly answered call runs (a log message, an elicitation the client
// answers on another POST) reaches the client on the call's stream before
// the result, through go-sdk's own client, on both transports.
func TestDirectCallRelatedMessages(t *testing.T) {
	for _, mode := range bothTransports {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			type askOut struct {
				Answer string `json:"answer"`
			}
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "ask", Description: "logs, then asks the user"}, scopes.Public(),
				func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, askOut, error) {
					//lint:ignore SA1019 logging is deprecated by 2026-07-28 but served to older clients; it is the simplest message related to a call
					if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "asking"}); err != nil {
						return nil, askOut{}, err
					}
					res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{
						Message:         "colour?",
						RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{"c": map[string]any{"type": "string"}}},
					})
					if err != nil {
						return nil, askOut{}, err
					}
					return nil, askOut{Answer: res.Action + ":" + res.Content["c"].(string)}, nil
				})
			var mu sync.Mutex
			var seen []string
			client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, &mcp.ClientOptions{
				//lint:ignore SA1019 logging is deprecated by 2026-07-28 but served to older clients; it is the simplest message related to a call
				LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
					mu.Lock()
					seen = append(seen, "log:"+r.Params.Data.(string))
					mu.Unlock()
				},
				ElicitationHandler: func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					mu.Lock()
					seen = append(seen, "elicit:"+r.Params.Message)
					mu.Unlock()
					return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"c": "blue"}}, nil
				},
			})
			cs := e.connectWith(client, e.alice)
			//lint:ignore SA1019 logging is deprecated by 2026-07-28 but served to older clients; it is the simplest message related to a call
			require.NoError(t, cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "debug"}))
			before, _, _ := mcpserver.DirectCalls(e.srv)
			dispatched := mcpserver.DispatchedCalls(e.srv)
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{}})
			require.NoError(t, err)
			require.False(t, res.IsError, "%+v", res.Content)
			assert.Equal(t, map[string]any{"answer": "accept:blue"}, res.StructuredContent)
			mu.Lock()
			assert.Equal(t, []string{"log:asking", "elicit:colour?"}, seen)
			mu.Unlock()
			if after, _, ok := mcpserver.DirectCalls(e.srv); ok {
				assert.Greater(t, after, before, "the call was answered by the direct path")
				assert.Equal(t, dispatched+1, mcpserver.DispatchedCalls(e.srv), "the call was dispatched")
			}
		})
	}
}

// connectWith opens a session of client with token.
func (e *env) connectWith(client *mcp.Client, token string) *mcp.ClientSession {
	e.t.Helper()
	transport := &mcp.StreamableClientTransport{
		Endpoint:   e.http.URL + "/mcp",
		HTTPClient: &http.Client{Transport: bearerTransport{token: tokenPtr(token), base: e.http.Client().Transport}},
		MaxRetries: -1,
	}
	cs, err := client.Connect(context.Background(), transport, nil)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { cs.Close() })
	return cs
}

// TestDirectSessionsEnd: DELETE, a failed initialize and the idle timeout
// each remove the session from the direct transport's table, and a call
// whose client went away leaves the session usable.
func TestDirectSessionsEnd(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "block", Description: "waits"}, scopes.Public(),
		func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
			started <- struct{}{}
			<-release
			return nil, summaryOut{Total: 1}, nil
		})
	count := func(e *env) int {
		_, n, ok := mcpserver.DirectCalls(e.srv)
		require.True(t, ok)
		return n
	}
	hdr := func(e *env, sid string) []string {
		return with(bearer(e.alice), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18"})
	}

	sid := e.session(e.alice)
	require.Equal(t, 1, count(e))
	r := e.do(http.MethodDelete, "/mcp", "", hdr(e, sid)...)
	require.Equal(t, http.StatusNoContent, r.Status)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodPost, "/mcp", callBody(2, "whoami"), hdr(e, sid)...).Status)
	assert.Equal(t, 0, count(e))

	// A failed initialize leaves no session behind.
	r = e.do(http.MethodPost, "/mcp", callBody(1, "whoami"), bearer(e.alice)...)
	assert.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Empty(t, r.Header.Get("Mcp-Session-Id"))
	require.Eventually(t, func() bool { return count(e) == 0 }, 5*time.Second, 10*time.Millisecond)

	// The client goes away mid-call; the session goes on.
	sid = e.session(e.alice)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.http.URL+"/mcp", strings.NewReader(callBody(3, "block")))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	h := hdr(e, sid)
	for i := 0; i < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := e.http.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	require.True(t, errors.Is(<-errc, context.Canceled))
	close(release)
	r = e.do(http.MethodPost, "/mcp", callBody(4, "whoami"), hdr(e, sid)...)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Contains(t, r.Body, `"subject":"alice"`)

	// Idle: the timeout closes the session.
	idle := newEnv(t, func(c *mcpserver.Config) { c.SessionTimeout = 200 * time.Millisecond })
	mcpserver.AddTool(idle.srv, &mcp.Tool{Name: "slow", Description: "outlasts the idle timeout"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
			time.Sleep(500 * time.Millisecond)
			return nil, summaryOut{Total: 7}, nil
		})
	sid = idle.session(idle.alice)
	require.Equal(t, 1, count(idle))
	// A call in progress holds the timeout off.
	r = idle.do(http.MethodPost, "/mcp", callBody(6, "slow"), hdr(idle, sid)...)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Contains(t, r.Body, `"total":7`)
	require.Equal(t, 1, count(idle), "the session outlived a call longer than its idle timeout")
	require.Eventually(t, func() bool { return count(idle) == 0 }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, http.StatusNotFound, idle.do(http.MethodPost, "/mcp", callBody(5, "whoami"), hdr(idle, sid)...).Status)
}

// TestDirectConcurrentCalls runs calls from several goroutines on one
// session and on several, each getting its own answer.
func TestDirectConcurrentCalls(t *testing.T) {
	e := newEnv(t)
	sessions := []string{e.session(e.alice), e.session(e.alice)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sid := sessions[g%2]
			for i := range 25 {
				id := 1000 + g*100 + i
				r := e.do(http.MethodPost, "/mcp", callBody(id, "salesRead"),
					with(bearer(e.alice), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18"})...)
				if !assert.Equal(t, http.StatusOK, r.Status, r.Body) {
					return
				}
				assert.Contains(t, r.Body, `"id":`+itoa(id)+`,`)
				assert.Contains(t, r.Body, `"total":42`)
			}
		}()
	}
	wg.Wait()
	n, _, _ := mcpserver.DirectCalls(e.srv)
	assert.GreaterOrEqual(t, n, uint64(200))
}

func tokenPtr(token string) *atomic.Pointer[string] {
	p := &atomic.Pointer[string]{}
	p.Store(&token)
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDirectSessionsLeaveNoGoroutines: a session's goroutines (go-sdk's
// and the direct transport's) end with it.
func TestDirectSessionsLeaveNoGoroutines(t *testing.T) {
	e := newEnv(t)
	e.session(e.alice) // warm the client's connection and the server
	r := e.do(http.MethodPost, "/mcp", callBody(1, "whoami"), with(bearer(e.alice), []string{"Mcp-Session-Id", e.session(e.alice), "Mcp-Protocol-Version", "2025-06-18"})...)
	require.Equal(t, http.StatusOK, r.Status)
	before := runtime.NumGoroutine()
	var sids []string
	for range 20 {
		sids = append(sids, e.session(e.alice))
	}
	opened := runtime.NumGoroutine()
	require.GreaterOrEqual(t, opened-before, 20, "each session runs goroutines")
	for _, sid := range sids {
		r := e.do(http.MethodDelete, "/mcp", "", with(bearer(e.alice), []string{"Mcp-Session-Id", sid})...)
		require.Equal(t, http.StatusNoContent, r.Status)
	}
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 5*time.Second, 20*time.Millisecond,
		"goroutines: %d before, %d with 20 sessions, %d after", before, opened, runtime.NumGoroutine())
}
