package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

// TestREST checks POST /tools/{name}: the same identity and scope checks as
// MCP, the TypeScript starter's response shapes, the declared tools only.
func TestREST(t *testing.T) {
	e := newTestEnv(t, map[string]string{"APP_ORIGIN": "https://app.example.com"})
	full := e.mint("alice", allScopes...)
	echoOnly := e.mint("alice", "starter.echo")
	expired := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Audience(e.mcpURL), identitytest.ExpiresIn(-10*60e9))
	otherAud := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Audience("https://other.example.com/mcp"), identitytest.Scopes(allScopes...))
	e.tokens = append(e.tokens, expired, otherAud)
	prm := e.base + "/.well-known/oauth-protected-resource/mcp"
	scopeParam := `scope="starter.crm starter.echo starter.notes starter.whoami"`

	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		headers   []string
		status    int
		code      string // error.code; empty for success
		message   string // error.message, when checked
		challenge string // exact WWW-Authenticate (without error_description when the token was refused); "-" for none
	}{
		{name: "allowed", method: "POST", path: "/tools/echo", body: `{"message":"hi"}`, headers: auth(full), status: 200, challenge: "-"},
		{name: "allowed, no body", method: "POST", path: "/tools/whoami", headers: auth(full), status: 200, challenge: "-"},
		{name: "no token", method: "POST", path: "/tools/echo", body: `{"message":"hi"}`, status: 401, code: "UNAUTHORIZED",
			challenge: `Bearer resource_metadata="` + prm + `", ` + scopeParam},
		{name: "expired token", method: "POST", path: "/tools/echo", body: `{"message":"hi"}`, headers: auth(expired), status: 401, code: "INVALID_TOKEN",
			message: "token expired", challenge: `Bearer resource_metadata="` + prm + `", ` + scopeParam + `, error="invalid_token"`},
		{name: "token for another resource", method: "POST", path: "/tools/echo", body: `{"message":"hi"}`, headers: auth(otherAud), status: 401, code: "INVALID_TOKEN",
			message: "token audience not accepted", challenge: `Bearer resource_metadata="` + prm + `", ` + scopeParam + `, error="invalid_token"`},
		{name: "token in the query", method: "POST", path: "/tools/echo?access_token=abc", body: `{"message":"hi"}`, status: 400, code: "INVALID_REQUEST",
			challenge: `Bearer resource_metadata="` + prm + `", error="invalid_request"`},
		{name: "scope lacking: step-up challenge", method: "POST", path: "/tools/crmInit", headers: auth(echoOnly), status: 403, code: "INSUFFICIENT_SCOPE",
			message: "insufficient_scope: this tool needs starter.crm", challenge: `Bearer resource_metadata="` + prm + `", scope="starter.crm", error="insufficient_scope"`},
		{name: "unknown tool", method: "POST", path: "/tools/deleteEverything", headers: auth(full), status: 404, code: "UNKNOWN_TOOL", challenge: "-"},
		{name: "unknown tool needs a token first", method: "POST", path: "/tools/deleteEverything", status: 401, code: "UNAUTHORIZED",
			challenge: `Bearer resource_metadata="` + prm + `", ` + scopeParam},
		{name: "escaped dots are just an unknown tool", method: "POST", path: "/tools/%2E%2E", headers: auth(full), status: 404, code: "UNKNOWN_TOOL", challenge: "-"},
		{name: "no tool name", method: "POST", path: "/tools/", headers: auth(full), status: 400, code: "NO_TOOL", challenge: "-"},
		{name: "GET", method: "GET", path: "/tools/echo", headers: auth(full), status: 405, code: "METHOD_NOT_ALLOWED", challenge: "-"},
		{name: "invalid JSON", method: "POST", path: "/tools/echo", body: `{"message":`, headers: auth(full), status: 400, code: "INVALID_JSON", challenge: "-"},
		{name: "not an object", method: "POST", path: "/tools/echo", body: `["hi"]`, headers: auth(full), status: 400, code: "INVALID_INPUT", challenge: "-"},
		{name: "bad input, the backend's message", method: "POST", path: "/tools/crmGetSalesSummary", body: `{"year":2025,"quarter":9}`, headers: auth(full),
			status: 400, code: "INVALID_INPUT", message: "quarter must be 1..4", challenge: "-"},
		{name: "unknown argument", method: "POST", path: "/tools/echo", body: `{"message":"hi","userId":"bob"}`, headers: auth(full),
			status: 400, code: "UNKNOWN_FIELD", message: "unknown argument; this tool accepts: message", challenge: "-"},
		{name: "body too large", method: "POST", path: "/tools/echo", body: `{"message":"` + strings.Repeat("x", 70<<10) + `"}`, headers: auth(full),
			status: 413, code: "BODY_TOO_LARGE", challenge: "-"},
		{name: "cross-user read is refused", method: "POST", path: "/tools/crmAttemptCrossUserRead", body: `{"targetUser":"bob"}`, headers: auth(full),
			status: 403, code: "CROSS_USER_ACCESS_DENIED", challenge: "-"},
		{name: "disallowed origin", method: "POST", path: "/tools/echo", body: `{"message":"hi"}`, headers: append(auth(full), "Origin", "https://evil.example"),
			status: 403, code: "ORIGIN_NOT_ALLOWED", challenge: "-"},
		{name: "allowed origin", method: "POST", path: "/tools/echo", body: `{"message":"hi"}`, headers: append(auth(full), "Origin", "https://app.example.com"),
			status: 200, challenge: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.body, append(tt.headers, "X-Request-Id", "rest-test-1")...)
			require.Equal(t, tt.status, r.status, r.raw)
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			require.Equal(t, "rest-test-1", r.header.Get("X-Request-Id"))
			if tt.challenge == "-" {
				require.Empty(t, r.header.Get("WWW-Authenticate"))
			} else if tt.code == "UNAUTHORIZED" {
				// No token: no error information, description included,
				// as on the MCP endpoint (RFC 6750 §3.1).
				require.Equal(t, tt.challenge, r.header.Get("WWW-Authenticate"))
			} else {
				require.Equal(t, tt.challenge, stripDescription(r.header.Get("WWW-Authenticate")))
			}
			if tt.code == "" {
				require.Equal(t, []string{"data", "elapsedMs", "ok", "requestId", "uid"}, keysOf(r.body))
				require.Equal(t, true, r.body["ok"])
				require.Equal(t, "rest-test-1", r.body["requestId"])
				require.Equal(t, "alice", r.body["uid"])
				require.Equal(t, true, r.body["data"].(map[string]any)["ok"])
				return
			}
			require.Equal(t, []string{"error", "ok", "requestId"}, keysOf(r.body))
			require.Equal(t, false, r.body["ok"])
			require.Equal(t, "rest-test-1", r.body["requestId"])
			errBody := r.body["error"].(map[string]any)
			require.Equal(t, tt.code, errBody["code"])
			require.NotEmpty(t, errBody["message"])
			if tt.message != "" {
				require.Equal(t, tt.message, errBody["message"])
			}
		})
	}
}

