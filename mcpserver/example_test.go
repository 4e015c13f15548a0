package mcpserver_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

type SalesQuery struct {
	Quarter string `json:"quarter"`
}

type SalesSummary struct {
	User    string `json:"user"`
	Quarter string `json:"quarter"`
	Total   int    `json:"total"`
}

// authTransport sends every request with a bearer token.
type authTransport string

func (t authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(t))
	return http.DefaultTransport.RoundTrip(r)
}

// A complete OAuth-protected MCP server, and a client calling it with a
// user's token. A user without the tool's scope gets a real 403 that tells
// the client which scope to ask for.
func Example() {
	// A test authorization server; in production, your identity provider.
	iss, err := identitytest.StartIssuer()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	ctx := context.Background()

	// The server: tokens must come from the issuer and name this server.
	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{"https://mcp.example.com/mcp"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	srv, err := mcpserver.New(mcpserver.Config{
		Name:                 "crm",
		PublicURL:            "https://mcp.example.com/mcp",
		AuthorizationServers: []string{iss.URL()},
		Verifier:             v,
	})
	if err != nil {
		log.Fatal(err)
	}
	mcpserver.AddTool(srv, &mcp.Tool{Name: "salesSummary", Description: "Sales of a quarter"},
		scopes.All("crm:read"),
		func(ctx context.Context, req *mcp.CallToolRequest, in SalesQuery) (*mcp.CallToolResult, SalesSummary, error) {
			who := mcpserver.IdentityFrom(req)
			return nil, SalesSummary{User: who.Subject, Quarter: in.Quarter, Total: 42}, nil
		})
	hs := httptest.NewServer(srv.Handler()) // in production: an http.Server with ReadHeaderTimeout (see the package doc)
	defer hs.Close()

	// Alice may read the CRM.
	alice, err := iss.MintToken(identitytest.Subject("alice"), identitytest.Scopes("crm:read"))
	if err != nil {
		log.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "example", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   hs.URL + "/mcp",
		HTTPClient: &http.Client{Transport: authTransport(alice)},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "salesSummary", Arguments: map[string]any{"quarter": "Q4"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)

	// Bob may not: 403 before the tool runs.
	bob, _ := iss.MintToken(identitytest.Subject("bob"))
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"salesSummary","arguments":{"quarter":"Q4"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+bob)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))

	// Output:
	// {"quarter":"Q4","total":42,"user":"alice"}
	// 403 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="crm:read", error="insufficient_scope"
}

// Options for clients in the field: resumable SSE streams, and step-up
// challenges that also name the scopes the caller holds, for clients (such
// as the TypeScript SDK 1.32) that re-authorize with exactly the
// challenge's scopes and would otherwise drop the ones they had.
func ExampleConfig_clientCompatibility() {
	iss, err := identitytest.StartIssuer()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{"https://mcp.example.com/mcp"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	srv, err := mcpserver.New(mcpserver.Config{
		Name:                       "crm",
		PublicURL:                  "https://mcp.example.com/mcp",
		AuthorizationServers:       []string{iss.URL()},
		Verifier:                   v,
		EventStore:                 mcp.NewMemoryEventStore(nil),
		StepUpIncludeGrantedScopes: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	type none struct{}
	for _, tool := range []struct{ name, scope string }{{"salesSummary", "crm:read"}, {"notes", "notes:read"}} {
		mcpserver.AddTool(srv, &mcp.Tool{Name: tool.name}, scopes.All(tool.scope),
			func(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
			})
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	// Bob holds notes:read and calls salesSummary: the challenge asks for
	// crm:read and keeps notes:read (never a scope the server does not
	// advertise, such as email).
	bob, err := iss.MintToken(identitytest.Subject("bob"), identitytest.Scopes("notes:read", "email"))
	if err != nil {
		log.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"salesSummary","arguments":{}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+bob)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))

	// Output:
	// 403 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="crm:read notes:read", error="insufficient_scope"
}
