package mcpserver_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// statelessPair starts a stateless server on the stateless direct
// transport (the default) and one on go-sdk's handler, each with the
// tools of transportPair and opts.
func statelessPair(tb testing.TB, opts ...envOption) (direct, plain *env) {
	unlimited := func(c *mcpserver.Config) { c.RateLimit.Disabled = true }
	direct = newEnv(tb, append([]envOption{unlimited, stateless}, opts...)...)
	plain = newEnv(tb, append([]envOption{unlimited, stateless, goSDKTransport}, opts...)...)
	_, ok := mcpserver.StatelessDirectCalls(direct.srv)
	require.True(tb, ok, "a stateless server must serve with the stateless direct transport by default")
	_, ok = mcpserver.StatelessDirectCalls(plain.srv)
	require.False(tb, ok, "GoSDKTransport must serve with go-sdk's handler")
	for _, e := range []*env{direct, plain} {
		require.NoError(tb, mcp.AddReceivingCustomMethod(e.srv.MCPServer(), "acme/search",
			func(_ context.Context, _ *mcp.ServerSession, p *searchParams) (*searchResult, error) {
				if p == nil {
					return &searchResult{Hits: []string{}}, nil
				}
				return &searchResult{Hits: []string{"hit:" + p.Q}}, nil
			}))
		addPairTools(e.srv)
		addNewProtocolTools(e.srv)
		mcpserver.AddTool(e.srv, &mcp.Tool{Name: "closer", Description: "closes its stream"}, scopes.Public(),
			func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
				req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 1500 * time.Millisecond})
				return nil, summaryOut{Total: 1}, nil
			})
		mcpserver.AddTool(e.srv, &mcp.Tool{Name: "chatty", Description: "logs, notifies progress, then asks the user"}, scopes.Public(),
			func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
				//lint:ignore SA1019 logging is deprecated by 2026-07-28 but served to older clients; it is the simplest message related to a call
				if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "working"}); err != nil {
					return nil, summaryOut{}, err
				}
				// Outside the call's context: no stream to go to.
				//lint:ignore SA1019 as above
				errOutside := req.Session.Log(context.Background(), &mcp.LoggingMessageParams{Level: "info", Data: "outside"})
				// Requests to the client: refused on a stateless session
				// (an elicitation already for the capabilities the session
				// was not given, a ping by the transport).
				_, errElicit := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "colour?"})
				errPing := req.Session.Ping(ctx, nil)
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{
					Text: "outside: " + errString(errOutside) + "; elicit: " + errString(errElicit) + "; ping: " + errString(errPing),
				}}}, summaryOut{Total: 2}, nil
			})
	}
	warmDispatch(tb, direct)
	return direct, plain
}

