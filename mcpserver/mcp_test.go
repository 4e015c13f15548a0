package mcpserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// modes runs f in stateful and in stateless mode: both must pass the same
// table.
func modes(t *testing.T, f func(t *testing.T, opts ...envOption)) {
	t.Run("stateful", func(t *testing.T) { f(t) })
	t.Run("stateless", func(t *testing.T) { f(t, stateless) })
	t.Run("stateless-json", func(t *testing.T) {
		f(t, stateless, func(c *mcpserver.Config) { c.JSONResponse = true })
	})
}

func toolNames(res *mcp.ListToolsResult) []string {
	var names []string
	for _, t := range res.Tools {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	return names
}

func TestToolsListFilteredPerUser(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		tests := []struct {
			name  string
			token string
			want  []string
		}{
			{"alice sees crm tools", e.alice, []string{"fail", "notes", "salesRead", "salesWrite", "whoami"}},
			{"bob without crm scopes does not", e.bob, []string{"fail", "notes", "whoami"}},
			{"no scopes: public tools only", e.iss.Mint(t, identitytest.Subject("carol")), []string{"fail", "whoami"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				cs, _ := e.connect(tc.token)
				res, err := cs.ListTools(context.Background(), nil)
				require.NoError(t, err)
				require.Equal(t, tc.want, toolNames(res))
				require.Equal(t, "private", res.CacheScope, "a per-user list must not be publicly cacheable")
			})
		}
	})
}

