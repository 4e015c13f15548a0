package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity/identitytest"
)

// testSalt is the PII_SALT of the tests.
const testSalt = "test-pii-salt-0123456789abcdef"

// allScopes are the four scopes of the tools.
var allScopes = []string{"starter.whoami", "starter.echo", "starter.notes", "starter.crm"}

// syncBuffer is a bytes.Buffer safe for concurrent writes: the log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is a starter served over real HTTP, with an identitytest issuer
// as its authorization server.
type testEnv struct {
	t      *testing.T
	iss    *identitytest.Issuer
	base   string // http://127.0.0.1:port
	mcpURL string
	env    map[string]string
	app    *app
	srv    *httptest.Server
	logs   *syncBuffer
	// tokens are every token minted, to prove none is ever logged.
	mu     sync.Mutex
	tokens []string
}

// newTestEnv starts a starter configured by env (over the defaults: the
// issuer, PUBLIC_URL, PII_SALT and a fresh CRM_DB_PATH), as loadConfig
// reads it.
func newTestEnv(t *testing.T, env map[string]string) *testEnv {
	t.Helper()
	iss := identitytest.NewIssuer(t)
	return newTestEnvWith(t, iss, env)
}

// newTestEnvWith is newTestEnv with a given issuer.
func newTestEnvWith(t *testing.T, iss *identitytest.Issuer, env map[string]string) *testEnv {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	e := &testEnv{t: t, iss: iss, base: "http://" + srv.Listener.Addr().String(), srv: srv, logs: &syncBuffer{}}
	e.mcpURL = e.base + "/mcp"
	e.env = map[string]string{
		"OAUTH_ISSUER": iss.URL(),
		"PUBLIC_URL":   e.mcpURL,
		"PII_SALT":     testSalt,
		"CRM_DB_PATH":  filepath.Join(t.TempDir(), "crm.sqlite"),
		"DEBUG":        "true",
	}
	for k, v := range env {
		e.env[k] = v
	}
	cfg, _, err := loadConfig(e.env, false)
	require.NoError(t, err)
	// The logger the starter runs with (JSON, audit's handler), at debug.
	a, err := newApp(context.Background(), cfg, newLogger(e.logs, &config{Debug: true, ServiceName: cfg.ServiceName}))
	require.NoError(t, err)
	e.app = a
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, a.Close(context.Background()))
		e.requireNoTokenLogged()
	})
	return e
}

// requireNoTokenLogged fails when any token minted appears in the logs.
func (e *testEnv) requireNoTokenLogged() {
	e.t.Helper()
	logs := e.logs.String()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, tok := range e.tokens {
		require.NotContains(e.t, logs, tok, "a token was logged")
	}
}

// mint returns a token for user (subject user, email user@example.com)
// with scopes, for this server.
func (e *testEnv) mint(user string, scopes ...string) string {
	e.t.Helper()
	opts := []identitytest.TokenOption{
		identitytest.Subject(user),
		identitytest.Audience(e.mcpURL),
		identitytest.Email(user + "@example.com"),
		identitytest.Scopes(scopes...),
	}
	tok := e.iss.Mint(e.t, opts...)
	e.mu.Lock()
	e.tokens = append(e.tokens, tok)
	e.mu.Unlock()
	return tok
}

// bearer adds "Authorization: Bearer <token>" to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// connect opens a go-sdk client session with token.
func (e *testEnv) connect(token string) *mcp.ClientSession {
	e.t.Helper()
	cs, err := e.tryConnect(token)
	require.NoError(e.t, err)
	return cs
}

func (e *testEnv) tryConnect(token string) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "starter-test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             e.mcpURL,
		HTTPClient:           &http.Client{Transport: bearer{token: token, base: http.DefaultTransport}},
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}, nil)
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { cs.Close() })
	return cs, nil
}

// callTool calls tool name with args over cs.
func callTool(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err, name)
	return res
}

// textOf returns the text of a result's single content.
func textOf(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	require.Len(t, res.Content, 1)
	tc, ok := res.Content[0].(*mcp.TextContent)
	require.True(t, ok, "content is %T", res.Content[0])
	return tc.Text
}

// structuredOf returns a result's structuredContent as a JSON object.
func structuredOf(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// response is an HTTP answer read whole.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any // raw decoded, when JSON
}

// do sends method path with body and headers (name/value pairs) to the
// server.
func (e *testEnv) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	return doHTTP(e.t, method, e.base+path, body, headers...)
}

// doHTTP sends one request and reads the answer.
func doHTTP(t *testing.T, method, url, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// auth returns the Authorization header pair for token.
func auth(token string) []string { return []string{"Authorization", "Bearer " + token} }

// salesOf computes what crmGetSalesSummary must answer for user in quarter
// q of year: the won deals and their total, from the seed, independently of
// the store's query.
func salesOf(user string, year, q int) (won int, cents int64) {
	key := store.UserKey([]byte(testSalt), user)
	r := store.QuarterRange(year, q)
	for _, d := range store.SeedDeals(key) {
		if d.Stage == store.StageWon && d.CloseDate >= r.Start && d.CloseDate < r.EndExclusive {
			won++
			cents += d.AmountCents
		}
	}
	return won, cents
}

// labelOf is the label under which user's data is shown.
func labelOf(user string) string { return store.Label(store.UserKey([]byte(testSalt), user)) }

// dealsOf is the number of demo deals seeded for user.
func dealsOf(user string) int { return len(store.SeedDeals(store.UserKey([]byte(testSalt), user))) }
