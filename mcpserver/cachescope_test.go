package mcpserver_test

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
)

// TestResourceReadPrivateByDefault: a resources/read result is produced
// per call, by a handler that sees the caller (identity.FromContext), so
// unless its handler says otherwise it is marked cacheScope "private": a
// shared cache must not serve one user's answer to another. go-sdk marks
// it "public" when the handler leaves the scope unset. A handler's own
// "public" stands, and the lists, the same for every caller, stay public.
func TestResourceReadPrivateByDefault(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []envOption
	}{
		{"sessions", nil},
		{"stateless", []envOption{stateless}},
		{"stateless gosdk", []envOption{stateless, goSDKTransport}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			e.srv.MCPServer().AddResource(&mcp.Resource{Name: "me", URI: "user:///me", MIMEType: "text/plain"},
				func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
					who := "anonymous"
					if id, ok := identity.FromContext(ctx); ok {
						who = id.Subject
					}
					return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: who}}}, nil
				})
			e.srv.MCPServer().AddResource(&mcp.Resource{Name: "terms", URI: "doc:///terms", MIMEType: "text/plain"},
				func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
					return &mcp.ReadResourceResult{Cacheable: mcp.Cacheable{CacheScope: "public", TTLMs: 60_000},
						Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "the same for all"}}}, nil
				})
			ctx := context.Background()
			for _, tok := range []struct{ token, subject string }{{e.alice, "alice"}, {e.bob, "bob"}} {
				cs, _ := e.connect(tok.token)
				me, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "user:///me"})
				require.NoError(t, err)
				require.Equal(t, tok.subject, me.Contents[0].Text)
				require.Equal(t, "private", me.CacheScope, "a per-user resource marked shareable")
				terms, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "doc:///terms"})
				require.NoError(t, err)
				require.Equal(t, "public", terms.CacheScope, "the handler's own scope stands")
				require.Equal(t, 60_000, terms.TTLMs)
				list, err := cs.ListResources(ctx, nil)
				require.NoError(t, err)
				require.Equal(t, "public", list.CacheScope)
				tools, err := cs.ListTools(ctx, nil)
				require.NoError(t, err)
				require.Equal(t, "private", tools.CacheScope)
			}
		})
	}
}
