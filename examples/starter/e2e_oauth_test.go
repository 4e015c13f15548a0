package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/internal/interop"
)

// flowLine is one line of internal/interop/testdata/oauth-flow.mjs: the
// outcome of connecting or of one step.
type flowLine struct {
	Op           string          `json:"op"`
	OK           bool            `json:"ok"`
	Result       json.RawMessage `json:"result"`
	Error        string          `json:"error"`
	Reauthorized bool            `json:"reauthorized"`
	ClientID     string          `json:"clientId"`
	HTTP         []flowExchange  `json:"http"`
}

// flowExchange is one HTTP exchange the SDK made, or (method "BROWSER") a
// visit of the browser to the authorization URL.
type flowExchange struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	Status          int    `json:"status"`
	WWWAuthenticate string `json:"wwwAuthenticate"`
}

// flowResult is the part of a tools/call result the test reads.
type flowResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent map[string]any `json:"structuredContent"`
	IsError           bool           `json:"isError"`
}

// String shows the line as the driver printed it, for failure messages.
func (l flowLine) String() string {
	b, err := json.Marshal(l)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// call returns the tool result of a successful line.
func (l flowLine) call(t *testing.T) flowResult {
	t.Helper()
	require.True(t, l.OK, "%s failed: %s", l.Op, l.Error)
	var r flowResult
	require.NoError(t, json.Unmarshal(l.Result, &r))
	require.False(t, r.IsError, "%s: %+v", l.Op, r)
	require.Len(t, r.Content, 1)
	require.Equal(t, "text", r.Content[0].Type)
	return r
}

// signInBrowser plays the person at the browser for oauth-flow.mjs: it
// receives the authorization URL the SDK sends the user to, records it,
// signs in as user at the dev sign-in page with identitytest.SignIn and
// answers where the authorization server redirected the browser. At the
// first sign-in the person grants only firstGrant (unticking the rest);
// afterwards, what the page ticks (every scope asked for).
type signInBrowser struct {
	srv        *httptest.Server
	user       string
	firstGrant []string
	mu         sync.Mutex
	urls       []string
}

func newSignInBrowser(t *testing.T, user string, firstGrant ...string) *signInBrowser {
	t.Helper()
	b := &signInBrowser{user: user, firstGrant: firstGrant}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, 8<<10)); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.urls = append(b.urls, body.String())
		var grant []string
		if len(b.urls) == 1 {
			grant = b.firstGrant
		}
		b.mu.Unlock()
		loc, err := identitytest.SignIn(r.Context(), nil, body.String(), b.user, grant...)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, loc.String())
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// visited returns the authorization URLs the browser was sent to.
func (b *signInBrowser) visited() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.urls)
}

// devEndpoints are the URLs of a running -dev starter that an OAuth client
// meets, as its metadata advertises them.
type devEndpoints struct {
	mcp, prm, issuer, asMetadata, authorize, token, register string
}