// warmDispatch sends e's stateless server a ping, answered directly
// through a session of its own: it shows the dispatcher that idgate's
// middleware is the one go-sdk calls, and tools/call is dispatched from
// then on.
func warmDispatch(tb testing.TB, e *env) {
	require.False(tb, mcpserver.DispatchOn(e.srv), "dispatcher on before any message went through a session")
	exchangeStateless(e.with(tb), directCase{body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`})
	require.True(tb, mcpserver.DispatchOn(e.srv), "dispatcher off after a message through a session")
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// exchangeStateless sends c's request to e with alice's token and no
// session.
func exchangeStateless(e *env, c directCase) answer {
	var h []string
	h = append(h, versionHeader(c.version)...)
	if c.session == "unknown" {
		h = append(h, "Mcp-Session-Id", "nope")
	}
	h = append(h, bearer(e.alice)...)
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	r := e.doReplacing(method, c.body, h, c.headers)
	return answer{
		Status: r.Status, ContentType: r.Header.Get("Content-Type"), Body: r.Body,
		Allow: r.Header.Get("Allow"), CacheHeader: r.Header.Get("Cache-Control"),
	}
}

// statelessCases are the requests TestStatelessDirectMatchesGoSDK
// compares: those of the stateful comparison that do not need a session,
// and some of a stateless server's own.
var statelessCases = func() []directCase {
	var out []directCase
	for _, c := range directCases {
		if c.session != "" || c.method == http.MethodGet || c.method == http.MethodDelete {
			continue
		}
		// Custom and unknown methods go go-sdk's way here: its stateless
		// transport knows the server's method table.
		c.direct = c.direct && !c.unknown && !strings.Contains(c.body, `"acme/`)
		c.unknown = false
		if c.name == "no version header" {
			c.direct = true // the call is served at 2025-03-26, as go-sdk serves it
		}
		if c.name == "2026-07-28 discover on a session" {
			c.direct = true // a clean discover, which a stateless server answers (sep2575.go)
		}
		out = append(out, c)
	}
	call := directCallBody
	return append(out,
		directCase{name: "session header ignored", body: call, session: "unknown", direct: true},
		directCase{name: "related messages", body: `{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{"name":"chatty","arguments":{}}}`, direct: true},
		directCase{name: "related messages 2025-11-25", body: `{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"chatty","arguments":{}}}`, version: "2025-11-25", direct: true},
		directCase{name: "initialize", body: initializeBody},
		directCase{name: "initialized notification", body: initializedMsg},
		directCase{name: "custom method 2025-03-26", body: `{"jsonrpc":"2.0","id":42,"method":"acme/search","params":{"q":"z"}}`, version: "2025-03-26"},
		directCase{name: "GET", method: http.MethodGet, headers: []string{"Accept", "text/event-stream"}},
		directCase{name: "DELETE", method: http.MethodDelete},
		directCase{name: "large id", body: `{"jsonrpc":"2.0","id":123456789012345,"method":"ping"}`, direct: true},
	)
}()

// compareStateless sends c to both servers and requires the same answer,
// and that direct answered it by the direct path exactly when c says so.
func compareStateless(t *testing.T, direct, plain *env, c directCase) {
	before, _ := mcpserver.StatelessDirectCalls(direct.srv)
	dispatched := mcpserver.DispatchedCalls(direct.srv)
	got := exchangeStateless(direct.with(t), c)
	after, _ := mcpserver.StatelessDirectCalls(direct.srv)
	want := exchangeStateless(plain.with(t), c)
	assert.Equal(t, c.direct, after > before, "answered by the direct path")
	assert.Equal(t, c.dispatched(), mcpserver.DispatchedCalls(direct.srv) > dispatched, "dispatched")
	assert.Equal(t, want, got)
}

// TestStatelessDirectMatchesGoSDK sends the same raw requests to a
// stateless server on the stateless direct transport and to one on
// go-sdk's handler, and requires the same status, Content-Type, headers
// compared and body, byte for byte; it also checks which requests the
// direct path answered.
func TestStatelessDirectMatchesGoSDK(t *testing.T) {
	direct, plain := statelessPair(t)
	for _, c := range statelessCases {
		t.Run(c.name, func(t *testing.T) { compareStateless(t, direct, plain, c) })
	}
	// The cases the comparison must cover answered directly.
	for _, name := range []string{"plain call", "string id", "tools/list", "ping", "tool error", "bad arguments", "unknown tool", "stream closed 2025-11-25", "related messages"} {
		i := slices.IndexFunc(statelessCases, func(c directCase) bool { return c.name == name })
		require.GreaterOrEqual(t, i, 0, name)
		require.True(t, statelessCases[i].direct, name)
	}
}

// jsonResponse sets Config.JSONResponse.
func jsonResponse(c *mcpserver.Config) { c.JSONResponse = true }

// TestStatelessJSONDirectMatchesGoSDK is TestStatelessDirectMatchesGoSDK
// with JSONResponse on both servers: the direct path answers the same
// plain calls, with their response alone as application/json.
func TestStatelessJSONDirectMatchesGoSDK(t *testing.T) {
	direct, plain := statelessPair(t, jsonResponse)
	for _, c := range statelessCases {
		t.Run(c.name, func(t *testing.T) { compareStateless(t, direct, plain, c) })
	}
	// A plain call's answer is the response's JSON alone.
	a := exchangeStateless(direct.with(t), directCase{body: callBody(5, "whoami")})
	require.Equal(t, "application/json", a.ContentType)
	require.True(t, strings.HasPrefix(a.Body, `{"jsonrpc":"2.0","id":5,"result":`), a.Body)
}

// FuzzStatelessJSONDirectMatchesGoSDK is TestStatelessJSONDirectMatchesGoSDK
// over any body and a choice of protocol versions.
func FuzzStatelessJSONDirectMatchesGoSDK(f *testing.F) { fuzzStateless(f, jsonResponse) }

// FuzzStatelessDirectMatchesGoSDK is TestStatelessDirectMatchesGoSDK over
// any body and a choice of protocol versions.
func FuzzStatelessDirectMatchesGoSDK(f *testing.F) { fuzzStateless(f) }

// fuzzStateless runs the stateless comparison on the pair of servers with
// opts over any body and a choice of protocol versions: both must give
// the same answer.
func fuzzStateless(f *testing.F, opts ...envOption) {
	seedFuzz(f, statelessCases)
	direct, plain := statelessPair(f, opts...)
	f.Fuzz(func(t *testing.T, body string, version uint8) {
		c := directCase{body: body, version: fuzzVersions[int(version)%len(fuzzVersions)]}
		got := exchangeStateless(direct.with(t), c)
		want := exchangeStateless(plain.with(t), c)
		if got != want {
			t.Fatalf("body %q, version %q:\ndirect: %+v\ngo-sdk: %+v", body, c.version, got, want)
		}
	})
}

// TestStatelessDirectLeavesNoGoroutines: the session the stateless direct
// path opens for each call is closed with it, its goroutines gone, also
// when the client goes away before the answer; at protocol 2026-07-28 as
// before it.
func TestStatelessDirectLeavesNoGoroutines(t *testing.T) {
	for _, version := range []string{"2025-06-18", vNew} {
		t.Run(version, func(t *testing.T) { statelessLeavesNoGoroutines(t, version) })
	}
}

func statelessLeavesNoGoroutines(t *testing.T, version string) {
	e := newEnv(t, stateless)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "block", Description: "waits"}, scopes.Public(),
		func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, summaryOut{}, nil
		})
	body := func(id int, tool string) (string, []string) {
		h := with(bearer(e.alice), []string{"Mcp-Protocol-Version", version})
		if version < vNew {
			return callBody(id, tool), h
		}
		return newBody(itoa(id), tool, "{}", newMeta), with(h, []string{"Mcp-Method", "tools/call", "Mcp-Name", tool})
	}
	call := func() {
		b, h := body(1, "whoami")
		r := e.do(http.MethodPost, "/mcp", b, h...)
		require.Equal(t, http.StatusOK, r.Status)
		require.Contains(t, r.Body, `"subject":"alice"`)
	}
	call() // warm the client's connection and the server
	before := runtime.NumGoroutine()
	n0, _ := mcpserver.StatelessDirectCalls(e.srv)
	for range 20 {
		call()
	}
	// A client that gives up while the tool runs.
	ctx, cancel := context.WithCancel(context.Background())
	b, h := body(2, "block")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.http.URL+"/mcp", strings.NewReader(b))
	require.NoError(t, err)
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Add(h[i], h[i+1])
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := e.http.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	<-done
	n1, _ := mcpserver.StatelessDirectCalls(e.srv)
	require.EqualValues(t, 21, n1-n0, "answered by the direct path")
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 5*time.Second, 20*time.Millisecond,
		"goroutines: %d before, %d after", before, runtime.NumGoroutine())
	close(release)
}

