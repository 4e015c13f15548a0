package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
)

// TestEveryToolOverMCP calls each of the ten tools with go-sdk's client, in
// an order where each step builds on the last, and checks the exact text the
// model reads and the structuredContent fields.
func TestEveryToolOverMCP(t *testing.T) {
	e := newTestEnv(t, nil)
	tok := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Audience(e.mcpURL),
		identitytest.Email("alice@example.com"), identitytest.Name("Alice"),
		identitytest.Claim("permissions", []string{"read:crm"}),
		identitytest.Scopes(allScopes...))
	e.tokens = append(e.tokens, tok)
	cs := e.connect(tok)
	label := labelOf("alice")
	won, cents := salesOf("alice", 2025, 2)
	deals := dealsOf("alice")

	tests := []struct {
		tool    string
		args    map[string]any
		isError bool
		text    string                                // exact text; empty: see prefix
		prefix  string                                // text prefix
		check   func(t *testing.T, sc map[string]any) // structuredContent
	}{
		{
			tool: "whoami", args: map[string]any{},
			text: "✅ Verified OAuth JWT for alice@example.com (expires in ~60 min)",
			check: func(t *testing.T, sc map[string]any) {
				require.Equal(t, true, sc["ok"])
				require.Equal(t, true, sc["verified"])
				require.Equal(t, "jwt", sc["source"])
				require.Equal(t, map[string]any{"sub": "alice", "user_key": label, "email": "alice@example.com", "name": "Alice"}, sc["user"])
				a := sc["authorization"].(map[string]any)
				require.Equal(t, e.iss.URL(), a["issuer"], "the user's issuer, not the gateway's")
				require.Equal(t, e.mcpURL, a["audience"], "the user's audience, not the backend's")
				require.Equal(t, []any{"read:crm"}, a["permissions"])
				require.ElementsMatch(t, []any{"starter.crm", "starter.echo", "starter.notes", "starter.whoami"}, a["scope_list"])
				require.Greater(t, a["exp_in_seconds"].(float64), 3000.0, "the user's token expiry, not the minute-long backend token's")
				req := sc["request"].(map[string]any)
				require.Len(t, req["requestId"], 26)
			},
		},
		{
			tool: "echo", args: map[string]any{"message": "hi"},
			text: "Echo: hi",
			check: func(t *testing.T, sc map[string]any) {
				require.Equal(t, map[string]any{"ok": true, "message": "hi", "summary": "Echo: hi"}, sc)
			},
		},
		{
			tool: "seedMyNotes", args: map[string]any{"count": 2},
			text: "Seeded 2 notes.",
			check: func(t *testing.T, sc map[string]any) {
				seeded := sc["seeded"].([]any)
				require.Len(t, seeded, 2)
				for i, n := range seeded {
					note := n.(map[string]any)
					require.Equal(t, fmt.Sprintf("Hello %s… (#%d)", label, i+1), note["text"])
					require.Regexp(t, `^note_\d+_[0-9a-f]+$`, note["id"])
					require.Greater(t, note["createdAt"].(float64), 0.0)
				}
			},
		},
		{
			tool: "seedMyNotes", args: map[string]any{},
			text: "Seeded 3 notes.",
		},
		{
			tool: "addNote", args: map[string]any{"text": "  buy milk  "},
			text: "Added note: buy milk",
			check: func(t *testing.T, sc map[string]any) {
				require.Equal(t, "buy milk", sc["note"].(map[string]any)["text"])
			},
		},
		{
			tool: "listMyNotes", args: map[string]any{},
			text: "You have 6 notes.",
			check: func(t *testing.T, sc map[string]any) {
				notes := sc["notes"].([]any)
				require.Len(t, notes, 6)
				require.Equal(t, "buy milk", notes[0].(map[string]any)["text"], "newest first")
			},
		},
		{
			tool: "crmInit", args: map[string]any{},
			text: fmt.Sprintf("Welcome %s. Created %d dummy deals for you. Database: 1 users, %d total entries. Try: “What were my sales in Q2 2025?”", label, deals, deals+1),
			check: func(t *testing.T, sc map[string]any) {
				w := sc["welcome"].(map[string]any)
				require.Equal(t, label, w["user"])
				require.Equal(t, true, w["seeded"])
				require.Equal(t, float64(deals), w["createdDeals"])
				require.Equal(t, 1.0, w["dbUsers"])
				require.Len(t, w["try"], 3)
			},
		},
		{
			tool: "crmInit", args: map[string]any{},
			prefix: fmt.Sprintf("Welcome %s. Your demo CRM is ready.", label),
		},
		{
			tool: "crmGetSalesSummary", args: map[string]any{"year": 2025, "quarter": 2},
			text: fmt.Sprintf("📊 Sales in Q2 2025: $%d across %d won deals.", (cents+50)/100, won),
			check: func(t *testing.T, sc map[string]any) {
				require.Equal(t, label, sc["user"])
				s := sc["summary"].(map[string]any)
				require.Equal(t, map[string]any{"start": "2025-04-01", "endExclusive": "2025-07-01"}, s["range"])
				require.Equal(t, float64(won), s["deals_won"])
				require.Equal(t, float64(cents), s["revenue_cents"])
				require.Equal(t, 2025.0, s["year"])
				require.Equal(t, 2.0, s["quarter"])
			},
		},
		{
			tool: "crmExplainAccess", args: map[string]any{},
			prefix: fmt.Sprintf("🔐 You are %s. You can access YOUR mock CRM data", label),
			check: func(t *testing.T, sc map[string]any) {
				a := sc["access"].(map[string]any)
				require.Equal(t, label, a["you_are"])
				for _, k := range []string{"can_access", "cannot_access", "why", "try_next"} {
					require.Len(t, a[k], 3, k)
				}
				require.Equal(t, false, a["proof"].(map[string]any)["seeded_now"])
			},
		},
		{
			tool: "crmAttemptCrossUserRead", args: map[string]any{"targetUser": "bob"},
			isError: true,
			prefix:  fmt.Sprintf("❌ Access denied: you are %s and can only read your own CRM data.", label),
			check: func(t *testing.T, sc map[string]any) {
				require.Equal(t, false, sc["ok"])
				require.Equal(t, "cross_user_access_denied", sc["error"])
				require.Equal(t, "bob", sc["requested_target"])
				require.Equal(t, label, sc["actual_scope"])
				require.NotEmpty(t, sc["explanation"])
				require.NotEmpty(t, sc["how_to_demo"])
			},
		},
		{
			tool: "crmResetMyData", args: map[string]any{},
			text: fmt.Sprintf("🔄 Reset complete for %s. Reseeded %d dummy deals.", label, deals),
			check: func(t *testing.T, sc map[string]any) {
				require.Equal(t, true, sc["reset"])
				require.Equal(t, float64(deals), sc["createdDeals"])
			},
		},
		{
			tool: "crmGetSalesSummary", args: map[string]any{"year": 2025, "quarter": 2},
			text: fmt.Sprintf("📊 Sales in Q2 2025: $%d across %d won deals.", (cents+50)/100, won),
		},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%02d-%s", i, tt.tool), func(t *testing.T) {
			res := callTool(t, cs, tt.tool, tt.args)
			require.Equal(t, tt.isError, res.IsError, textOf(t, res))
			text := textOf(t, res)
			if tt.text != "" {
				require.Equal(t, tt.text, text)
			} else {
				require.True(t, strings.HasPrefix(text, tt.prefix), "%q does not start with %q", text, tt.prefix)
			}
			sc := structuredOf(t, res)
			require.Equal(t, text, firstNonEmpty(sc["summary"], sc["summary_text"]), "the text is the backend's own")
			if tt.check != nil {
				tt.check(t, sc)
			}
		})
	}
}

