package mcpserver_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
)

// SPEC 6–9, 12: challenges on every method of the MCP endpoint.
func TestChallenges(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		noToken := `Bearer resource_metadata="` + prmURL + `", scope="` + wantScopes + `"`
		invalid := func(desc string) string {
			return `Bearer resource_metadata="` + prmURL + `", scope="` + wantScopes + `", error="invalid_token", error_description="` + desc + `"`
		}
		badRequest := `Bearer resource_metadata="` + prmURL + `", error="invalid_request", error_description="malformed authorization request"`
		tests := []struct {
			name       string
			path       string
			headers    []string
			wantStatus int
			wantChal   string
		}{
			{"no token", "/mcp", nil, 401, noToken},
			{"Basic is no token", "/mcp", []string{"Authorization", "Basic YWxpY2U6cHc="}, 401, noToken},
			{"bad signature", "/mcp", bearer(e.iss.Mint(t, identitytest.ForeignKey())), 401, invalid("token signature invalid")},
			{"expired", "/mcp", bearer(e.iss.Mint(t, identitytest.ExpiresAt(time.Now().Add(-time.Hour)))), 401, invalid("token expired")},
			{"wrong audience", "/mcp", bearer(e.iss.Mint(t, identitytest.Audience("https://other.example.com/mcp"))), 401, invalid("token audience not accepted")},
			{"wrong issuer", "/mcp", bearer(e.iss.Mint(t, identitytest.IssuerClaim("https://evil.example"))), 401, invalid("token issuer not accepted")},
			{"malformed JWT", "/mcp", bearer("eyJhbGciOiJSUzI1NiJ9.bm90anNvbg.c2ln"), 401, invalid("malformed token")},
			{"opaque token", "/mcp", bearer("not-a-jwt"), 401, invalid("opaque token not accepted")},
			{"DPoP-bound token sent as a bearer token", "/mcp", bearer(e.iss.Mint(t, identitytest.Claim("cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}))), 401, invalid("sender-constrained token not accepted as a bearer token")},
			{"token in query", "/mcp?access_token=" + e.alice, nil, 400, badRequest},
			{"token sent two ways", "/mcp?access_token=" + e.alice, bearer(e.alice), 400, badRequest},
			{"Bearer with no token", "/mcp", []string{"Authorization", "Bearer"}, 400, badRequest},
			{"Host: evil.example changes nothing", "/mcp", []string{"Host", "evil.example"}, 401, noToken},
			{"X-Forwarded-Host changes nothing", "/mcp", []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http"}, 401, noToken},
		}
		methods := []string{http.MethodPost, http.MethodGet, http.MethodDelete}
		for _, tc := range tests {
			for _, m := range methods {
				t.Run(tc.name+"/"+m, func(t *testing.T) {
					body := ""
					if m == http.MethodPost {
						body = initializeBody
					}
					r := e.do(m, tc.path, body, tc.headers...)
					require.Equal(t, tc.wantStatus, r.Status, r.Body)
					require.Equal(t, []string{tc.wantChal}, r.Header.Values("WWW-Authenticate"))
					require.NotContains(t, r.Body, e.alice)
					require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
				})
			}
		}
	})
}

// SPEC 12: the scheme is case-insensitive.
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	e := newEnv(t, stateless)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		t.Run(scheme, func(t *testing.T) {
			r := e.do(http.MethodPost, "/mcp", initializeBody, "Authorization", scheme+" "+e.alice)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
		})
	}
}

// SPEC 3: preflights are never gated and expose what browser clients need.
func TestPreflight(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		origin     string
		wantStatus int
	}{
		{"allowed origin", "https://app.example.com", http.StatusNoContent},
		{"public URL's own origin", "https://mcp.example.com", http.StatusNoContent},
		{"disallowed origin", "https://evil.example", http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodOptions, "/mcp", "",
				"Origin", tc.origin,
				"Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version, mcp-session-id")
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
			require.Empty(t, r.Header.Get("WWW-Authenticate"), "a preflight is not auth-gated")
			if tc.wantStatus != http.StatusNoContent {
				require.Empty(t, r.Header.Get("Access-Control-Allow-Origin"))
				return
			}
			require.Equal(t, tc.origin, r.Header.Get("Access-Control-Allow-Origin"))
			require.Contains(t, r.Header.Values("Vary"), "Origin")
			allowed := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
			for _, h := range []string{"authorization", "content-type", "mcp-protocol-version", "mcp-session-id", "last-event-id", "x-request-id"} {
				require.Contains(t, allowed, h)
			}
			require.Contains(t, r.Header.Get("Access-Control-Allow-Methods"), "DELETE")
			require.NotContains(t, allowed, "mcp-param-", "no Mcp-Param-* header was asked for")
			exposed := strings.ToLower(r.Header.Get("Access-Control-Expose-Headers"))
			require.Contains(t, exposed, "www-authenticate")
			require.Contains(t, exposed, "mcp-session-id")
		})
	}
}