// TestStatelessTokenInfoOfCall: on both stateless transports a tool sees
// its caller's TokenInfo (UserID issuer|subject, the scopes of this very
// call's token), and the call's audit event names the tool and the
// decision.
func TestStatelessTokenInfoOfCall(t *testing.T) {
	direct, plain := statelessPair(t)
	n0, _ := mcpserver.StatelessDirectCalls(direct.srv)
	for _, e := range []*env{direct, plain} {
		addTokenInfoTool(e.srv)
		other := checkTokenInfo(t, e, "Mcp-Protocol-Version", "2025-06-18")
		// The step-up check refuses a call the token's scopes do not
		// cover, before the call reaches either transport.
		r := e.do(http.MethodPost, "/mcp", callBody(12, "salesWrite"),
			with(bearer(other), []string{"Mcp-Protocol-Version", "2025-06-18"})...)
		require.Equal(t, http.StatusForbidden, r.Status, r.Body)
		var tools []any
		for _, ev := range e.logs.events(t) {
			if ev["mcp_method"] == "tools/call" {
				tools = append(tools, ev["tool"], ev["decision"])
			}
		}
		require.Equal(t, []any{"tokeninfo", "allow", "tokeninfo", "allow", "salesWrite", "deny"}, tools)
	}
	n, _ := mcpserver.StatelessDirectCalls(direct.srv)
	require.EqualValues(t, 2, n-n0, "answered by the stateless direct transport")
	require.EqualValues(t, 2, mcpserver.DispatchedCalls(direct.srv), "dispatched")
}

