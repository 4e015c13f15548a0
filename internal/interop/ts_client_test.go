package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/internal/interop"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// tsSpec is the input of ts-client.mjs.
type tsSpec struct {
	URL     string `json:"url"`
	Token   string `json:"token,omitempty"`
	Browser string `json:"browser,omitempty"`
	// TokenURL, when set, is where the driver fetches a fresh token every
	// 100 ms (instead of Token).
	TokenURL string   `json:"tokenUrl,omitempty"`
	Steps    []tsStep `json:"steps"`
}

type tsStep struct {
	Op   string         `json:"op"`
	Name string         `json:"name,omitempty"`
	Args map[string]any `json:"args,omitempty"`
	MS   int            `json:"ms,omitempty"` // "wait"
}

// tsLine is one line of ts-client.mjs output: the outcome of one step.
type tsLine struct {
	Op           string          `json:"op"`
	OK           bool            `json:"ok"`
	Result       json.RawMessage `json:"result"`
	Error        string          `json:"error"`
	Redirect     string          `json:"redirect"`
	Reauthorized bool            `json:"reauthorized"`
	Protocol     string          `json:"protocol"`
	HTTP         []tsExchange    `json:"http"`
}

// tsExchange is one HTTP exchange the SDK made.
type tsExchange struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	Status          int    `json:"status"`
	WWWAuthenticate string `json:"wwwAuthenticate"`
}

// toolsResult and callResult are the parts of MCP results the tests read.
type toolsResult struct {
	Tools []struct {
		Name string `json:"name"`
	} `json:"tools"`
}

type callResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent map[string]any `json:"structuredContent"`
	IsError           bool           `json:"isError"`
}

// runTS runs ts-client.mjs with spec and returns its lines: "connect",
// then one per step.
func runTS(t *testing.T, spec tsSpec) []tsLine {
	t.Helper()
	return runDriver[tsLine](t, "ts-client.mjs", spec)
}

// runDriver runs the node driver program with spec, its one argument, as
// JSON, and returns its output lines decoded as L.
func runDriver[L any](t *testing.T, program string, spec any) []L {
	t.Helper()
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	res := interop.Run(t, 60*time.Second, nil, program, string(b))
	require.Zero(t, res.ExitCode, res.String())
	var lines []L
	for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var line L
		require.NoError(t, json.Unmarshal([]byte(l), &line), "output line %q\n%s", l, res)
		lines = append(lines, line)
	}
	return lines
}

func (l tsLine) toolNames(t *testing.T) []string {
	t.Helper()
	return toolNames(t, l.Result)
}

func (l tsLine) call(t *testing.T) callResult {
	t.Helper()
	return decodeCall(t, l.Op, l.OK, l.Error, l.Result)
}