// SPEC 25: a present, disallowed Origin gets 403 even with a valid token.
func TestOrigin(t *testing.T) {
	e := newEnv(t, stateless)
	tests := []struct {
		name       string
		headers    []string
		wantStatus int
		wantACAO   string
	}{
		{"no Origin (not a browser)", bearer(e.alice), http.StatusOK, ""},
		{"allowed origin", with(bearer(e.alice), []string{"Origin", "https://app.example.com"}), http.StatusOK, "https://app.example.com"},
		{"public URL's origin", with(bearer(e.alice), []string{"Origin", "https://mcp.example.com"}), http.StatusOK, "https://mcp.example.com"},
		{"disallowed origin, valid token", with(bearer(e.alice), []string{"Origin", "https://evil.example"}), http.StatusForbidden, ""},
		{"look-alike origin", with(bearer(e.alice), []string{"Origin", "https://app.example.com.evil.example"}), http.StatusForbidden, ""},
		{"null origin", with(bearer(e.alice), []string{"Origin", "null"}), http.StatusForbidden, ""},
		{"disallowed origin, no token: 403 before 401", []string{"Origin", "https://evil.example"}, http.StatusForbidden, ""},
		{"allowed origin, no token: the page can read the challenge", []string{"Origin", "https://app.example.com"}, http.StatusUnauthorized, "https://app.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/mcp", initializeBody, tc.headers...)
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
			require.Equal(t, tc.wantACAO, r.Header.Get("Access-Control-Allow-Origin"))
			if tc.wantStatus == http.StatusForbidden {
				require.JSONEq(t, `{"error":"origin not allowed"}`, r.Body)
				require.Empty(t, r.Header.Get("WWW-Authenticate"))
			}
			if tc.wantACAO != "" {
				require.Contains(t, r.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate")
			}
		})
	}
}

// TestOriginConfiguredInAnyCase: an allowed origin configured with upper
// case or the scheme's default port matches what browsers send (lower
// case, no default port), and nothing else.
func TestOriginConfiguredInAnyCase(t *testing.T) {
	e := newEnv(t, stateless, func(c *mcpserver.Config) {
		c.AllowedOrigins = []string{"https://App.Example.com", "HTTPS://other.example.com:443", "http://dev.example.com:8080"}
	})
	for origin, want := range map[string]int{
		"https://app.example.com":        http.StatusOK,
		"https://other.example.com":      http.StatusOK,
		"http://dev.example.com:8080":    http.StatusOK,
		"https://app.example.com.evil":   http.StatusForbidden,
		"http://app.example.com":         http.StatusForbidden,
		"https://other.example.com:8443": http.StatusForbidden,
	} {
		r := e.do(http.MethodPost, "/mcp", initializeBody, with(bearer(e.alice), []string{"Origin", origin})...)
		require.Equal(t, want, r.Status, "%s: %s", origin, r.Body)
	}
}

// DNS rebinding: behind a loopback listener, a foreign Host is refused even
// with a valid token; the public host and loopback names are accepted.
func TestHostCheck(t *testing.T) {
	e := newEnv(t, stateless)
	tests := []struct {
		host       string
		wantStatus int
	}{
		{"evil.example", http.StatusForbidden},
		{"mcp.example.com", http.StatusOK},
		{"localhost:8080", http.StatusOK},
		{"127.0.0.1", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			r := e.do(http.MethodPost, "/mcp", initializeBody, with(bearer(e.alice), []string{"Host", tc.host})...)
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
		})
	}
}

// SPEC 19 through the server: when no signing key can be had (cold start,
// issuer down), the answer is 503 with Retry-After and no challenge, so
// that the client keeps its token; the audit says error.
func TestKeysUnavailable(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	iss.SetJWKSAvailable(false)
	e := newEnv(t, stateless, func(c *mcpserver.Config) { c.Verifier = newVerifier(t, iss) })
	tok := iss.Mint(t, identitytest.Subject("alice"))
	r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(tok)...)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Body)
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	require.Empty(t, r.Header.Values("WWW-Authenticate"))
	events := e.logs.events(t)
	require.Equal(t, "error", events[len(events)-1]["decision"])
	require.Equal(t, "verifier_unavailable", events[len(events)-1]["reason"])
}