// discoverDev reads the endpoints of the -dev starter r from its ready line
// and its metadata.
func discoverDev(t *testing.T, r *running) devEndpoints {
	t.Helper()
	e := devEndpoints{mcp: r.ready["mcp"], issuer: r.ready["issuer"]}
	e.prm = strings.Replace(e.mcp, "/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
	e.asMetadata = e.issuer + "/.well-known/oauth-authorization-server"
	as := doHTTP(t, http.MethodGet, e.asMetadata, "")
	require.Equal(t, http.StatusOK, as.status, as.raw)
	e.authorize, _ = as.body["authorization_endpoint"].(string)
	e.token, _ = as.body["token_endpoint"].(string)
	e.register, _ = as.body["registration_endpoint"].(string)
	require.NotEmpty(t, e.authorize)
	require.NotEmpty(t, e.token)
	require.NotEmpty(t, e.register)
	return e
}

// label names an exchange for the sequence assertions: "mcp 401", "prm
// 200", "as-metadata 200", "register 201", "authorize", "token 200". The
// SDK's standalone GET stream on the MCP endpoint, opened in the background
// after initialization, has no fixed place in the sequence: label returns
// "" for it.
func (e devEndpoints) label(x flowExchange) string {
	switch {
	case x.Method == "BROWSER":
		return "authorize"
	case x.Method == http.MethodGet && x.URL == e.mcp:
		return ""
	case x.Method == http.MethodPost && x.URL == e.mcp:
		return fmt.Sprintf("mcp %d", x.Status)
	case x.Method == http.MethodGet && x.URL == e.prm:
		return fmt.Sprintf("prm %d", x.Status)
	case x.Method == http.MethodGet && x.URL == e.asMetadata:
		return fmt.Sprintf("as-metadata %d", x.Status)
	case x.Method == http.MethodPost && x.URL == e.register:
		return fmt.Sprintf("register %d", x.Status)
	case x.Method == http.MethodPost && x.URL == e.token:
		return fmt.Sprintf("token %d", x.Status)
	}
	return fmt.Sprintf("%s %s %d", x.Method, x.URL, x.Status) // unexpected
}

// sequence labels the exchanges of lines, in order.
func (e devEndpoints) sequence(lines ...flowLine) []string {
	var out []string
	for _, l := range lines {
		for _, x := range l.HTTP {
			if s := e.label(x); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// authorizationRequest checks that raw is an authorization request to the
// dev authorization server from clientID, for the starter's resource
// (PUBLIC_URL), with PKCE S256, and returns the scopes it asks for.
func (e devEndpoints) authorizationRequest(t *testing.T, raw, clientID string) []string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	q := u.Query()
	u.RawQuery = ""
	require.Equal(t, e.authorize, u.String())
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, clientID, q.Get("client_id"), "the client registered dynamically")
	require.Equal(t, e.mcp, q.Get("resource"), "RFC 8707 resource = PUBLIC_URL")
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.Regexp(t, `^[A-Za-z0-9_-]{43}$`, q.Get("code_challenge"), "a base64url SHA-256")
	require.Equal(t, "http://127.0.0.1:1/callback", q.Get("redirect_uri"))
	return strings.Fields(q.Get("scope"))
}

// runOAuthFlow runs oauth-flow.mjs against the MCP endpoint with browser
// and steps, its client registering for grantTypes, and returns its lines:
// "connect", then one per step.
func runOAuthFlow(t *testing.T, mcpURL string, browser *signInBrowser, grantTypes []string, steps ...map[string]any) []flowLine {
	t.Helper()
	spec, err := json.Marshal(map[string]any{"url": mcpURL, "browser": browser.srv.URL, "grantTypes": grantTypes, "steps": steps})
	require.NoError(t, err)
	res := interop.Run(t, 60*time.Second, nil, "oauth-flow.mjs", string(spec))
	require.Zero(t, res.ExitCode, res.String())
	var lines []flowLine
	for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var line flowLine
		require.NoError(t, json.Unmarshal([]byte(l), &line), "output line %q\n%s", l, res)
		lines = append(lines, line)
	}
	return lines
}

// jwtLike matches a JWT: three base64url segments, the first a JSON
// object.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// TestDevModeTypeScriptSDKOAuth is the starter's end-to-end test (issue 4,
// "Done means"): the official TypeScript SDK's own OAuth client, starting
// with nothing, signs in to `starter -dev` (run in process on random
// loopback ports) the whole way — 401 → protected-resource metadata →
// authorization server metadata → dynamic registration → authorization
// with PKCE S256 for the starter's resource → token → whoami shows the
// chosen user — then calls a CRM tool it lacks the scope for, gets the
// 403 step-up, re-authorizes, signs in again and succeeds, and keeps
// whoami. A second person, bob, goes the same way through the same server
// and sees his own numbers, never alice's.
func TestDevModeTypeScriptSDKOAuth(t *testing.T) {
	interop.Setup(t)
	env := map[string]string{
		"PORT":        "0", // the MCP server and the dev authorization server on free ports
		"PII_SALT":    testSalt,
		"CRM_DB_PATH": filepath.Join(t.TempDir(), "crm.sqlite"),
	}
	r := startRun(t, "starter: ready", []string{"-dev"}, env)
	ep := discoverDev(t, r)

	const year, quarter = 2025, 2
	// The client registers for the authorization_code grant only, so it
	// holds no refresh token: TypeScript SDK 1.x, holding one, answers a
	// 403 insufficient_scope by refreshing (which cannot add a scope) and
	// gives up instead of re-authorizing — typescript-sdk#2255, shown by the
	// last subtest.
	codeOnly := []string{"authorization_code"}
	seen := map[string]string{} // user → sales text
	for _, user := range []string{"alice", "bob"} {
		t.Run(user, func(t *testing.T) {
			browser := newSignInBrowser(t, user, "starter.whoami", "starter.echo")
			lines := runOAuthFlow(t, ep.mcp, browser, codeOnly,
				map[string]any{"op": "call", "name": "whoami"},
				map[string]any{"op": "call", "name": "crmGetSalesSummary", "args": map[string]any{"year": year, "quarter": quarter}},
				map[string]any{"op": "call", "name": "whoami"},
			)
			require.Len(t, lines, 4, "connect and three steps: %+v", lines)
			connect, who, sales, whoAgain := lines[0], lines[1], lines[2], lines[3]
			for _, l := range lines {
				require.True(t, l.OK, "%s", l)
			}
			clientID := connect.ClientID
			require.NotEmpty(t, clientID, "the SDK registered a client")
			visited := browser.visited()
			require.Len(t, visited, 2, "two sign-ins: the first, then the step-up")

			// 1. No token: the whole sign-in, in order, then the MCP
			// initialization with the new token.
			require.True(t, connect.Reauthorized, "connect went through the sign-in")
			require.Equal(t, []string{
				"mcp 401", "prm 200", "as-metadata 200", "register 201",
				"authorize", "token 200",
				"mcp 200", "mcp 202", // initialize, notifications/initialized
			}, ep.sequence(connect))
			challenge := connect.HTTP[0].WWWAuthenticate
			require.Contains(t, challenge, `resource_metadata="`+ep.prm+`"`, "the 401 names the metadata the SDK fetched next")
			asked := ep.authorizationRequest(t, visited[0], clientID)
			require.ElementsMatch(t, allScopes, asked, "the first sign-in asks for the 401 challenge's scopes")

			// 2. whoami shows the user who signed in, with only the scopes
			// granted.
			require.Equal(t, []string{"mcp 200"}, ep.sequence(who))
			res := who.call(t)
			proof := fmt.Sprintf("✅ Verified OAuth JWT for %s@example.com (expires in ~60 min)", user)
			require.Equal(t, proof, res.Content[0].Text)
			sc := res.StructuredContent
			require.Equal(t, true, sc["verified"])
			require.Equal(t, proof, sc["proof"])
			u, ok := sc["user"].(map[string]any)
			require.True(t, ok, "structuredContent.user: %v", sc)
			require.Equal(t, user, u["sub"])
			require.Equal(t, user+"@example.com", u["email"])
			require.Equal(t, labelOf(user), u["user_key"])
			a, ok := sc["authorization"].(map[string]any)
			require.True(t, ok, "structuredContent.authorization: %v", sc)
			require.Equal(t, ep.issuer, a["issuer"])
			require.ElementsMatch(t, []any{"starter.whoami", "starter.echo"}, a["scope_list"], "only what the person granted")

			// 3. The CRM tool: 403 step-up, a second sign-in asking for
			// starter.crm and the scopes already granted, a new token,
			// and the call goes through.
			require.True(t, sales.Reauthorized, "the SDK re-authorized")
			require.Equal(t, []string{"mcp 403", "authorize", "token 200", "mcp 200"}, ep.sequence(sales))
			require.Equal(t,
				`Bearer resource_metadata="`+ep.prm+`", scope="starter.crm starter.echo starter.whoami", error="insufficient_scope"`,
				sales.HTTP[0].WWWAuthenticate)
			asked = ep.authorizationRequest(t, visited[1], clientID)
			require.ElementsMatch(t, []string{"starter.crm", "starter.whoami", "starter.echo"}, asked,
				"the step-up asks for starter.crm and keeps the granted scopes (StepUpIncludeGrantedScopes)")
			won, cents := salesOf(user, year, quarter)
			want := fmt.Sprintf("📊 Sales in Q%d %d: $%d across %d won deals.", quarter, year, (cents+50)/100, won)
			res = sales.call(t)
			require.Equal(t, want, res.Content[0].Text)
			require.Equal(t, labelOf(user), res.StructuredContent["user"])
			seen[user] = want

			// 4. whoami still works with the new token, now with every
			// scope granted at the second sign-in, and no other sign-in.
			require.False(t, whoAgain.Reauthorized)
			require.Equal(t, []string{"mcp 200"}, ep.sequence(whoAgain))
			res = whoAgain.call(t)
			require.Equal(t, proof, res.Content[0].Text)
			a, ok = res.StructuredContent["authorization"].(map[string]any)
			require.True(t, ok, "structuredContent.authorization: %v", res.StructuredContent)
			require.ElementsMatch(t, []any{"starter.crm", "starter.whoami", "starter.echo"}, a["scope_list"])

			// The SDK's background GET stream, if any, was let in.
			for _, l := range lines {
				for _, x := range l.HTTP {
					if x.Method == http.MethodGet && x.URL == ep.mcp {
						require.Equal(t, http.StatusOK, x.Status, "GET stream: %+v", x)
					}
				}
			}
		})
	}
	// User isolation across the whole OAuth path: bob's numbers are his.
	require.Len(t, seen, 2)
	require.NotEqual(t, seen["alice"], seen["bob"], "alice and bob see different sales")

	// A known limitation of the pinned SDK, kept visible: when this test
	// fails because the SDK re-authorized, the SDK has fixed #2255 — drop
	// codeOnly above and this subtest.
	t.Run("with a refresh token SDK 1.x refreshes instead of re-authorizing (typescript-sdk#2255)", func(t *testing.T) {
		browser := newSignInBrowser(t, "alice", "starter.whoami", "starter.echo")
		lines := runOAuthFlow(t, ep.mcp, browser, []string{"authorization_code", "refresh_token"},
			map[string]any{"op": "call", "name": "whoami"},
			map[string]any{"op": "call", "name": "crmGetSalesSummary", "args": map[string]any{"year": year, "quarter": quarter}},
		)
		require.Len(t, lines, 3, "connect and two steps: %+v", lines)
		require.True(t, lines[0].OK, "connect: %s", lines[0].Error)
		require.True(t, lines[1].OK, "whoami: %s", lines[1].Error)
		sales := lines[2]
		require.False(t, sales.OK, "the SDK stepped up: typescript-sdk#2255 is fixed in this version")
		require.Contains(t, sales.Error, "Server returned 403 after trying upscoping")
		// The 403, a refresh at the token endpoint (the same scopes), the
		// same 403 again, and no sign-in.
		require.Equal(t, []string{"mcp 403", "token 200", "mcp 403"}, ep.sequence(sales))
		require.Len(t, browser.visited(), 1, "only the first sign-in")
	})

	require.Empty(t, jwtLike.FindAllString(r.logs.String(), -1), "no token in the starter's logs")
	require.NoError(t, r.stop(), "a clean shutdown")
}