func TestToolsListNotPubliclyCacheable(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})
		if t.Name() == "TestToolsListNotPubliclyCacheable/stateful" {
			hdr = append(hdr, "Mcp-Session-Id", e.session(e.alice))
		}
		r := e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`, hdr...)
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		require.NotContains(t, strings.ToLower(r.Header.Get("Cache-Control")), "public")
		require.Contains(t, r.Body, `"cacheScope":"private"`)
		require.NotContains(t, r.Body, `"cacheScope":"public"`)
	})
}

func TestToolsCall(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		tests := []struct {
			name      string
			token     string
			tool      string
			wantErr   string // error from the client
			wantIsErr bool   // tool error inside a 200
			wantText  string
		}{
			{"public tool", e.bob, "whoami", "", false, `"subject":"bob"`},
			{"scoped tool allowed", e.alice, "salesRead", "", false, `{"total":42}`},
			{"any-of allowed", e.bob, "notes", "", false, `{"total":1}`},
			{"lacking scope: 403 surfaced as an error", e.bob, "salesRead", "insufficient scope", false, ""},
			{"unknown tool: go-sdk's JSON-RPC error", e.alice, "nope", `unknown tool "nope"`, false, ""},
			{"tool error inside a 200", e.alice, "fail", "", true, "unexpected EOF"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				cs, _ := e.connect(tc.token)
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tc.tool, Arguments: map[string]any{}})
				if tc.wantErr != "" {
					require.ErrorContains(t, err, tc.wantErr)
					require.NotErrorIs(t, err, mcp.ErrConnectionClosed)
					if tc.wantErr == "insufficient scope" {
						var werr *jsonrpc.Error
						require.ErrorAs(t, err, &werr)
						require.Equal(t, int64(mcpserver.CodeInsufficientScope), werr.Code)
					}
					// The session survives a refused call.
					_, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
					require.NoError(t, err)
					return
				}
				require.NoError(t, err)
				require.Equal(t, tc.wantIsErr, res.IsError)
				require.Len(t, res.Content, 1)
				require.Contains(t, res.Content[0].(*mcp.TextContent).Text, tc.wantText)
			})
		}
	})
}

func TestInsufficientScopeRawHTTP(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		hdr := with(bearer(e.bob), []string{"Mcp-Protocol-Version", "2025-03-26"})
		if strings.HasSuffix(t.Name(), "/stateful") {
			hdr = append(hdr, "Mcp-Session-Id", e.session(e.bob))
		}
		tests := []struct {
			name       string
			body       string
			wantStatus int
			wantChal   string
			wantBody   string
		}{
			{
				name:       "single call lacking crm:write",
				body:       callBody(5, "salesWrite"),
				wantStatus: http.StatusForbidden,
				wantChal:   `Bearer resource_metadata="` + prmURL + `", scope="crm:write", error="insufficient_scope"`,
				wantBody:   `{"jsonrpc":"2.0","id":5,"error":{"code":-32030,"message":"insufficient scope","data":{"scope":["crm:write"]}}}`,
			},
			{
				name:       "string id is echoed",
				body:       `{"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"salesRead"}}`,
				wantStatus: http.StatusForbidden,
				wantChal:   `Bearer resource_metadata="` + prmURL + `", scope="crm:read", error="insufficient_scope"`,
				wantBody:   `{"jsonrpc":"2.0","id":"a-1","error":{"code":-32030,"message":"insufficient scope","data":{"scope":["crm:read"]}}}`,
			},
			{
				name:       "batch with one forbidden call names the union",
				body:       "[" + callBody(1, "notes") + "," + callBody(2, "salesRead") + "," + callBody(3, "salesWrite") + "]",
				wantStatus: http.StatusForbidden,
				wantChal:   `Bearer resource_metadata="` + prmURL + `", scope="crm:read crm:write notes:read notes:write", error="insufficient_scope"`,
				wantBody: `[{"jsonrpc":"2.0","id":2,"error":{"code":-32030,"message":"insufficient scope","data":{"scope":["crm:read","crm:write","notes:read","notes:write"]}}},` +
					`{"jsonrpc":"2.0","id":3,"error":{"code":-32030,"message":"insufficient scope","data":{"scope":["crm:read","crm:write","notes:read","notes:write"]}}}]`,
			},
			{
				// go-sdk decodes params into a struct, where a null leaves
				// the name already read: it dispatches salesWrite.
				name:       "a later null name does not hide the tool",
				body:       `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"salesWrite","arguments":{},"name":null}}`,
				wantStatus: http.StatusForbidden,
				wantChal:   `Bearer resource_metadata="` + prmURL + `", scope="crm:write", error="insufficient_scope"`,
				wantBody:   `{"jsonrpc":"2.0","id":7,"error":{"code":-32030,"message":"insufficient scope","data":{"scope":["crm:write"]}}}`,
			},
			{
				name:       "allowed call passes",
				body:       callBody(4, "notes"),
				wantStatus: http.StatusOK,
				wantBody:   `{\"total\":1}`,
			},
			{
				name:       "unknown tool is not a 403 or 404",
				body:       callBody(6, "nope"),
				wantStatus: http.StatusOK,
				wantBody:   `unknown tool \"nope\"`,
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do(http.MethodPost, "/mcp", tc.body, hdr...)
				require.Equal(t, tc.wantStatus, r.Status, r.Body)
				require.Equal(t, tc.wantChal, r.Header.Get("WWW-Authenticate"))
				require.Contains(t, r.Body, tc.wantBody)
				if tc.wantStatus == http.StatusForbidden {
					require.Len(t, r.Header.Values("WWW-Authenticate"), 1)
					require.Equal(t, "application/json", r.Header.Get("Content-Type"))
					require.True(t, json.Valid([]byte(r.Body)), r.Body)
				}
			})
		}
	})
}

// A batch longer than the step-up check reads is refused, not passed on
// unchecked: go-sdk would run every call in it (protocol 2025-03-26 still
// has batches).
func TestOversizedBatchRefused(t *testing.T) {
	e := newEnv(t, stateless)
	hdr := with(bearer(e.bob), []string{"Mcp-Protocol-Version", "2025-03-26"})
	calls := make([]string, 1025)
	for i := range calls {
		calls[i] = callBody(i+1, "salesWrite")
	}
	r := e.do(http.MethodPost, "/mcp", "["+strings.Join(calls, ",")+"]", hdr...)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Body)
	require.JSONEq(t, `{"error":"batch too large"}`, r.Body)
	// 1024 calls are read and judged: bob lacks crm:write.
	r = e.do(http.MethodPost, "/mcp", "["+strings.Join(calls[:1024], ",")+"]", hdr...)
	require.Equal(t, http.StatusForbidden, r.Status)
}