// firstNonEmpty returns the first of vs that is a non-empty string.
func firstNonEmpty(vs ...any) string {
	for _, v := range vs {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// TestToolDescriptors checks the tools as a client lists them: the
// TypeScript starter's names, a description, closed input schemas.
func TestToolDescriptors(t *testing.T) {
	e := newTestEnv(t, nil)
	cs := e.connect(e.mint("alice", allScopes...))
	res, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	want := map[string][]string{ // tool → its required arguments
		"whoami": nil, "echo": {"message"}, "seedMyNotes": nil, "listMyNotes": nil, "addNote": {"text"},
		"crmInit": nil, "crmGetSalesSummary": {"quarter", "year"}, "crmExplainAccess": nil,
		"crmAttemptCrossUserRead": {"targetUser"}, "crmResetMyData": nil,
	}
	require.Len(t, res.Tools, len(want))
	for _, tool := range res.Tools {
		required, ok := want[tool.Name]
		require.True(t, ok, tool.Name)
		require.Greater(t, len(tool.Description), 40, tool.Name)
		schema := tool.InputSchema.(map[string]any)
		require.Equal(t, "object", schema["type"], tool.Name)
		require.Equal(t, false, schema["additionalProperties"], tool.Name)
		var got []string
		for _, r := range asSlice(schema["required"]) {
			got = append(got, r.(string))
		}
		sort.Strings(got)
		require.Equal(t, required, got, tool.Name)
		for name, p := range asMap(schema["properties"]) {
			require.NotEmpty(t, p.(map[string]any)["description"], "%s.%s has no description", tool.Name, name)
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// TestToolsListFilteredPerUser checks that each user lists only the tools
// their scopes allow.
func TestToolsListFilteredPerUser(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name   string
		scopes []string
		want   []string
	}{
		{"every scope", allScopes, []string{"addNote", "crmAttemptCrossUserRead", "crmExplainAccess", "crmGetSalesSummary", "crmInit", "crmResetMyData", "echo", "listMyNotes", "seedMyNotes", "whoami"}},
		{"notes only", []string{"starter.notes"}, []string{"addNote", "listMyNotes", "seedMyNotes"}},
		{"whoami and echo", []string{"starter.whoami", "starter.echo"}, []string{"echo", "whoami"}},
		{"crm only", []string{"starter.crm"}, []string{"crmAttemptCrossUserRead", "crmExplainAccess", "crmGetSalesSummary", "crmInit", "crmResetMyData"}},
		{"none of them", []string{"openid"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := e.connect(e.mint("carol", tt.scopes...))
			res, err := cs.ListTools(context.Background(), nil)
			require.NoError(t, err)
			var names []string
			for _, tool := range res.Tools {
				names = append(names, tool.Name)
			}
			slices.Sort(names)
			require.Equal(t, tt.want, names)
		})
	}
}

// TestScopeStepUp checks that a tool whose scope the token lacks gets a real
// HTTP 403 with an insufficient_scope challenge naming that scope (which
// makes MCP clients re-authorize), over go-sdk's client and on the wire. The
// challenge also names the scopes the token already has
// (StepUpIncludeGrantedScopes), so that a client that asks for exactly the
// challenge's scopes keeps the tools it could call.
func TestScopeStepUp(t *testing.T) {
	e := newTestEnv(t, nil)
	tok := e.mint("bob", "starter.whoami", "starter.echo")
	cs := e.connect(tok)
	tests := []struct {
		tool  string
		args  map[string]any
		scope string
	}{
		{"crmInit", map[string]any{}, "starter.crm starter.echo starter.whoami"},
		{"crmGetSalesSummary", map[string]any{"year": 2025, "quarter": 1}, "starter.crm starter.echo starter.whoami"},
		{"addNote", map[string]any{"text": "x"}, "starter.echo starter.notes starter.whoami"},
		{"listMyNotes", map[string]any{}, "starter.echo starter.notes starter.whoami"},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tt.tool, Arguments: tt.args})
			var werr *jsonrpc.Error
			require.ErrorAs(t, err, &werr)
			require.Equal(t, int64(mcpserver.CodeInsufficientScope), werr.Code)

			r := e.do("POST", "/mcp", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, tt.tool),
				append(auth(tok), "Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", "2025-06-18")...)
			require.Equal(t, 403, r.status, r.raw)
			require.Equal(t, `Bearer resource_metadata="`+e.base+`/.well-known/oauth-protected-resource/mcp", scope="`+tt.scope+`", error="insufficient_scope"`,
				stripDescription(r.header.Get("WWW-Authenticate")))
		})
	}
	// The session survives the refusals.
	require.Equal(t, "Echo: still here", textOf(t, callTool(t, cs, "echo", map[string]any{"message": "still here"})))
}

