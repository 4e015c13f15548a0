package idgate_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// The README's first use: protect an existing net/http service, no MCP.
func Example_embedding() {
	iss, err := identitytest.StartIssuer() // in production: your identity provider
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	ctx := context.Background()

	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{"https://api.example.com/reports"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	reports := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := identity.FromContext(r.Context())
		fmt.Fprintf(w, "reports for %s", id.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("/reports/", identity.Middleware(v, identity.MiddlewareConfig{
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource/reports",
	})(reports))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tok, err := iss.MintToken(identitytest.Subject("alice"), identitytest.Audience("https://api.example.com/reports"))
	if err != nil {
		log.Fatal(err)
	}
	for _, auth := range []string{"Bearer " + tok, ""} {
		req, _ := http.NewRequest("GET", srv.URL+"/reports/q4", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			fmt.Println(h)
		}
	}
	// Output:
	// 200 reports for alice
	// 401 {"error":"unauthorized","error_description":"missing bearer token"}
	// Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/reports"
}

type SalesQuery struct {
	Quarter string `json:"quarter" jsonschema:"the quarter, such as 2025-Q2"`
}

type SalesSummary struct {
	User    string `json:"user"`
	Quarter string `json:"quarter"`
}

// The README's second use: a complete OAuth-protected MCP server.
func Example_mcpServer() {
	iss, err := identitytest.StartIssuer()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{"https://api.example.com/mcp"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	srv, err := mcpserver.New(mcpserver.Config{
		Name:                 "crm",
		PublicURL:            "https://api.example.com/mcp",
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
			return nil, SalesSummary{User: who.Subject, Quarter: in.Quarter}, nil
		})
	// Served with a timeout on the request headers (the MCP endpoint bounds
	// bodies itself: Config.BodyReadTimeout), on a free loopback port here.
	hs := &http.Server{
		Addr:              "127.0.0.1:0", // the README: ":8080"
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", hs.Addr)
	if err != nil {
		log.Fatal(err)
	}
	go hs.Serve(ln) // the README: log.Fatal(hs.ListenAndServe())
	defer hs.Close()

	// The protected-resource metadata that clients discover.
	resp, err := http.Get("http://" + ln.Addr().String() + "/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(strings.Contains(string(body), `"resource":"https://api.example.com/mcp"`),
		strings.Contains(string(body), `"scopes_supported":["crm:read"]`))
	// Output:
	// true true
}