// The step-up check reads the JSON-RPC body with its own scanner
// (rpcpeek.go), go-sdk with segmentio/encoding/json. Whatever a body that
// might read differently to the two does, a tool is never run for a caller without its scopes: the check
// inside MCP catches what the HTTP layer might miss.
func TestStepUpParserDifferential(t *testing.T) {
	e := newEnv(t, stateless)
	hdr := with(bearer(e.bob), []string{"Mcp-Protocol-Version", "2025-06-18"})
	bodies := []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"salesWrite","arguments":{"account":"a","secret":"s"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"salesWrite","name":"whoami","arguments":{"account":"a","secret":"s"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"salesWrite","arguments":{"account":"a","secret":"s"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"salesWrite","name":"whoami","arguments":{"account":"a","secret":"s"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"salesWrite","arguments":{"account":"a","secret":"s"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"salesWrite","arguments":{"account":"a","secret":"s"}}}`,
		`{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"salesWrite","arguments":{"account":"a","secret":"s"}}}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"sales\\u0057rite\",\"arguments\":{\"account\":\"a\",\"secret\":\"s\"}}}",
	}
	for i, body := range bodies {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			r := e.do(http.MethodPost, "/mcp", body, hdr...)
			require.NotContains(t, r.Body, `{\"total\":1}`, "salesWrite ran for bob (status %d): %s", r.Status, r.Body)
			require.NotContains(t, r.Body, `"total":1`, "salesWrite ran for bob (status %d): %s", r.Status, r.Body)
		})
	}
}

// SPEC 3 at protocol 2026-07-28: a browser client's preflight asks for the
// headers every call carries from then on (Mcp-Method, Mcp-Name) and for
// those binding a tool's arguments (Mcp-Param-<name>, SEP-2243), whose
// names depend on the tool: all are allowed, and nothing else asked for.
func TestPreflightNewProtocolHeaders(t *testing.T) {
	e := newEnv(t, stateless)
	r := e.do(http.MethodOptions, "/mcp", "",
		"Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization,content-type,mcp-method,mcp-name,mcp-protocol-version,mcp-param-region,x-evil,mcp-param-,mcp-param-a b",
		"Access-Control-Request-Headers", "Mcp-Param-Tenant-Id")
	require.Equal(t, http.StatusNoContent, r.Status, r.Body)
	var allowed []string
	for _, h := range strings.Split(r.Header.Get("Access-Control-Allow-Headers"), ",") {
		allowed = append(allowed, strings.ToLower(strings.TrimSpace(h)))
	}
	for _, h := range []string{"authorization", "content-type", "mcp-method", "mcp-name", "mcp-protocol-version", "mcp-param-region", "mcp-param-tenant-id"} {
		require.Contains(t, allowed, h)
	}
	for _, h := range []string{"x-evil", "mcp-param-", "mcp-param-a b"} {
		require.NotContains(t, allowed, h)
	}
}

// The DNS-rebinding check compares hosts as URLs do (RFC 9110 §4.2.3): the
// scheme's default port is the same host written with or without it, on
// either side, so a local proxy that forwards "Host: mcp.example.com:443"
// is not refused, nor a PublicURL written with ":443". Another port is
// another host.
func TestHostCheckDefaultPort(t *testing.T) {
	for _, tc := range []struct {
		publicURL, host string
		wantStatus      int
	}{
		{"https://mcp.example.com/mcp", "mcp.example.com:443", http.StatusOK},
		{"https://mcp.example.com/mcp", "MCP.example.com:443", http.StatusOK},
		{"https://mcp.example.com:443/mcp", "mcp.example.com", http.StatusOK},
		{"https://mcp.example.com:443/mcp", "mcp.example.com:443", http.StatusOK},
		{"https://mcp.example.com/mcp", "mcp.example.com:80", http.StatusForbidden},
		{"https://mcp.example.com/mcp", "mcp.example.com:8443", http.StatusForbidden},
		{"https://mcp.example.com:8443/mcp", "mcp.example.com", http.StatusForbidden},
		{"https://mcp.example.com:443/mcp", "evil.example:443", http.StatusForbidden},
	} {
		t.Run(tc.publicURL+" "+tc.host, func(t *testing.T) {
			e := newEnv(t, stateless, func(c *mcpserver.Config) { c.PublicURL = tc.publicURL })
			r := e.do(http.MethodPost, tc.publicURL[strings.LastIndex(tc.publicURL, "/"):], initializeBody, with(bearer(e.alice), []string{"Host", tc.host})...)
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
		})
	}
}