// TestStatelessDirectWithoutAuthMatchesGoSDK is the comparison of
// TestStatelessDirectMatchesGoSDK on servers with InsecureDisableAuth,
// where the direct path reads the body itself (no step-up check has read
// it), with a body limit to overrun.
func TestStatelessDirectWithoutAuthMatchesGoSDK(t *testing.T) {
	noAuth := func(c *mcpserver.Config) {
		c.InsecureDisableAuth, c.Verifier, c.AuthorizationServers = true, nil, nil
		c.RateLimit.Disabled = true
		c.MaxBodyBytes = 4096
	}
	direct := newEnv(t, noAuth, stateless)
	plain := newEnv(t, noAuth, stateless, goSDKTransport)
	_, ok := mcpserver.StatelessDirectCalls(direct.srv)
	require.True(t, ok)
	warmDispatch(t, direct)
	for _, c := range statelessCases {
		if strings.Contains(c.body, "chatty") || strings.Contains(c.body, "closer") || strings.Contains(c.body, "acme/") || strings.Contains(c.body, `"gone"`) || strings.Contains(c.body, `"markup"`) {
			continue // tools and methods statelessPair adds
		}
		if c.name == "params too deep" {
			// Refused by the direct transport (400, nested too deeply:
			// TestDeepNestingRefused), as the scope check does with
			// authentication; go-sdk's handler decodes it.
			continue
		}
		t.Run(c.name, func(t *testing.T) { compareStateless(t, direct, plain, c) })
	}
	n, _ := mcpserver.StatelessDirectCalls(direct.srv)
	require.NotZero(t, n)

	// A body over the limit without Content-Length is refused while it is
	// read: here by the direct path, which reads it itself.
	big := `{"jsonrpc":"2.0","id":50,"method":"tools/call","params":{"name":"whoami","arguments":{},"pad":"` + strings.Repeat("x", 5000) + `"}}`
	chunked := func(e *env) answer {
		req, err := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", io.NopCloser(strings.NewReader(big)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		resp, err := e.http.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return answer{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: string(b)}
	}
	got, want := chunked(direct), chunked(plain)
	assert.Equal(t, want, got)
	assert.Equal(t, http.StatusRequestEntityTooLarge, got.Status)
	// Not idgate's early refusal ("request body too large"), which
	// Content-Length allows: the limit hit while reading.
	assert.Contains(t, got.Body, "request body exceeds 4096 bytes")
}

// TestStatelessNilResultAtNewProtocol: a tool whose handler returns no
// result answers with an empty one at protocol 2026-07-28, which go-sdk's
// client negotiates with a stateless server. go-sdk v1.8.0 annotates every
// result with its server info at that version and, given a raw handler's
// nil result, dereferences it in the handler's goroutine, ending the
// process; AddTool's wrappers (idgate's own for struct arguments, go-sdk's
// typed one for the rest) never hand it a nil result.
func TestStatelessNilResultAtNewProtocol(t *testing.T) {
	e := newEnv(t, stateless, func(c *mcpserver.Config) { c.RateLimit.Disabled = true })
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "nothingStruct"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			return nil, nil, nil
		})
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "nothingMap"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, map[string]any) (*mcp.CallToolResult, any, error) {
			return nil, nil, nil
		})
	cs, _ := e.connect(e.alice)
	require.Equal(t, "2026-07-28", cs.InitializeResult().ProtocolVersion, "go-sdk's client speaks the newest protocol to a stateless server")
	for _, name := range []string{"nothingStruct", "nothingMap", "nothingStruct"} {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: map[string]any{}})
		require.NoError(t, err, name)
		require.False(t, res.IsError, name)
		require.Empty(t, res.Content, name)
	}
}
