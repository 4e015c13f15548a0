package interop_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/internal/interop"
)

// runInspector runs the MCP Inspector CLI against url with args after the
// transport flags. Whatever it writes (its catalog, MCP_CATALOG_PATH, or
// anything under ~) goes to a temporary directory. (--catalog cannot be
// combined with a server URL.)
func runInspector(t *testing.T, url string, args ...string) interop.Result {
	t.Helper()
	home := t.TempDir()
	env := []string{"HOME=" + home, "MCP_CATALOG_PATH=" + filepath.Join(home, "mcp.json")}
	argv := append([]string{"--cli", url, "--transport", "http", "--format", "json"}, args...)
	return interop.Run(t, 60*time.Second, env, "inspector", argv...)
}

// decodeInspector decodes the result the Inspector printed with --format
// json ({"result": ...}) into v.
func decodeInspector(t *testing.T, res interop.Result, v any) {
	t.Helper()
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &out), res.String())
	require.NotEmpty(t, out.Result, res.String())
	require.NoError(t, json.Unmarshal(out.Result, v), res.String())
}

// TestInspectorCLI drives the MCP Inspector CLI (@modelcontextprotocol/
// inspector, pinned) against an idgate server: it lists and calls tools
// with a bearer token, sees only the tools the token allows, and fails
// without one (SPEC 6, clients in the field).
func TestInspectorCLI(t *testing.T) {
	d := newDemo(t, false)
	alice := d.token(t, "alice", scopeEcho, scopeSales)
	bob := d.token(t, "bob", scopeEcho)
	expired := d.iss.Mint(t, identitytest.Subject("alice"), identitytest.ExpiresIn(-time.Hour))

	t.Run("tools/list is filtered per user", func(t *testing.T) {
		tests := []struct {
			name  string
			token string
			want  []string
		}{
			{"alice sees every tool", alice, []string{"echo", "salesSummary", "whoami"}},
			{"bob does not see salesSummary", bob, []string{"echo", "whoami"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := runInspector(t, d.url, "--header", "Authorization: Bearer "+tc.token, "--method", "tools/list")
				require.Zero(t, res.ExitCode, res.String())
				var out toolsResult
				decodeInspector(t, res, &out)
				var names []string
				for _, tool := range out.Tools {
					names = append(names, tool.Name)
				}
				require.ElementsMatch(t, tc.want, names)
			})
		}
	})

	t.Run("tools/call", func(t *testing.T) {
		res := runInspector(t, d.url, "--header", "Authorization: Bearer "+alice,
			"--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=hi")
		require.Zero(t, res.ExitCode, res.String())
		var out callResult
		decodeInspector(t, res, &out)
		require.False(t, out.IsError)
		require.Equal(t, map[string]any{"message": "hi", "user": "alice"}, out.StructuredContent)
		require.Len(t, out.Content, 1)
		require.JSONEq(t, `{"message":"hi","user":"alice"}`, out.Content[0].Text)
	})

	t.Run("without a valid token it fails with the 401", func(t *testing.T) {
		tests := []struct {
			name     string
			args     []string
			wantBody string // idgate's 401 body, which the Inspector reports
		}{
			{"no token", nil, `{"error":"unauthorized","error_description":"missing bearer token"}`},
			{"expired token", []string{"--header", "Authorization: Bearer " + expired},
				`{"error":"invalid_token","error_description":"token expired"}`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				// --stored-auth-only: fail instead of starting an
				// interactive OAuth login (as CI runs do).
				args := append(tc.args, "--stored-auth-only", "--method", "tools/list")
				res := runInspector(t, d.url, args...)
				require.Equal(t, 3, res.ExitCode, res.String())
				var out struct {
					Error struct {
						Code    string `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				}
				require.NoError(t, json.Unmarshal([]byte(res.Stderr), &out), res.String())
				require.Equal(t, "auth_required", out.Error.Code, "the Inspector saw the 401 and wants a login")
				require.Contains(t, out.Error.Message, tc.wantBody)
			})
		}
		// The server's side: the refusals are 401s in the audit log.
		require.Contains(t, d.audit.String(), `"decision":"deny","reason":"missing_token","status":401`)
		require.Contains(t, d.audit.String(), `"decision":"deny","reason":"invalid_token","status":401`)
	})

	d.requireNoTokenLogged(t, alice, bob, expired)
}
