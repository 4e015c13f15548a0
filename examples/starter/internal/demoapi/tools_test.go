package demoapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/identity/identitytest"
)

func TestHealth(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		method string
		status int
		raw    string
	}{
		{"GET", http.MethodGet, http.StatusOK, `{"ok":true,"service":"demo-api"}` + "\n"},
		{"HEAD", http.MethodHead, http.StatusOK, ""},
		{"POST", http.MethodPost, http.StatusMethodNotAllowed, `{"ok":false,"error":"method_not_allowed","message":"use GET"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, "/health", "")
			require.Equal(t, tt.status, r.status)
			require.Equal(t, tt.raw, r.raw)
			require.Equal(t, "no-store", r.header.Get("Cache-Control"))
		})
	}
}

func TestTools(t *testing.T) {
	require.Equal(t, []demoapi.Tool{
		{"whoami", "starter.whoami"},
		{"echo", "starter.echo"},
		{"seedMyNotes", "starter.notes"},
		{"listMyNotes", "starter.notes"},
		{"addNote", "starter.notes"},
		{"crmInit", "starter.crm"},
		{"crmGetSalesSummary", "starter.crm"},
		{"crmExplainAccess", "starter.crm"},
		{"crmAttemptCrossUserRead", "starter.crm"},
		{"crmResetMyData", "starter.crm"},
	}, demoapi.Tools())
}

func TestWhoami(t *testing.T) {
	e := newEnv(t)
	now := fixedNow().Unix()
	tests := []struct {
		name     string
		opts     []identitytest.TokenOption
		header   []string
		proof    string
		user     map[string]any
		auth     map[string]any // checked fields of "authorization"
		reqIDSet string         // expected requestId; "" means generated
	}{
		{
			name: "user claims copied by the gateway",
			opts: []identitytest.TokenOption{
				identitytest.Email("alice@example.com"), identitytest.Name("Alice"),
				identitytest.Claim("user_iss", "https://tenant.example.com/"),
				identitytest.Claim("user_aud", "https://mcp.example.com/mcp"),
				identitytest.Claim("user_iat", now-300),
				identitytest.Claim("user_exp", now+600),
				identitytest.Claim("user_permissions", []string{"read:crm"}),
			},
			header: []string{"X-Request-Id", "req-123"},
			proof:  "✅ Verified OAuth JWT for alice@example.com (expires in ~10 min)",
			user:   map[string]any{"sub": "auth0|alice", "user_key": labelOf("auth0|alice"), "email": "alice@example.com", "name": "Alice"},
			auth: map[string]any{
				"issuer": "https://tenant.example.com/", "audience": "https://mcp.example.com/mcp",
				"scope":       "starter.whoami starter.echo starter.notes starter.crm",
				"scope_list":  []any{"starter.whoami", "starter.echo", "starter.notes", "starter.crm"},
				"permissions": []any{"read:crm"}, "iat": float64(now - 300), "exp": float64(now + 600),
				"exp_in_seconds": float64(600),
			},
			reqIDSet: "req-123",
		},
		{
			name: "array audience, no email, rounding to the nearest minute",
			opts: []identitytest.TokenOption{
				identitytest.Claim("user_aud", []string{"https://mcp.example.com/mcp", "https://other.example.com"}),
				identitytest.Claim("user_exp", now+89),
			},
			proof: "✅ Verified OAuth JWT for sub auth0|alice… (expires in ~1 min)",
			user:  map[string]any{"sub": "auth0|alice", "user_key": labelOf("auth0|alice"), "email": nil, "name": nil},
			auth: map[string]any{
				"audience":       []any{"https://mcp.example.com/mcp", "https://other.example.com"},
				"permissions":    []any{},
				"exp":            float64(now + 89),
				"exp_in_seconds": float64(89),
			},
		},
		{
			name: "the backend token's own permissions when the gateway sent none",
			opts: []identitytest.TokenOption{identitytest.Claim("permissions", []string{"read:notes"})},
			user: map[string]any{"sub": "auth0|alice", "user_key": labelOf("auth0|alice"), "email": nil, "name": nil},
			auth: map[string]any{"permissions": []any{"read:notes"}},
		},
		{
			name:  "a long subject is cut to 18 characters",
			opts:  []identitytest.TokenOption{identitytest.Subject("google-oauth2|112233445566778899"), identitytest.Claim("user_exp", now-5)},
			proof: "✅ Verified OAuth JWT for sub google-oauth2|1122… (expires in ~0 min)",
			user:  map[string]any{"sub": "google-oauth2|112233445566778899", "user_key": labelOf("google-oauth2|112233445566778899"), "email": nil, "name": nil},
			auth:  map[string]any{"exp_in_seconds": float64(0)},
		},
		{
			name: "without user claims the backend token's own are shown",
			opts: []identitytest.TokenOption{identitytest.Claim("user_iss", 42), identitytest.Claim("user_exp", "soon")},
			user: map[string]any{"sub": "auth0|alice", "user_key": labelOf("auth0|alice"), "email": nil, "name": nil},
			auth: map[string]any{"issuer": e.iss.URL(), "audience": e.iss.Audience(), "permissions": []any{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]identitytest.TokenOption{identitytest.Subject("auth0|alice")}, tt.opts...)
			tok := e.iss.Mint(t, append(opts, identitytest.Scopes(allScopes()...))...)
			r := e.call(t, tok, "whoami", "{}", tt.header...)
			require.Equal(t, http.StatusOK, r.status, r.raw)
			b := r.body
			require.Equal(t, []string{"authorization", "ok", "proof", "request", "source", "summary", "user", "verified"}, keysOf(t, b))
			require.Equal(t, true, b["ok"])
			require.Equal(t, true, b["verified"])
			require.Equal(t, "jwt", b["source"])
			require.Equal(t, b["proof"], b["summary"])
			if tt.proof != "" {
				require.Equal(t, tt.proof, b["proof"])
			}
			require.Equal(t, tt.user, b["user"])
			auth := b["authorization"].(map[string]any)
			require.Equal(t, []string{"audience", "exp", "exp_in_seconds", "iat", "issuer", "permissions", "scope", "scope_list"}, keysOf(t, auth))
			for k, v := range tt.auth {
				require.Equal(t, v, auth[k], "authorization.%s", k)
			}
			req := b["request"].(map[string]any)
			require.Equal(t, []string{"requestId", "rev", "sha"}, keysOf(t, req))
			require.Equal(t, "demo-00042", req["rev"])
			require.Equal(t, "abc1234", req["sha"])
			require.Equal(t, r.header.Get("X-Request-Id"), req["requestId"])
			if tt.reqIDSet != "" {
				require.Equal(t, tt.reqIDSet, req["requestId"])
			} else {
				require.NotEmpty(t, req["requestId"])
			}
		})
	}
}

func TestWhoamiUserKeyIsNotReversible(t *testing.T) {
	e := newEnv(t)
	// Two Auth0 subjects that share their first characters: the original's
	// base64url(sub)[0:10] was the same for both, and decodable.
	a := e.ok(t, e.token(t, "auth0|6512aaaaaaaaaaaa", nil), "whoami", "{}")
	b := e.ok(t, e.token(t, "auth0|6512bbbbbbbbbbbb", nil), "whoami", "{}")
	ka := a["user"].(map[string]any)["user_key"].(string)
	kb := b["user"].(map[string]any)["user_key"].(string)
	require.Regexp(t, `^user-[0-9a-f]{6}$`, ka)
	require.NotEqual(t, ka, kb)
	require.NotContains(t, ka, "YXV0aDB8") // base64url("auth0|")
}

func TestEcho(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, "alice", nil)
	tests := []struct {
		name, message string
	}{
		{"plain", "hi"},
		{"empty", ""},
		{"unicode and markup", "héllo <b>&</b> 👋"},
		{"longest", strings.Repeat("é", demoapi.MaxEchoBytes/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.ok(t, tok, "echo", fmt.Sprintf(`{"message":%q}`, tt.message))
			require.Equal(t, []string{"message", "ok", "summary"}, keysOf(t, b))
			require.Equal(t, tt.message, b["message"])
			require.Equal(t, "Echo: "+tt.message, b["summary"])
		})
	}
}

func TestNotes(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, "alice", nil)
	label := labelOf("alice")

	b := e.ok(t, tok, "listMyNotes", "")
	require.Equal(t, []string{"notes", "ok", "summary"}, keysOf(t, b))
	require.Equal(t, []any{}, b["notes"])
	require.Equal(t, "You have 0 notes.", b["summary"])

	b = e.ok(t, tok, "seedMyNotes", "{}")
	require.Equal(t, []string{"ok", "seeded", "summary"}, keysOf(t, b))
	require.Equal(t, "Seeded 3 notes.", b["summary"])
	seeded := b["seeded"].([]any)
	require.Len(t, seeded, 3)
	for i, n := range seeded {
		require.Equal(t, []string{"createdAt", "id", "text"}, keysOf(t, n))
		require.Equal(t, fmt.Sprintf("Hello %s… (#%d)", label, i+1), n.(map[string]any)["text"])
	}

	b = e.ok(t, tok, "seedMyNotes", `{"count":20}`)
	require.Equal(t, "Seeded 20 notes.", b["summary"])
	b = e.ok(t, tok, "seedMyNotes", `{"count":null}`)
	require.Equal(t, "Seeded 3 notes.", b["summary"])

	b = e.ok(t, tok, "addNote", `{"text":"  buy milk \n"}`)
	require.Equal(t, []string{"note", "ok", "summary"}, keysOf(t, b))
	require.Equal(t, []string{"createdAt", "id", "text"}, keysOf(t, b["note"]))
	require.Equal(t, "buy milk", b["note"].(map[string]any)["text"])
	require.Equal(t, "Added note: buy milk", b["summary"])

	b = e.ok(t, tok, "listMyNotes", "{}")
	require.Equal(t, "You have 27 notes.", b["summary"])
	notes := b["notes"].([]any)
	require.Len(t, notes, 27)
	require.Equal(t, "buy milk", notes[0].(map[string]any)["text"]) // newest first

	// The summary quotes 120 characters, cut between characters.
	long := strings.Repeat("ü", 119) + "👋👋"
	b = e.ok(t, tok, "addNote", fmt.Sprintf(`{"text":%q}`, long))
	require.Equal(t, "Added note: "+strings.Repeat("ü", 119)+"👋", b["summary"])
	require.Equal(t, long, b["note"].(map[string]any)["text"])
}

func TestCRM(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, "alice", nil)
	label := labelOf("alice")
	nDeals := 0

	t.Run("crmInit creates", func(t *testing.T) {
		b := e.ok(t, tok, "crmInit", "")
		require.Equal(t, []string{"ok", "summary", "welcome"}, keysOf(t, b))
		w := b["welcome"].(map[string]any)
		require.Equal(t, []string{"createdDeals", "dbEntries", "dbUsers", "seeded", "try", "user"}, keysOf(t, w))
		nDeals = int(w["createdDeals"].(float64))
		require.GreaterOrEqual(t, nDeals, 40)
		require.Equal(t, label, w["user"])
		require.Equal(t, true, w["seeded"])
		require.Equal(t, float64(1), w["dbUsers"])
		require.Equal(t, float64(1+nDeals), w["dbEntries"])
		require.Len(t, w["try"], 3)
		require.Equal(t, fmt.Sprintf("Welcome %s. Created %d dummy deals for you. Database: 1 users, %d total entries. Try: “What were my sales in Q2 2025?”", label, nDeals, 1+nDeals), b["summary"])
	})
	t.Run("crmInit again", func(t *testing.T) {
		b := e.ok(t, tok, "crmInit", "{}")
		w := b["welcome"].(map[string]any)
		require.Equal(t, false, w["seeded"])
		require.Equal(t, float64(0), w["createdDeals"])
		require.Equal(t, fmt.Sprintf("Welcome %s. Your demo CRM is ready. Database: 1 users, %d total entries. Try: “What were my sales in Q2 2025?”", label, 1+nDeals), b["summary"])
	})
	t.Run("crmGetSalesSummary", func(t *testing.T) {
		for q := 1; q <= 4; q++ {
			b := e.ok(t, tok, "crmGetSalesSummary", fmt.Sprintf(`{"year":2025,"quarter":%d}`, q))
			require.Equal(t, []string{"ok", "summary", "summary_text", "user"}, keysOf(t, b))
			require.Equal(t, label, b["user"])
			s := b["summary"].(map[string]any)
			require.Equal(t, []string{"deals_won", "quarter", "range", "revenue_cents", "year"}, keysOf(t, s))
			require.Equal(t, []string{"endExclusive", "start"}, keysOf(t, s["range"]))
			deals, cents := expectedSales("alice", 2025, q)
			require.Equal(t, float64(deals), s["deals_won"])
			require.Equal(t, float64(cents), s["revenue_cents"])
			require.Equal(t, fmt.Sprintf("📊 Sales in Q%d 2025: $%d across %d won deals.", q, (cents+50)/100, deals), b["summary_text"])
			require.Equal(t, b["summary_text"], demoapi.ModelText(b))
		}
	})
	t.Run("crmExplainAccess", func(t *testing.T) {
		b := e.ok(t, tok, "crmExplainAccess", "{}")
		require.Equal(t, []string{"access", "ok", "summary"}, keysOf(t, b))
		a := b["access"].(map[string]any)
		require.Equal(t, []string{"can_access", "cannot_access", "proof", "try_next", "why", "you_are"}, keysOf(t, a))
		require.Equal(t, label, a["you_are"])
		for _, k := range []string{"can_access", "cannot_access", "why", "try_next"} {
			require.Len(t, a[k], 3, k)
		}
		require.Equal(t, map[string]any{"seeded_now": false, "created_deals": float64(0), "db_users": float64(1), "db_entries": float64(1 + nDeals)}, a["proof"])
		require.True(t, strings.HasPrefix(b["summary"].(string), "🔐 You are "+label+". You can access YOUR mock CRM data"), b["summary"])
	})
	t.Run("crmAttemptCrossUserRead", func(t *testing.T) {
		r := e.call(t, tok, "crmAttemptCrossUserRead", `{"targetUser":"bob"}`)
		require.Equal(t, http.StatusOK, r.status)
		b := r.body
		require.Equal(t, []string{"actual_scope", "error", "explanation", "how_to_demo", "ok", "requested_target", "summary"}, keysOf(t, b))
		require.Equal(t, false, b["ok"])
		require.Equal(t, "cross_user_access_denied", b["error"])
		require.Equal(t, "bob", b["requested_target"])
		require.Equal(t, label, b["actual_scope"])
		require.NotEmpty(t, b["explanation"])
		require.NotEmpty(t, b["how_to_demo"])
		require.Equal(t, "❌ Access denied: you are "+label+" and can only read your own CRM data. Every query is keyed by your verified identity, so \"bob\" is out of reach by construction.", b["summary"])
	})
	t.Run("crmResetMyData", func(t *testing.T) {
		b := e.ok(t, tok, "crmResetMyData", "{}")
		require.Equal(t, []string{"createdDeals", "dbEntries", "dbUsers", "ok", "reset", "seeded", "summary", "user"}, keysOf(t, b))
		require.Equal(t, true, b["reset"])
		require.Equal(t, true, b["seeded"])
		require.Equal(t, label, b["user"])
		require.Equal(t, float64(nDeals), b["createdDeals"])
		require.Equal(t, float64(1), b["dbUsers"])
		require.Equal(t, float64(1+nDeals), b["dbEntries"])
		require.Equal(t, fmt.Sprintf("🔄 Reset complete for %s. Reseeded %d dummy deals.", label, nDeals), b["summary"])
	})
}

func TestSalesSummarySeedsOnFirstUse(t *testing.T) {
	e := newEnv(t)
	b := e.ok(t, e.token(t, "carol", nil), "crmGetSalesSummary", `{"year":2024,"quarter":3}`)
	deals, cents := expectedSales("carol", 2024, 3)
	require.Equal(t, fmt.Sprintf("📊 Sales in Q3 2024: $%d across %d won deals.", (cents+50)/100, deals), b["summary_text"])
	require.Equal(t, map[string]any{"start": "2024-07-01", "endExclusive": "2024-10-01"}, b["summary"].(map[string]any)["range"])
}

func TestModelText(t *testing.T) {
	tests := []struct {
		name string
		body map[string]any
		want string
	}{
		{"summary string", map[string]any{"summary": "Echo: hi"}, "Echo: hi"},
		{"summary object", map[string]any{"summary": map[string]any{}, "summary_text": "📊 Sales"}, "📊 Sales"},
		{"neither", map[string]any{"ok": true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, demoapi.ModelText(tt.body))
		})
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, "alice", nil)
	tests := []struct {
		name   string
		header []string
		kept   bool
	}{
		{"gateway's id", []string{"X-Request-Id", "gw_0123456789"}, true},
		{"longest", []string{"X-Request-Id", strings.Repeat("r", 128)}, true},
		{"too long", []string{"X-Request-Id", strings.Repeat("r", 129)}, false},
		{"with a space", []string{"X-Request-Id", "a b"}, false},
		{"non-ASCII", []string{"X-Request-Id", "réq"}, false},
		{"absent", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tok, "whoami", "{}", tt.header...)
			require.Equal(t, http.StatusOK, r.status)
			got := r.body["request"].(map[string]any)["requestId"].(string)
			require.Equal(t, got, r.header.Get("X-Request-Id"))
			if tt.kept {
				require.Equal(t, tt.header[1], got)
			} else {
				require.Regexp(t, `^[A-Z2-7]{26}$`, got)
			}
		})
	}
}