// TestDeepNestingRefused: a request nested deeper than the scope check
// reads is refused at once, not handed to go-sdk, whose decoding of 1 MiB
// nested 990 deep took 17 s of CPU; one nested within the bound is served.
func TestDeepNestingRefused(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})
		if strings.HasSuffix(t.Name(), "/stateful") {
			hdr = append(hdr, "Mcp-Session-Id", e.session(e.alice))
		}
		nested := func(depth int) string {
			return `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","arguments":{"deep":` +
				strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}}`
		}
		for _, depth := range []int{200, 990, 100_000} {
			before := len(e.logs.events(t))
			r := e.do(http.MethodPost, "/mcp", nested(depth), hdr...)
			require.Equal(t, http.StatusBadRequest, r.Status, r.Body)
			require.JSONEq(t, `{"error":"request nested too deeply"}`, r.Body)
			require.Eventually(t, func() bool { return len(e.logs.events(t)) > before }, 5*time.Second, 10*time.Millisecond)
			require.Equal(t, "nested_too_deep", e.logs.events(t)[before]["reason"])
		}
		r := e.do(http.MethodPost, "/mcp", nested(100), hdr...)
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		require.Contains(t, r.Body, `"result"`)
	})
	// Without authentication, where no scope check runs, the transports
	// refuse it as well.
	for _, mode := range []struct {
		name string
		opts []envOption
	}{{"stateful", nil}, {"stateless", []envOption{stateless}}} {
		t.Run("no auth/"+mode.name, func(t *testing.T) {
			e := newEnv(t, append(mode.opts, func(c *mcpserver.Config) {
				c.InsecureDisableAuth, c.Verifier, c.AuthorizationServers = true, nil, nil
			})...)
			body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"},"_meta":{"deep":` +
				strings.Repeat("[", 990) + strings.Repeat("]", 990) + `}}}`
			r := e.do(http.MethodPost, "/mcp", body, "Mcp-Protocol-Version", "2025-06-18")
			require.Equal(t, http.StatusBadRequest, r.Status, r.Body)
			require.JSONEq(t, `{"error":"request nested too deeply"}`, r.Body)
		})
	}
}

func TestMalformedBodyLeftToGoSDK(t *testing.T) {
	e := newEnv(t, stateless)
	r := e.do(http.MethodPost, "/mcp", `{"jsonrpc":`, with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})...)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Body)
	require.Empty(t, r.Header.Get("WWW-Authenticate"))
}

// SPEC 11: scope hierarchies are honoured everywhere a scope is checked.
func TestScopeHierarchy(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, append(opts, func(c *mcpserver.Config) {
			c.Hierarchy = scopes.MustHierarchy(scopes.HierarchyConfig{Wildcards: true, Implies: map[string][]string{"admin": {"crm:*"}}})
		})...)
		tests := []struct {
			name  string
			scope string
			want  []string
		}{
			{"crm:* grants crm:read and crm:write", "crm:*", []string{"fail", "salesRead", "salesWrite", "whoami"}},
			{"admin implies crm:*", "admin", []string{"fail", "salesRead", "salesWrite", "whoami"}},
			{"notes:* grants an any-of", "notes:*", []string{"fail", "notes", "whoami"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tok := e.iss.Mint(t, identitytest.Subject("erin"), identitytest.Scopes(tc.scope))
				cs, _ := e.connect(tok)
				list, err := cs.ListTools(context.Background(), nil)
				require.NoError(t, err)
				require.Equal(t, tc.want, toolNames(list))
				for _, name := range tc.want {
					_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: map[string]any{"account": "a", "secret": "s"}})
					require.NoError(t, err, name)
				}
			})
		}
	})
}
