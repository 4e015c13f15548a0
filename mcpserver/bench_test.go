package mcpserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

const benchCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"salesRead","arguments":{}}}`

// benchServer serves h and returns a function that posts one tools/call
// with token ("" for none) and checks for a 200. With stateful, it opens a
// session first and sends every call on it.
func benchServer(b *testing.B, h http.Handler, token string, stateful bool) func() {
	hs := httptest.NewServer(h)
	b.Cleanup(hs.Close)
	client := hs.Client()
	sid := ""
	post := func(body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if stateful {
		sid = post(initializeBody).Header.Get("Mcp-Session-Id")
		post(initializedMsg)
	}
	return func() {
		if resp := post(benchCall); resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func benchTool(srv *mcpserver.Server, need scopes.Requirement) {
	mcpserver.AddTool(srv, &mcp.Tool{Name: "salesRead"}, need,
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
			return nil, summaryOut{Total: 42}, nil
		})
}

// BenchmarkToolsCall: one tools/call over HTTP through the whole chain
// (audit, origin, body limit, both rate limits, JWT verification with its
// cache warm, step-up check, go-sdk), stateless, JSON responses.
func BenchmarkToolsCall(b *testing.B) {
	benchFullChain(b, true)
}

// BenchmarkToolsCallStateful: the same on an open session, where go-sdk
// does not build a session per request.
func BenchmarkToolsCallStateful(b *testing.B) {
	benchFullChain(b, false)
}

func benchFullChain(b *testing.B, stateless bool) {
	iss := identitytest.NewIssuer(b)
	aud, err := audit.New(audit.Config{Logger: slog.New(slog.DiscardHandler), SubjectKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := mcpserver.New(mcpserver.Config{
		Name: "bench", PublicURL: publicURL, AuthorizationServers: []string{iss.URL()},
		Verifier: newVerifier(b, iss), Audit: aud, Stateless: stateless, JSONResponse: true,
		Logger: slog.New(slog.DiscardHandler),
		RateLimit: mcpserver.RateLimitConfig{
			User: mcpserver.Limit{Rate: 1 << 30, Period: time.Minute},
			IP:   mcpserver.Limit{Rate: 1 << 30, Period: time.Minute},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	benchTool(srv, scopes.All("crm:read"))
	call := benchServer(b, srv.Handler(), iss.Mint(b, identitytest.Subject("alice"), identitytest.Scopes("crm:read")), !stateless)
	call() // warm the verifier's key and token caches
	b.ReportAllocs()
	for b.Loop() {
		call()
	}
}

// BenchmarkToolsCallNoAuth: the same call with InsecureDisableAuth, no
// audit and no rate limits: what the idgate layers cost is the difference.
func BenchmarkToolsCallNoAuth(b *testing.B) {
	srv, err := mcpserver.New(mcpserver.Config{
		Name: "bench", PublicURL: publicURL, InsecureDisableAuth: true, Stateless: true, JSONResponse: true,
		RateLimit: mcpserver.RateLimitConfig{Disabled: true},
	})
	if err != nil {
		b.Fatal(err)
	}
	benchTool(srv, scopes.Public())
	call := benchServer(b, srv.Handler(), "", false)
	b.ReportAllocs()
	for b.Loop() {
		call()
	}
}

// BenchmarkToolsCallGoSDK: the same call on a bare go-sdk handler, for
// reference.
func BenchmarkToolsCallGoSDK(b *testing.B) {
	s := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "salesRead"}, func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
		return nil, summaryOut{Total: 42}, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	call := benchServer(b, mux, "", false)
	b.ReportAllocs()
	for b.Loop() {
		call()
	}
}
