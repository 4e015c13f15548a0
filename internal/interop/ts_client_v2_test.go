package interop_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// tsV2Spec is the input of ts-client-v2.mjs.
type tsV2Spec struct {
	URL         string   `json:"url"`
	Token       string   `json:"token,omitempty"`
	Negotiation string   `json:"negotiation,omitempty"`
	Steps       []tsStep `json:"steps"`
}

// tsV2Line is one line of ts-client-v2.mjs output.
type tsV2Line struct {
	Op       string          `json:"op"`
	OK       bool            `json:"ok"`
	Result   json.RawMessage `json:"result"`
	Error    string          `json:"error"`
	Protocol string          `json:"protocol"`
	HTTP     []struct {
		Method          string `json:"method"`
		Status          int    `json:"status"`
		ProtocolVersion string `json:"protocolVersion"`
		MCPMethod       string `json:"mcpMethod"`
		MCPName         string `json:"mcpName"`
	} `json:"http"`
}

func (l tsV2Line) call(t *testing.T) callResult {
	t.Helper()
	return decodeCall(t, l.Op, l.OK, l.Error, l.Result)
}

// runTSV2 runs ts-client-v2.mjs with spec and returns its lines.
func runTSV2(t *testing.T, spec tsV2Spec) []tsV2Line {
	t.Helper()
	return runDriver[tsV2Line](t, "ts-client-v2.mjs", spec)
}

// TestTypeScriptSDKv2Client drives the TypeScript SDK v2 client
// (@modelcontextprotocol/client, pinned), which speaks protocol 2026-07-28
// (SEP-2575), against idgate: pinned to 2026-07-28 against a stateless
// server, it lists the tools the caller may see and calls them, every
// request carrying the version and the Mcp-Method / Mcp-Name headers;
// negotiating, it settles on 2026-07-28 with a stateless server and falls
// back to 2025-11-25 with a stateful one (go-sdk serves 2026-07-28
// statelessly only).
func TestTypeScriptSDKv2Client(t *testing.T) {
	stateless := newDemo(t, true)
	alice := stateless.token(t, "alice", scopeEcho)
	steps := []tsStep{
		{Op: "list"},
		{Op: "call", Name: "echo", Args: map[string]any{"message": "hi"}},
		{Op: "call", Name: "salesSummary"},
	}

	t.Run("pinned to 2026-07-28, stateless", func(t *testing.T) {
		lines := runTSV2(t, tsV2Spec{URL: stateless.url, Token: alice, Negotiation: "pin", Steps: steps})
		require.Len(t, lines, 4)
		require.True(t, lines[0].OK, "connect: %s", lines[0].Error)
		require.Equal(t, "2026-07-28", lines[0].Protocol)

		require.True(t, lines[1].OK, "list: %s", lines[1].Error)
		require.Equal(t, []string{"echo", "whoami"}, toolNames(t, lines[1].Result), "alice without crm:read does not see salesSummary")

		echo := lines[2].call(t)
		require.False(t, echo.IsError)
		require.Equal(t, map[string]any{"message": "hi", "user": "alice"}, echo.StructuredContent)
		require.Len(t, lines[2].HTTP, 1)
		post := lines[2].HTTP[0]
		require.Equal(t, http.MethodPost, post.Method)
		require.Equal(t, http.StatusOK, post.Status)
		require.Equal(t, "2026-07-28", post.ProtocolVersion)
		require.Equal(t, "tools/call", post.MCPMethod)
		require.Equal(t, "echo", post.MCPName)

		// A call beyond alice's scopes: the 403 step-up challenge, as at
		// any version (the client reports it as an error).
		require.False(t, lines[3].OK)
		require.Equal(t, http.StatusForbidden, lines[3].HTTP[0].Status)
		stateless.requireNoTokenLogged(t, alice)
	})

	t.Run("negotiating, stateless", func(t *testing.T) {
		lines := runTSV2(t, tsV2Spec{URL: stateless.url, Token: alice, Negotiation: "auto", Steps: steps[1:2]})
		require.Len(t, lines, 2)
		require.True(t, lines[0].OK, "connect: %s", lines[0].Error)
		require.Equal(t, "2026-07-28", lines[0].Protocol)
		require.True(t, lines[1].OK, "echo: %s", lines[1].Error)
	})

	t.Run("negotiating, stateful", func(t *testing.T) {
		stateful := newDemo(t, false)
		tok := stateful.token(t, "alice", scopeEcho)
		lines := runTSV2(t, tsV2Spec{URL: stateful.url, Token: tok, Negotiation: "auto", Steps: steps[1:2]})
		require.Len(t, lines, 2)
		require.True(t, lines[0].OK, "connect: %s", lines[0].Error)
		require.Equal(t, "2025-11-25", lines[0].Protocol)
		require.Equal(t, map[string]any{"message": "hi", "user": "alice"}, lines[1].call(t).StructuredContent)
	})
}
