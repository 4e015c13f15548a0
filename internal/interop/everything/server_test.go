package everything_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
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
	content := []string{"json_schema_2020_12_tool", "test_audio_content", "test_embedded_resource", "test_image_content", "test_multiple_content_types", "test_simple_text"}
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