// stripDescription drops the error_description parameter of a challenge,
// whose wording is mcpserver's.
func stripDescription(ch string) string {
	if i := strings.Index(ch, `, error_description=`); i >= 0 {
		return ch[:i]
	}
	return ch
}

// TestVerifierChoices checks each way of verifying users' tokens the
// configuration offers: JWTs with the JWKS discovered, named by JWKS_URI or
// by OIDC_DISCOVERY, and opaque tokens by introspection.
func TestVerifierChoices(t *testing.T) {
	tests := []struct {
		name   string
		env    func(iss *identitytest.Issuer) map[string]string
		opaque bool
	}{
		{"JWKS discovered", func(*identitytest.Issuer) map[string]string { return nil }, false},
		{"JWKS_URI", func(iss *identitytest.Issuer) map[string]string {
			return map[string]string{"JWKS_URI": iss.JWKSURL()}
		}, false},
		{"OIDC_DISCOVERY", func(iss *identitytest.Issuer) map[string]string {
			return map[string]string{"OIDC_DISCOVERY": iss.OpenIDConfigurationURL()}
		}, false},
		{"introspection", func(iss *identitytest.Issuer) map[string]string {
			id, secret := iss.ClientCredentials()
			return map[string]string{"INTROSPECTION_URL": iss.IntrospectionURL(), "INTROSPECTION_CLIENT_ID": id, "INTROSPECTION_CLIENT_SECRET": secret}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := identitytest.NewIssuer(t, identitytest.WithoutAuthorizationServerMetadata())
			e := newTestEnvWith(t, iss, tt.env(iss))
			opts := []identitytest.TokenOption{identitytest.Subject("alice"), identitytest.Audience(e.mcpURL), identitytest.Scopes("starter.whoami")}
			tok := iss.Mint(t, opts...)
			if tt.opaque {
				tok = iss.MintOpaque(t, opts...)
			}
			e.tokens = append(e.tokens, tok)
			res := callTool(t, e.connect(tok), "whoami", map[string]any{})
			require.False(t, res.IsError, textOf(t, res))
			require.Equal(t, "alice", structuredOf(t, res)["user"].(map[string]any)["sub"])
			if tt.opaque {
				require.Positive(t, iss.Introspections())
			}
		})
	}
}

// TestStatelessMode runs tools with STATELESS=true, as replicas behind a
// load balancer do.
func TestStatelessMode(t *testing.T) {
	e := newTestEnv(t, map[string]string{"STATELESS": "true"})
	cs := e.connect(e.mint("alice", allScopes...))
	require.Equal(t, "Echo: stateless", textOf(t, callTool(t, cs, "echo", map[string]any{"message": "stateless"})))
	require.Contains(t, textOf(t, callTool(t, cs, "crmInit", map[string]any{})), "Welcome "+labelOf("alice"))
	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "crmInit", Arguments: map[string]any{}})
	require.NoError(t, err)
	bob := e.connect(e.mint("bob", "starter.echo"))
	_, err = bob.CallTool(context.Background(), &mcp.CallToolParams{Name: "crmInit", Arguments: map[string]any{}})
	require.Error(t, err, "the step-up holds without sessions too")
}