// TestRESTRequestIDReachesTheBackend checks that the request id a client
// sends is the one the backend sees (whoami echoes it), over REST and MCP.
func TestRESTRequestIDReachesTheBackend(t *testing.T) {
	e := newTestEnv(t, nil)
	tok := e.mint("alice", allScopes...)
	r := e.do("POST", "/tools/whoami", "", append(auth(tok), "X-Request-Id", "trace-42")...)
	require.Equal(t, 200, r.status, r.raw)
	req := r.body["data"].(map[string]any)["request"].(map[string]any)
	require.Equal(t, "trace-42", req["requestId"])

	// A value shaped like a token is never taken as a request id.
	r = e.do("POST", "/tools/whoami", "", append(auth(tok), "X-Request-Id", tok)...)
	require.Equal(t, 200, r.status, r.raw)
	require.NotEqual(t, tok, r.header.Get("X-Request-Id"))
	require.NotContains(t, r.raw, tok)
}

// TestRESTPreflight checks that a CORS preflight needs no token and names
// what may be sent.
func TestRESTPreflight(t *testing.T) {
	e := newTestEnv(t, map[string]string{"APP_ORIGIN": "https://app.example.com"})
	r := e.do("OPTIONS", "/tools/echo", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization, content-type")
	require.Equal(t, 204, r.status)
	require.Equal(t, "https://app.example.com", r.header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, r.header.Get("Access-Control-Allow-Headers"), "Authorization")
	require.Contains(t, r.header.Get("Access-Control-Allow-Methods"), "POST")
}

// TestRESTOriginAsBrowsersSendIt: an APP_ORIGIN written with upper case
// or the default port allows the origin browsers send (lower case, no
// default port), on the REST routes as on the MCP endpoint: the REST
// routes ask the MCP server's policy.
func TestRESTOriginAsBrowsersSendIt(t *testing.T) {
	e := newTestEnv(t, map[string]string{"APP_ORIGIN": "https://App.Example.com:443"})
	r := e.do("OPTIONS", "/tools/echo", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
	require.Equal(t, 204, r.status)
	require.Equal(t, "https://app.example.com", r.header.Get("Access-Control-Allow-Origin"))
	r = e.do("OPTIONS", "/tools/echo", "", "Origin", "https://app.example.com.evil", "Access-Control-Request-Method", "POST")
	require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
}

// TestRESTRateLimit checks that REST calls count against the user's limit,
// with 429 and Retry-After beyond it.
func TestRESTRateLimit(t *testing.T) {
	e := newTestEnv(t, map[string]string{"RATE_LIMIT_PER_MIN": "3"})
	tok := e.mint("alice", allScopes...)
	for range 3 {
		r := e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(tok)...)
		require.Equal(t, 200, r.status, r.raw)
	}
	r := e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(tok)...)
	require.Equal(t, 429, r.status, r.raw)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Equal(t, "RATE_LIMITED", r.body["error"].(map[string]any)["code"])
	// Another user has a budget of their own.
	r = e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(e.mint("bob", allScopes...))...)
	require.Equal(t, 200, r.status, r.raw)
}

