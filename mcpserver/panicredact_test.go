package mcpserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// opaqueToken is the one token opaqueVerifier accepts: not shaped like a
// JWT, so audit.Redact does not recognise it.
const opaqueToken = "opq_Z9y8X7w6V5u4T3s2R1q0PpOoNnMm"

// opaqueVerifier accepts opaqueToken as alice's, as an introspection
// verifier would.
type opaqueVerifier struct{}

func (opaqueVerifier) Verify(_ context.Context, tok string) (*identity.Identity, error) {
	if tok != opaqueToken {
		return nil, identity.ErrInactive
	}
	return identity.Identity{Subject: "alice", Audience: []string{publicURL}}.WithToken(tok), nil
}

// A tool whose panic value quotes the request's headers, on a path where
// idgate recovers the panic itself (a goroutine of go-sdk's): the
// caller's opaque token must not reach the "handler panicked" line.
func TestHandlerPanicRedactsOpaqueToken(t *testing.T) {
	for _, mode := range []struct {
		name     string
		stateful bool
		opts     []envOption
	}{
		{"stateless, first call", false, []envOption{stateless}},
		{"go-sdk transport", true, []envOption{goSDKTransport}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, append(mode.opts, func(c *mcpserver.Config) { c.Verifier = opaqueVerifier{} })...)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "boom", Description: "panics"}, scopes.Public(),
				func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
					panic(fmt.Sprintf("unexpected headers %v", req.Extra.Header))
				})
			var h []string
			if mode.stateful {
				h = []string{"Mcp-Session-Id", e.session(opaqueToken)}
			}
			h = append(h, "Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer "+opaqueToken)
			r := e.do(http.MethodPost, "/mcp", callBody(2, "boom"), h...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Contains(t, r.Body, `"error":{"code":-32603,"message":"internal error"}`)
			logs := e.logs.String()
			require.Contains(t, logs, `"msg":"mcpserver: handler panicked"`)
			require.Contains(t, logs, "unexpected headers", "the panic value is logged")
			require.NotContains(t, logs, opaqueToken)
			require.NotContains(t, logs, opaqueToken[:16], "no piece of it either")
			require.False(t, strings.Contains(r.Body, opaqueToken))
		})
	}
}

// On the direct path the call runs in its HTTP request's goroutine and
// its panic reaches the audit middleware, whose "panic recovered" line
// must not hold the opaque token either.
func TestDispatchedPanicRedactsOpaqueToken(t *testing.T) {
	e := newEnv(t, func(c *mcpserver.Config) { c.Verifier = opaqueVerifier{}; c.RateLimit.Disabled = true })
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "boom", Description: "panics"}, scopes.Public(),
		func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
			panic(fmt.Sprintf("unexpected headers %v", req.Extra.Header))
		})
	h := []string{"Mcp-Session-Id", e.session(opaqueToken), "Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer " + opaqueToken}
	req, err := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", strings.NewReader(callBody(9, "boom")))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	if resp, err := e.http.Client().Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	require.EqualValues(t, 1, mcpserver.DispatchedCalls(e.srv), "the call went the direct way")
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), `"msg":"panic recovered"`) }, 5*time.Second, 10*time.Millisecond)
	logs := e.logs.String()
	require.Contains(t, logs, "unexpected headers", "the panic value is logged")
	require.NotContains(t, logs, opaqueToken)
}
