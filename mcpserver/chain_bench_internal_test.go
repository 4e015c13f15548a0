package mcpserver

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
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/scopes"
)

// chainBenchCall is the tools/call the chain benchmarks send.
const chainBenchCall = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`

// benchChain returns the MCP endpoint's handler chain exactly as Handler
// builds it, but ending in sink instead of go-sdk, and a request for it
// with a token granting scopes.
func benchChain(b testing.TB, sink http.Handler, grant []string, opts ...func(*Config)) (http.Handler, func() *http.Request) {
	iss := identitytest.NewIssuer(b)
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{iss.Audience()}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(v.Close)
	aud, err := audit.New(audit.Config{Logger: slog.New(audit.NewJSONHandler(io.Discard, nil)), SubjectKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{
		Name: "bench", PublicURL: iss.Audience(), AuthorizationServers: []string{iss.URL()},
		Verifier: v, Audit: aud, Logger: slog.New(slog.DiscardHandler),
		RateLimit: RateLimitConfig{
			User: Limit{Rate: 1 << 30, Period: time.Minute},
			IP:   Limit{Rate: 1 << 30, Period: time.Minute},
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	AddTool(s, &mcp.Tool{Name: "echo"}, scopes.All("echo"), func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})
	s.sdk = sink
	s.gated.Store(nil)
	h := s.outer(s.mcpInner())
	token := iss.Mint(b, identitytest.Subject("alice"), identitytest.Scopes(grant...))
	return h, func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(chainBenchCall))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
}

// discardWriter is a ResponseWriter that keeps nothing. It accepts read
// deadlines, as net/http's does: without, http.ResponseController's
// refusal (an error built with fmt.Errorf, two allocations) would be
// counted as the chain's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) SetReadDeadline(time.Time) error { return nil }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Flush()                      {}

// BenchmarkChain is what idgate adds to a tools/call, without go-sdk: the
// whole chain (audit event to audit.JSONHandler on io.Discard, Origin policy,
// body limit, per-address and per-user rate limits, bearer extraction and
// JWT verification with the token cached, step-up scope check, session
// binding) in front of a handler that reads the body and builds the
// caller's TokenInfo as the direct transport does. "no audit" leaves the audit out.
// The request is built before the timer counts (its allocations are not
// the chain's).
func BenchmarkChain(b *testing.B) {
	for _, bc := range []struct {
		name string
		opt  func(*Config)
	}{
		{"full", func(*Config) {}},
		{"no audit", func(c *Config) { c.Audit = nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sink := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.Copy(io.Discard, r.Body); err != nil {
					b.Fatal("no body")
				}
				// What go-sdk gets as the call's TokenInfo: direct
				// builds it so, go-sdk's handler (GoSDKTransport) finds
				// it in the context.
				if ti, err := passThrough(r.Context()); err != nil || ti == nil {
					b.Fatal("no token info")
				}
				w.WriteHeader(http.StatusOK)
			})
			h, req := benchChain(b, sink, []string{"echo"}, bc.opt)
			serveLoop(b, h, req)
		})
	}
}

// serveLoop serves requests made by req on h until the benchmark is done,
// making them in batches while the timer is stopped.
func serveLoop(b *testing.B, h http.Handler, req func() *http.Request) {
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req()) // warm the verifier's caches
	reqs := make([]*http.Request, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if len(reqs) == 0 {
			b.StopTimer()
			for range cap(reqs) {
				reqs = append(reqs, req())
			}
			b.StartTimer()
		}
		r := reqs[len(reqs)-1]
		reqs = reqs[:len(reqs)-1]
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}
