package everything_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/internal/interop/everything"
	"github.com/idgate/idgate/mcpserver"
)

// bearer adds a bearer token to every request.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// Start the everything server behind idgate, and call one of its tools
// with a token that has every scope.
func Example() {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	publicURL := "http://" + ln.Addr().String() + "/mcp"

	iss, err := identitytest.StartIssuer(identitytest.WithAudience(publicURL))
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{publicURL}})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := everything.New(mcpserver.Config{
		Name:                 "everything",
		PublicURL:            publicURL,
		AuthorizationServers: []string{iss.URL()},
		Verifier:             v,
	})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	defer hs.Close()

	tok, err := iss.MintToken(identitytest.Scopes(everything.Scopes()...))
	if err != nil {
		log.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "example", Version: "1.0.0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             publicURL,
		HTTPClient:           &http.Client{Transport: bearer(tok)},
		DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)
	// Output: This is a simple text response for testing.
}
