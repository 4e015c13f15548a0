package everything_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/internal/interop/everything"
	"github.com/idgate/idgate/mcpserver"
)

// env is an everything server over real HTTP and its issuer.
type env struct {
	url string
	iss *identitytest.Issuer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e := &env{url: "http://" + ln.Addr().String() + "/mcp"}
	e.iss = identitytest.NewIssuer(t, identitytest.WithAudience(e.url))
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{Issuer: e.iss.URL(), Audiences: []string{e.url}})
	require.NoError(t, err)
	srv, err := everything.New(mcpserver.Config{Name: "everything", PublicURL: e.url, AuthorizationServers: []string{e.iss.URL()}, Verifier: v})
	require.NoError(t, err)
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return e
}

// connect opens an MCP session with a token carrying scope.
func (e *env) connect(t *testing.T, scope ...string) *mcp.ClientSession {
	t.Helper()
	tok := e.iss.Mint(t, identitytest.Scopes(scope...))
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             e.url,
		HTTPClient:           &http.Client{Transport: bearer(tok)},
		DisableStandaloneSSE: true,
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { cs.Close() })
	return cs
}

func TestToolsByScope(t *testing.T) {
	e := newEnv(t)
	content := []string{"json_schema_2020_12_tool", "test_audio_content", "test_embedded_resource", "test_image_content", "test_multiple_content_types", "test_reconnection", "test_simple_text"}
	notify := []string{"test_tool_with_logging", "test_tool_with_progress"}
	client := []string{"test_elicitation", "test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums", "test_sampling"}
	public := []string{"test_error_handling"}
	tests := []struct {
		name  string
		scope []string
		want  []string
	}{
		{"every scope: every tool", everything.Scopes(), slices.Concat(content, notify, client, public)},
		{"content only", []string{everything.ScopeContent}, slices.Concat(content, public)},
		{"notify only", []string{everything.ScopeNotify}, slices.Concat(notify, public)},
		{"client only", []string{everything.ScopeClient}, slices.Concat(client, public)},
		{"no scope: the public tool", nil, public},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.connect(t, tc.scope...).ListTools(context.Background(), nil)
			require.NoError(t, err)
			var names []string
			for _, tool := range res.Tools {
				names = append(names, tool.Name)
				require.NotEmpty(t, tool.Description, tool.Name)
				require.NotNil(t, tool.InputSchema, tool.Name)
			}
			require.ElementsMatch(t, tc.want, names)
		})
	}
}

func TestResourcesAndCompletion(t *testing.T) {
	cs := newEnv(t).connect(t)
	ctx := context.Background()
	tests := []struct {
		uri      string
		wantErr  bool
		wantText string
	}{
		{"test://static-text", false, "This is the content of the static text resource."},
		{"test://template/123/data", false, `{"data":"Data for ID: 123","id":"123","templateTest":true}`},
		{"test://template//data", true, ""},
		{"test://template/a/b/data", true, ""},
		{"test://nothing", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: tc.uri})
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Len(t, res.Contents, 1)
			require.Equal(t, tc.uri, res.Contents[0].URI)
			require.Equal(t, tc.wantText, res.Contents[0].Text)
		})
	}

	t.Run("completion", func(t *testing.T) {
		res, err := cs.Complete(ctx, &mcp.CompleteParams{
			Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "test_prompt_with_arguments"},
			Argument: mcp.CompleteParamsArgument{Name: "arg1", Value: "par"},
		})
		require.NoError(t, err)
		require.Equal(t, []string{"paris", "park", "party"}, res.Completion.Values)
	})
	t.Run("subscribing to an unknown resource is refused", func(t *testing.T) {
		require.Error(t, cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://nothing"}))
		require.NoError(t, cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://watched-resource"}))
	})
}

func TestNewRefusesHandlersItSets(t *testing.T) {
	_, err := everything.New(mcpserver.Config{
		Name:                "everything",
		PublicURL:           "http://127.0.0.1:1/mcp",
		InsecureDisableAuth: true,
		ServerOptions:       &mcp.ServerOptions{CompletionHandler: func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) { return nil, nil }},
	})
	require.ErrorContains(t, err, "must not set CompletionHandler")
}

// test_reconnection closes its stream before answering; go-sdk's client
// resumes it with Last-Event-ID from the server's event store and gets the
// answer. A client of an older protocol, which cannot resume, gets the
// answer on its stream.
func TestReconnection(t *testing.T) {
	e := newEnv(t)
	t.Run("go-sdk client resumes", func(t *testing.T) {
		tok := e.iss.Mint(t, identitytest.Scopes(everything.ScopeContent))
		client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1.0.0"}, nil)
		var gets atomic.Int32
		cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
			Endpoint:             e.url,
			HTTPClient:           &http.Client{Transport: countGets{bearer(tok), &gets}},
			DisableStandaloneSSE: true,
		}, nil)
		require.NoError(t, err)
		t.Cleanup(func() { cs.Close() })
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "test_reconnection"})
		require.NoError(t, err)
		require.False(t, res.IsError)
		require.Contains(t, res.Content[0].(*mcp.TextContent).Text, "Reconnection test completed")
		require.Equal(t, int32(1), gets.Load(), "the answer came on one resumed stream")
	})
	t.Run("an older client gets the answer on its stream", func(t *testing.T) {
		tok := e.iss.Mint(t, identitytest.Scopes(everything.ScopeContent))
		post := func(sid, body string) *http.Response {
			req, err := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
			if sid != "" {
				req.Header.Set("Mcp-Session-Id", sid)
			}
			resp, err := bearer(tok).RoundTrip(req)
			require.NoError(t, err)
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		resp := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		sid := resp.Header.Get("Mcp-Session-Id")
		require.Equal(t, http.StatusAccepted, post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).StatusCode)
		resp = post(sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_reconnection","arguments":{}}}`)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Contains(t, string(body), "Reconnection test completed")
		require.NotContains(t, string(body), "event: prime", "no priming event for this protocol version")
	})
}

// countGets counts the GET requests it forwards.
type countGets struct {
	next http.RoundTripper
	n    *atomic.Int32
}

func (c countGets) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}
