package mcpserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

type echoIn struct {
	Message string `json:"message"`
}

func echoTool(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Echo: " + in.Message}}}, nil, nil
}

const benchEchoCall = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`

// benchEchoCallMeta is benchEchoCall as go-sdk's client sends it at
// protocol 2026-07-28: with the per-request _meta of SEP-2575 (and the
// Mcp-Method and Mcp-Name headers).
const benchEchoCallMeta = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo","arguments":{"message":"hello"}}}`

// handlerCall returns a function that serves one tools/call echo on h
// directly (no network, no client: the figures are the server's own work),
// on a session opened first when stateful.
func handlerCall(b *testing.B, h http.Handler, token string, stateful bool) func() {
	return protocolCall(b, h, token, stateful, "2025-06-18")
}

// protocolCall is handlerCall at protocol version: from 2026-07-28 on, the
// call as go-sdk's client sends it then (benchEchoCallMeta), which only a
// stateless server takes.
func protocolCall(b *testing.B, h http.Handler, token string, stateful bool, version string) func() {
	sid := ""
	serve := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("Mcp-Protocol-Version", version)
		if body == benchEchoCallMeta {
			r.Header.Set("Mcp-Method", "tools/call")
			r.Header.Set("Mcp-Name", "echo")
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		if sid != "" {
			r.Header.Set("Mcp-Session-Id", sid)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if stateful {
		sid = serve(initializeBody).Header().Get("Mcp-Session-Id")
		if sid == "" {
			b.Fatal("no session")
		}
		serve(initializedMsg)
	}
	call := benchEchoCall
	if version >= "2026-07-28" {
		call = benchEchoCallMeta
	}
	return func() {
		w := serve(call)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Echo: hello") {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkHandler serves one tools/call echo through Server.Handler
// without a network or a client, so that ns/op is the server's CPU per
// call: "chain" is the whole idgate chain (audit to audit.JSONHandler on
// io.Discard, Origin policy, body limit, both rate limits, JWT verification
// with the token cached, step-up check, session binding); "noauth" the
// same server with InsecureDisableAuth and neither audit nor rate limits;
// "auth" authentication alone (the chain without audit and rate limits);
// "gosdk" go-sdk's handler alone. The chain's cost is chain − noauth.
// chain, auth and noauth run on idgate's direct transports, stateful (the
// default) and stateless; gosdk is go-sdk's handler in the same mode.
func BenchmarkHandler(b *testing.B) {
	iss := identitytest.NewIssuer(b)
	token := iss.Mint(b, identitytest.Subject("alice"), identitytest.Scopes("echo"))
	chain := func(b *testing.B, stateless bool) http.Handler { return echoServer(b, iss, "chain", stateless) }
	auth := func(b *testing.B, stateless bool) http.Handler { return echoServer(b, iss, "auth", stateless) }
	noauth := func(b *testing.B, stateless bool) http.Handler { return echoServer(b, iss, "noauth", stateless) }
	gosdk := func(_ *testing.B, stateless bool) http.Handler {
		s := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
		mcp.AddTool(s, &mcp.Tool{Name: "echo"}, echoTool)
		return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: stateless})
	}
	for _, mode := range []struct {
		name      string
		stateless bool
	}{{"stateful", false}, {"stateless", true}} {
		for _, bc := range []struct {
			name  string
			h     func(*testing.B, bool) http.Handler
			token string
		}{
			{"chain", chain, token},
			{"auth", auth, token},
			{"noauth", noauth, ""},
			{"gosdk", gosdk, ""},
		} {
			b.Run(mode.name+"/"+bc.name, func(b *testing.B) {
				call := handlerCall(b, bc.h(b, mode.stateless), bc.token, !mode.stateless)
				call() // warm the verifier's caches
				b.ReportAllocs()
				for b.Loop() {
					call()
				}
			})
		}
	}
}

// BenchmarkHandlerProtocol is BenchmarkHandler's stateless servers at the
// protocol version of a client: 2025-11-25, which idgate's direct path
// answers, and 2026-07-28 (go-sdk's own client negotiates it with a
// stateless server; SEP-2575 puts the client's info in every request's
// _meta), which idgate leaves to go-sdk's handler.
func BenchmarkHandlerProtocol(b *testing.B) {
	iss := identitytest.NewIssuer(b)
	token := iss.Mint(b, identitytest.Subject("alice"), identitytest.Scopes("echo"))
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		for _, kind := range []string{"chain", "noauth"} {
			b.Run(version+"/"+kind, func(b *testing.B) {
				tok := token
				if kind == "noauth" {
					tok = ""
				}
				call := protocolCall(b, echoServer(b, iss, kind, true), tok, false, version)
				call() // warm the verifier's caches
				b.ReportAllocs()
				for b.Loop() {
					call()
				}
			})
		}
	}
}

// echoServer returns the handler of the server BenchmarkHandler calls
// kind ("chain", "auth" or "noauth"), with the echo tool.
func echoServer(b *testing.B, iss *identitytest.Issuer, kind string, stateless bool) http.Handler {
	cfg := mcpserver.Config{
		Name: "bench", PublicURL: publicURL, AuthorizationServers: []string{iss.URL()},
		Verifier: newVerifier(b, iss), Stateless: stateless, Logger: slog.New(slog.DiscardHandler),
		RateLimit: mcpserver.RateLimitConfig{Disabled: true},
	}
	need := scopes.All("echo")
	switch kind {
	case "chain":
		aud, err := audit.New(audit.Config{Logger: slog.New(audit.NewJSONHandler(discard{}, nil)), SubjectKey: []byte("0123456789abcdef0123456789abcdef")})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Audit = aud
		cfg.RateLimit = mcpserver.RateLimitConfig{
			User: mcpserver.Limit{Rate: 1 << 30, Period: time.Minute},
			IP:   mcpserver.Limit{Rate: 1 << 30, Period: time.Minute},
		}
	case "noauth":
		cfg = mcpserver.Config{
			Name: "bench", PublicURL: publicURL, InsecureDisableAuth: true, Stateless: stateless,
			RateLimit: mcpserver.RateLimitConfig{Disabled: true},
		}
		need = scopes.Public()
	}
	srv, err := mcpserver.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	mcpserver.AddTool(srv, &mcp.Tool{Name: "echo"}, need, echoTool)
	return srv.Handler()
}

// discard is an io.Writer that keeps nothing (a type of its own, so that
// slog cannot tell it from a file).
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkHandlerParallel is BenchmarkHandler's stateful servers under
// concurrency, as the load harness drives them: 32 users, each with a
// token and a session of its own, called back to back by 32 goroutines
// (the next multiple of GOMAXPROCS: a user then has two). Every variant gets the Authorization header,
// so that the servers differ only in what they do with it.
func BenchmarkHandlerParallel(b *testing.B) {
	const users = 32
	iss := identitytest.NewIssuer(b)
	tokens := make([]string, users)
	for i := range tokens {
		tokens[i] = iss.Mint(b, identitytest.Subject(fmt.Sprintf("user%d", i)), identitytest.Scopes("echo"))
	}
	for _, kind := range []string{"chain", "auth", "noauth"} {
		b.Run(kind, func(b *testing.B) {
			h := echoServer(b, iss, kind, false)
			calls := make([]func(), users)
			for i := range calls {
				calls[i] = handlerCall(b, h, tokens[i], true)
				calls[i]()
			}
			var next atomic.Int32
			b.SetParallelism((users + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				call := calls[int(next.Add(1)-1)%users]
				for pb.Next() {
					call()
				}
			})
		})
	}
}

// benchListMeta is a tools/list as go-sdk's client sends it at protocol
// 2026-07-28.
const benchListMeta = `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`

// BenchmarkHandlerListProtocol serves one tools/list on a stateless
// server, as BenchmarkHandlerProtocol serves a tools/call: at 2025-11-25
// and at 2026-07-28, with the whole chain and without authentication.
func BenchmarkHandlerListProtocol(b *testing.B) {
	iss := identitytest.NewIssuer(b)
	token := iss.Mint(b, identitytest.Subject("alice"), identitytest.Scopes("echo"))
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		for _, kind := range []string{"chain", "noauth"} {
			b.Run(version+"/"+kind, func(b *testing.B) {
				h := echoServer(b, iss, kind, true)
				body := `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`
				if version >= "2026-07-28" {
					body = benchListMeta
				}
				list := func() {
					r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("Accept", "application/json, text/event-stream")
					r.Header.Set("Mcp-Protocol-Version", version)
					r.Header.Set("Mcp-Method", "tools/list")
					if kind != "noauth" {
						r.Header.Set("Authorization", "Bearer "+token)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"name":"echo"`) {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
				list() // warm the verifier's caches and the dispatcher
				b.ReportAllocs()
				for b.Loop() {
					list()
				}
			})
		}
	}
}

// benchDiscoverMeta is a server/discover as go-sdk's client sends it
// (first, to any server).
const benchDiscoverMeta = `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`

// BenchmarkHandlerConnect serves what a client sends to start a
// conversation, through Server.Handler with the whole chain: go-sdk's
// client probes every server with server/discover at 2026-07-28; a
// stateless server answers it, a stateful one refuses the version and the
// client initializes a session (initialize, notifications/initialized)
// and ends it with DELETE.
func BenchmarkHandlerConnect(b *testing.B) {
	iss := identitytest.NewIssuer(b)
	token := iss.Mint(b, identitytest.Subject("alice"), identitytest.Scopes("echo"))
	serve := func(h http.Handler, method, body, version, sid string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/mcp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		if version != "" {
			r.Header.Set("Mcp-Protocol-Version", version)
		}
		r.Header.Set("Authorization", "Bearer "+token)
		if sid != "" {
			r.Header.Set("Mcp-Session-Id", sid)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, stateless := range []bool{true, false} {
		mode := map[bool]string{true: "stateless", false: "stateful"}[stateless]
		b.Run(mode+"/discover", func(b *testing.B) {
			h := echoServer(b, iss, "chain", stateless)
			b.ReportAllocs()
			for b.Loop() {
				if w := serve(h, http.MethodPost, benchDiscoverMeta, "2026-07-28", "", "Mcp-Method", "server/discover"); w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
		if stateless {
			continue
		}
		b.Run(mode+"/session", func(b *testing.B) {
			h := echoServer(b, iss, "chain", stateless)
			b.ReportAllocs()
			for b.Loop() {
				w := serve(h, http.MethodPost, initializeBody, "", "")
				sid := w.Header().Get("Mcp-Session-Id")
				if sid == "" {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				serve(h, http.MethodPost, initializedMsg, "2025-11-25", sid)
				if w := serve(h, http.MethodDelete, "", "2025-11-25", sid); w.Code/100 != 2 {
					b.Fatalf("DELETE: status %d", w.Code)
				}
			}
		})
	}
}