// toolNames returns the names of the tools in a tools/list result, sorted.
func toolNames(t *testing.T, result json.RawMessage) []string {
	t.Helper()
	var r toolsResult
	require.NoError(t, json.Unmarshal(result, &r))
	var names []string
	for _, tool := range r.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// decodeCall requires a driver's step op to have succeeded and returns
// its tools/call result.
func decodeCall(t *testing.T, op string, ok bool, errText string, result json.RawMessage) callResult {
	t.Helper()
	require.True(t, ok, "%s failed: %s", op, errText)
	var r callResult
	require.NoError(t, json.Unmarshal(result, &r))
	return r
}

// TestTypeScriptSDKClient drives the official TypeScript SDK client
// (@modelcontextprotocol/sdk, pinned) against an idgate server, stateful and
// stateless: tools/list filtered per user, tools/call with content and
// structuredContent, the 401 and 403 challenges the SDK acts on, and a
// complete step-up (SPEC 6, 10, clients in the field).
func TestTypeScriptSDKClient(t *testing.T) {
	for _, mode := range []struct {
		name      string
		stateless bool
	}{{"stateful", false}, {"stateless", true}} {
		t.Run(mode.name, func(t *testing.T) {
			d := newDemo(t, mode.stateless)
			alice := d.token(t, "alice", scopeEcho, scopeSales)
			bob := d.token(t, "bob", scopeEcho)
			carol := d.token(t, "carol")

			t.Run("tools/list is filtered per user", func(t *testing.T) {
				tests := []struct {
					name  string
					token string
					want  []string
				}{
					{"alice with demo.echo and crm:read sees every tool", alice, []string{"echo", "salesSummary", "whoami"}},
					{"bob with demo.echo does not see salesSummary", bob, []string{"echo", "whoami"}},
					{"carol without scopes sees the public tool only", carol, []string{"whoami"}},
				}
				for _, tc := range tests {
					t.Run(tc.name, func(t *testing.T) {
						lines := runTS(t, tsSpec{URL: d.url, Token: tc.token, Steps: []tsStep{{Op: "list"}}})
						require.Len(t, lines, 2)
						require.True(t, lines[0].OK, "connect: %s", lines[0].Error)
						require.True(t, lines[1].OK, "list: %s", lines[1].Error)
						require.Equal(t, tc.want, lines[1].toolNames(t))
					})
				}
			})

			t.Run("tools/call returns content and structuredContent", func(t *testing.T) {
				lines := runTS(t, tsSpec{URL: d.url, Token: alice, Steps: []tsStep{
					{Op: "call", Name: "echo", Args: map[string]any{"message": "hi"}},
					{Op: "call", Name: "salesSummary", Args: map[string]any{"quarter": "2026-Q3"}},
					{Op: "ping"},
				}})
				require.Len(t, lines, 4)
				require.True(t, lines[0].OK, "connect: %s", lines[0].Error)
				require.NotEmpty(t, lines[0].Protocol, "the SDK negotiated a protocol version")

				echo := lines[1].call(t)
				require.False(t, echo.IsError)
				require.Equal(t, map[string]any{"message": "hi", "user": "alice"}, echo.StructuredContent)
				require.Len(t, echo.Content, 1)
				require.Equal(t, "text", echo.Content[0].Type)
				require.JSONEq(t, `{"message":"hi","user":"alice"}`, echo.Content[0].Text)

				sales := lines[2].call(t)
				require.False(t, sales.IsError)
				require.Equal(t, map[string]any{"user": "alice", "quarter": "2026-Q3", "total": float64(42)}, sales.StructuredContent)

				require.True(t, lines[3].OK, "ping: %s", lines[3].Error)
			})

			t.Run("without a token the SDK follows the 401 challenge", func(t *testing.T) {
				lines := runTS(t, tsSpec{URL: d.url, Steps: []tsStep{{Op: "list"}}})
				require.Len(t, lines, 1, "the connection fails")
				require.False(t, lines[0].OK)
				posts := mcpPosts(lines[0].HTTP, d.url)
				require.NotEmpty(t, posts)
				first := posts[0]
				require.Equal(t, http.StatusUnauthorized, first.Status)
				require.Equal(t, `Bearer resource_metadata="`+d.prmURL+`", scope="crm:read demo.echo"`, first.WWWAuthenticate)
				requireFetched(t, lines[0].HTTP, http.MethodGet, d.prmURL, http.StatusOK)

				auth := parseAuthorizationURL(t, d, lines[0].Redirect)
				require.Equal(t, "crm:read demo.echo", auth.Get("scope"), "the SDK asks for the scopes of the 401 challenge")
			})

			t.Run("a call lacking a scope gets the 403 step-up, and the SDK steps up", func(t *testing.T) {
				b := newBrowser(t, "bob")
				lines := runTS(t, tsSpec{URL: d.url, Token: bob, Browser: b.srv.URL, Steps: []tsStep{
					{Op: "call", Name: "salesSummary"},
					{Op: "call", Name: "whoami"},
					{Op: "call", Name: "echo", Args: map[string]any{"message": "hi"}},
				}})
				require.Len(t, lines, 4)
				require.True(t, lines[0].OK, "connect: %s", lines[0].Error)

				step := lines[1]
				require.True(t, step.Reauthorized, "the SDK must have re-authorized: %+v", step)
				posts := mcpPosts(step.HTTP, d.url)
				require.Len(t, posts, 2, "the call, refused, then retried: %+v", step.HTTP)
				// The first answer is the 403 with the exact challenge.
				first := posts[0]
				require.Equal(t, http.StatusForbidden, first.Status)
				require.Equal(t, d.challenge403(scopeSales), first.WWWAuthenticate)
				// The SDK followed resource_metadata to the authorization
				// server and sent the user there for exactly crm:read, for
				// this resource.
				requireFetched(t, step.HTTP, http.MethodGet, d.prmURL, http.StatusOK)
				auth := parseAuthorizationURL(t, d, step.Redirect)
				require.Equal(t, scopeSales, auth.Get("scope"))
				require.Equal(t, []string{step.Redirect}, b.visited())
				// It exchanged the code for a token and the retried call
				// went through.
				requireFetched(t, step.HTTP, http.MethodPost, d.iss.TokenURL(), http.StatusOK)
				require.Equal(t, http.StatusOK, posts[1].Status)
				require.Empty(t, posts[1].WWWAuthenticate)
				sales := step.call(t)
				require.Equal(t, map[string]any{"user": "bob", "quarter": "2026-Q4", "total": float64(42)}, sales.StructuredContent)

				// The session (if any) carries on with the new token, still
				// bob's.
				who := lines[2].call(t)
				require.Equal(t, "bob", who.StructuredContent["subject"])
				require.Contains(t, who.StructuredContent["scopes"], scopeSales)

				// The SDK replaced bob's scopes with the challenge's: his
				// new token lacks demo.echo, which he held before, and echo
				// is refused now (the SDK's own recovery, a refresh, cannot
				// add a scope). TestTypeScriptSDKStepUpKeepsScopes shows
				// the option that avoids this.
				require.Equal(t, []any{scopeSales}, who.StructuredContent["scopes"])
				echo := lines[3]
				require.False(t, echo.OK, "bob lost echo: %+v", echo)
				echoPosts := mcpPosts(echo.HTTP, d.url)
				require.NotEmpty(t, echoPosts)
				for _, e := range echoPosts {
					require.Equal(t, http.StatusForbidden, e.Status)
					require.Equal(t, d.challenge403(scopeEcho), e.WWWAuthenticate)
				}
			})

			d.requireNoTokenLogged(t, alice, bob, carol)
		})
	}
}

// TestTypeScriptSDKStepUpKeepsScopes drives the TypeScript SDK client
// against a server with Config.StepUpIncludeGrantedScopes: the SDK
// re-authorizes with exactly the challenge's scopes, which now include
// what bob already held, so after one step-up his new token carries both
// demo.echo and crm:read and he calls both tools without another sign-in.
func TestTypeScriptSDKStepUpKeepsScopes(t *testing.T) {
	for _, mode := range []struct {
		name      string
		stateless bool
	}{{"stateful", false}, {"stateless", true}} {
		t.Run(mode.name, func(t *testing.T) {
			d := newDemo(t, mode.stateless, func(c *mcpserver.Config) { c.StepUpIncludeGrantedScopes = true })
			bob := d.token(t, "bob", scopeEcho)
			b := newBrowser(t, "bob")
			lines := runTS(t, tsSpec{URL: d.url, Token: bob, Browser: b.srv.URL, Steps: []tsStep{
				{Op: "call", Name: "salesSummary"},
				{Op: "call", Name: "echo", Args: map[string]any{"message": "still here"}},
				{Op: "call", Name: "salesSummary", Args: map[string]any{"quarter": "2026-Q3"}},
				{Op: "call", Name: "whoami"},
				{Op: "list"},
			}})
			require.Len(t, lines, 6)
			require.True(t, lines[0].OK, "connect: %s", lines[0].Error)

			// The step-up: a 403 asking for crm:read and what bob holds.
			step := lines[1]
			require.True(t, step.Reauthorized, "the SDK must have re-authorized: %+v", step)
			posts := mcpPosts(step.HTTP, d.url)
			require.Len(t, posts, 2, "the call, refused, then retried: %+v", step.HTTP)
			require.Equal(t, http.StatusForbidden, posts[0].Status)
			require.Equal(t, d.challenge403(scopeSales+" "+scopeEcho), posts[0].WWWAuthenticate)
			auth := parseAuthorizationURL(t, d, step.Redirect)
			require.Equal(t, scopeSales+" "+scopeEcho, auth.Get("scope"), "the SDK asks for the challenge's scopes")
			require.Equal(t, http.StatusOK, posts[1].Status)
			require.Equal(t, map[string]any{"user": "bob", "quarter": "2026-Q4", "total": float64(42)}, step.call(t).StructuredContent)

			// Then both tools, with no other challenge or sign-in.
			for _, l := range lines[2:] {
				require.True(t, l.OK, "%s: %s", l.Op, l.Error)
				require.False(t, l.Reauthorized, "%s needed another sign-in", l.Op)
				for _, e := range mcpPosts(l.HTTP, d.url) {
					require.Equal(t, http.StatusOK, e.Status, "%s: %+v", l.Op, e)
				}
			}
			require.Equal(t, map[string]any{"message": "still here", "user": "bob"}, lines[2].call(t).StructuredContent)
			require.Equal(t, map[string]any{"user": "bob", "quarter": "2026-Q3", "total": float64(42)}, lines[3].call(t).StructuredContent)
			who := lines[4].call(t)
			require.Equal(t, "bob", who.StructuredContent["subject"])
			require.Equal(t, []any{scopeSales, scopeEcho}, who.StructuredContent["scopes"], "the new token carries both")
			require.Equal(t, []string{"echo", "salesSummary", "whoami"}, lines[5].toolNames(t))
			require.Len(t, b.visited(), 1, "one sign-in in all")

			d.requireNoTokenLogged(t, bob)
		})
	}
}

// parseAuthorizationURL checks that raw is an authorization request to the
// demo's issuer, for the demo's resource, from the driver's client with
// PKCE S256, and returns its query.
func parseAuthorizationURL(t *testing.T, d *demo, raw string) url.Values {
	t.Helper()
	require.NotEmpty(t, raw, "the SDK sent the user to no authorization URL")
	u, err := url.Parse(raw)
	require.NoError(t, err)
	q := u.Query()
	u.RawQuery = ""
	require.Equal(t, d.iss.AuthorizationURL(), u.String())
	require.Equal(t, d.url, q.Get("resource"), "RFC 8707 resource = the metadata's resource = PublicURL")
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, tsClientID, q.Get("client_id"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.NotEmpty(t, q.Get("code_challenge"))
	return q
}

// mcpPosts returns the POSTs to the MCP endpoint among exchanges, in
// order. (In stateful mode the log also has the SDK's standalone GET
// stream, opened in the background.)
func mcpPosts(exchanges []tsExchange, mcpURL string) []tsExchange {
	var posts []tsExchange
	for _, e := range exchanges {
		if e.Method == http.MethodPost && e.URL == mcpURL {
			posts = append(posts, e)
		}
	}
	return posts
}

// requireFetched fails unless the exchanges include method url answered
// with status.
func requireFetched(t *testing.T, exchanges []tsExchange, method, url string, status int) {
	t.Helper()
	for _, e := range exchanges {
		if e.Method == method && e.URL == url && e.Status == status {
			return
		}
	}
	t.Fatalf("no %s %s answered %d among %+v", method, url, status, exchanges)
}

// TestTypeScriptSDKStreamAcrossTokens: the server ends a session's GET
// stream when its token expires; the TypeScript SDK client, refreshing its
// token ahead of expiry, reconnects each time with the priming event's id
// as Last-Event-ID (which go-sdk alone would refuse without an
// EventStore), gets a new stream every time, and still receives the
// session's notifications on the latest one.
func TestTypeScriptSDKStreamAcrossTokens(t *testing.T) {
	d := newDemo(t, false)
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tok, err := d.iss.MintToken(identitytest.Subject("alice"), identitytest.Scopes(scopeEcho), identitytest.ExpiresIn(1500*time.Millisecond))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, tok)
	}))
	defer tokens.Close()

	// After several streams have ended, the tool list changes every 300
	// ms (a notification sent between two streams is lost: there is no
	// EventStore).
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-stop:
			return
		case <-time.After(5500 * time.Millisecond):
		}
		for i := 0; ; i++ {
			mcpserver.AddTool(d.srv, &mcp.Tool{Name: fmt.Sprintf("added%d", i)}, scopes.Public(),
				func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
					return &mcp.CallToolResult{}, nil, nil
				})
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()

	lines := runTS(t, tsSpec{URL: d.url, TokenURL: tokens.URL, Steps: []tsStep{
		{Op: "wait", MS: 8000},
		{Op: "call", Name: "echo", Args: map[string]any{"message": "still here"}},
	}})
	require.Len(t, lines, 3)
	require.True(t, lines[0].OK, "connect: %s", lines[0].Error)
	wait := lines[1]
	require.True(t, wait.OK, "wait: %s", wait.Error)
	var got struct {
		ListChanged int `json:"listChanged"`
	}
	require.NoError(t, json.Unmarshal(wait.Result, &got))
	require.Positive(t, got.ListChanged, "a notification reached the client's latest stream")
	gets := 0
	for _, e := range wait.HTTP {
		if e.Method == http.MethodGet && e.URL == d.url {
			require.Equal(t, http.StatusOK, e.Status, "every reconnection opens a stream: %+v", wait.HTTP)
			gets++
		}
	}
	require.GreaterOrEqual(t, gets, 3, "the stream ended with each token and the client reconnected: %+v", wait.HTTP)
	echo := lines[2].call(t)
	require.Equal(t, map[string]any{"message": "still here", "user": "alice"}, echo.StructuredContent)
}