// TestRESTAddressRateLimit checks that the REST routes, which verify
// tokens, count against the MCP endpoint's per-address limit
// (RATE_LIMIT_PER_IP_PER_MIN), one budget for both, before any token is
// verified; CORS preflights are not counted, as on the MCP endpoint.
func TestRESTAddressRateLimit(t *testing.T) {
	e := newTestEnv(t, map[string]string{"RATE_LIMIT_PER_IP_PER_MIN": "3", "APP_ORIGIN": "https://app.example.com"})
	tok := e.mint("alice", allScopes...)
	for range 5 {
		r := e.do("OPTIONS", "/tools/echo", "", "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
		require.Equal(t, 204, r.status, r.raw)
	}
	require.Equal(t, 401, e.do("POST", "/mcp", `{}`).status)
	require.Equal(t, 401, e.do("POST", "/tools/echo", `{"message":"hi"}`, auth("not-a-token")...).status)
	r := e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(tok)...)
	require.Equal(t, 200, r.status, r.raw)

	r = e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(tok)...)
	require.Equal(t, 429, r.status, r.raw)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	require.Equal(t, "3;w=60", r.header.Get("RateLimit-Policy"))
	require.Equal(t, "RATE_LIMITED", r.body["error"].(map[string]any)["code"], "the REST error format")
	require.NotEmpty(t, r.body["requestId"])
	require.Contains(t, e.logs.String(), `"reason":"ip_rate_limited"`)
	// The MCP endpoint shares the spent budget.
	require.Equal(t, 429, e.do("POST", "/mcp", `{}`, auth(tok)...).status)
}

// keysOf returns the sorted keys of m.
func keysOf(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

// TestRESTExposesItsHeaders: a page on an allowed origin can read every
// header a REST answer carries for it (the RateLimit pair, Retry-After,
// WWW-Authenticate, X-Request-Id): a browser hides a response header that
// Access-Control-Expose-Headers does not name.
func TestRESTExposesItsHeaders(t *testing.T) {
	e := newTestEnv(t, map[string]string{"APP_ORIGIN": "https://app.example.com", "RATE_LIMIT_PER_MIN": "1"})
	tok := e.mint("alice", allScopes...)
	browser := []string{"Origin", "https://app.example.com"}
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"ok", append(auth(tok), browser...), 200},
		{"rate limited", append(auth(tok), browser...), 429},
		{"no token", browser, 401},
	} {
		r := e.do("POST", "/tools/echo", `{"message":"hi"}`, tc.headers...)
		require.Equal(t, tc.status, r.status, tc.name+": "+r.raw)
		exposed := map[string]bool{}
		for _, v := range r.header.Values("Access-Control-Expose-Headers") {
			for name := range strings.SplitSeq(v, ",") {
				exposed[http.CanonicalHeaderKey(strings.TrimSpace(name))] = true
			}
		}
		checked := 0
		for name := range r.header {
			switch name {
			case "Ratelimit", "Ratelimit-Policy", "Retry-After", "Www-Authenticate", "X-Request-Id":
				checked++
				require.True(t, exposed[name], "%s: %s is not in Access-Control-Expose-Headers %q", tc.name, name, r.header.Get("Access-Control-Expose-Headers"))
			}
		}
		require.NotZero(t, checked, tc.name)
	}
}
