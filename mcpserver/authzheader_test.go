package mcpserver_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

type digestOut struct {
	Digest string `json:"digest"`
}

// A tool handler sees the request's own Authorization header in
// req.Extra.Header, byte for byte (scheme spelling included), although
// go-sdk's bearer middleware is shown a placeholder while it parses the
// header; the handler is handed a digest, not the token, so that no test
// output carries it.
func TestToolSeesTheRequestsAuthorizationHeader(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		mcpserver.AddTool(e.srv, &mcp.Tool{Name: "authz"}, scopes.Public(),
			func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, digestOut, error) {
				sum := sha256.Sum256([]byte(strings.Join(req.Extra.Header.Values("Authorization"), "\n")))
				return nil, digestOut{Digest: hex.EncodeToString(sum[:])}, nil
			})
		for _, scheme := range []string{"Bearer ", "bearer ", "BEARER "} {
			value := scheme + e.alice
			headers := []string{"Authorization", value, "Mcp-Protocol-Version", "2025-06-18"}
			if strings.HasSuffix(t.Name(), "/stateful") {
				headers = append(headers, "Mcp-Session-Id", e.session(e.alice))
			}
			r := e.do(http.MethodPost, "/mcp", callBody(1, "authz"), headers...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			want := sha256.Sum256([]byte(value))
			require.Contains(t, r.Body, hex.EncodeToString(want[:]), "scheme %q", scheme)
			require.NotContains(t, r.Body, "Bearer -")
		}
	})
}
