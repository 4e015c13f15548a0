package mcpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// publicURL is the canonical MCP URL of every test server: the default
// audience of identitytest tokens. The test server listens elsewhere
// (127.0.0.1); nothing is derived from the address it is reached at.
const publicURL = identitytest.DefaultAudience

// prmURL is the path-aware metadata URL for publicURL.
const prmURL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

// wantScopes is the scope list of 401 challenges and metadata for the
// tools newEnv registers.
const wantScopes = "crm:read crm:write notes:read notes:write"

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// events returns the audit events written so far, decoded.
func (b *logBuffer) events(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == "audit" {
			out = append(out, m)
		}
	}
	return out
}

// env is a running test server with an issuer and two users.
type env struct {
	t      testing.TB
	iss    *identitytest.Issuer
	srv    *mcpserver.Server
	http   *httptest.Server
	logs   *logBuffer // operational logs and audit events, JSON lines
	alice  string     // crm:read crm:write notes:read
	bob    string     // notes:read only
	bodies *logBuffer // every response body the helpers read
}

// envOption adjusts the Config of a test server.
type envOption func(*mcpserver.Config)

func stateless(c *mcpserver.Config) { c.Stateless = true }

// newEnv starts an issuer and a server with these tools:
//
//	whoami      public          returns the caller's subject and scopes
//	salesRead   crm:read        returns a summary
//	salesWrite  crm:write       returns "written"
//	notes       any of notes:read notes:write
//	fail        public          returns a tool error
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	iss := identitytest.NewIssuer(t)
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	aud, err := audit.New(audit.Config{Logger: logger, SubjectKey: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	cfg := mcpserver.Config{
		Name:                 "crm",
		Version:              "1.0.0",
		PublicURL:            publicURL,
		AuthorizationServers: []string{iss.URL()},
		Verifier:             newVerifier(t, iss),
		Audit:                aud,
		Logger:               logger,
		AllowedOrigins:       []string{"https://app.example.com"},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := mcpserver.New(cfg)
	require.NoError(t, err)
	addTestTools(srv)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{
		t: t, iss: iss, srv: srv, http: hs, logs: logs, bodies: &logBuffer{},
		alice: iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read", "crm:write", "notes:read")),
		bob:   iss.Mint(t, identitytest.Subject("bob"), identitytest.Scopes("notes:read")),
	}
}

// whoamiOut is the output of the whoami tool.
type whoamiOut struct {
	Subject string   `json:"subject"`
	Scopes  []string `json:"scopes"`
}

type empty struct{}

type summaryOut struct {
	Total int `json:"total"`
}

type writeIn struct {
	Account string `json:"account"`
	Secret  string `json:"secret"`
}

func addTestTools(srv *mcpserver.Server) {
	mcpserver.AddTool(srv, &mcp.Tool{Name: "whoami", Description: "who am I"}, scopes.Public(),
		func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, whoamiOut, error) {
			id := mcpserver.IdentityFrom(req)
			if id == nil {
				return nil, whoamiOut{Subject: "anonymous", Scopes: []string{}}, nil
			}
			return nil, whoamiOut{Subject: id.Subject, Scopes: id.Scopes.List()}, nil
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "salesRead", Description: "read sales"}, scopes.All("crm:read"),
		func(_ context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
			return nil, summaryOut{Total: 42}, nil
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "salesWrite", Description: "write sales"}, scopes.All("crm:write"),
		func(_ context.Context, _ *mcp.CallToolRequest, in writeIn) (*mcp.CallToolResult, summaryOut, error) {
			return nil, summaryOut{Total: len(in.Account)}, nil
		}, mcpserver.AuditArgs(func(args map[string]any) map[string]any {
			args["secret"] = "[masked]"
			return args
		}))
	mcpserver.AddTool(srv, &mcp.Tool{Name: "notes", Description: "notes"}, scopes.Any("notes:read", "notes:write"),
		func(_ context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
			return nil, summaryOut{Total: 1}, nil
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "fail", Description: "always fails"}, scopes.Public(),
		func(_ context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
			return nil, summaryOut{}, io.ErrUnexpectedEOF
		})
}

// bearerTransport adds "Authorization: Bearer <token>" to every request,
// reading the token afresh each time so that a test can refresh it.
type bearerTransport struct {
	token *atomic.Pointer[string]
	base  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if tok := b.token.Load(); tok != nil && *tok != "" {
		r.Header.Set("Authorization", "Bearer "+*tok)
	}
	return b.base.RoundTrip(r)
}

// connect opens a go-sdk client session with token (which the test may
// change later through the returned pointer).
func (e *env) connect(token string) (*mcp.ClientSession, *atomic.Pointer[string]) {
	e.t.Helper()
	cs, tok, err := e.tryConnect(token)
	require.NoError(e.t, err)
	return cs, tok
}

func (e *env) tryConnect(token string) (*mcp.ClientSession, *atomic.Pointer[string], error) {
	tok := &atomic.Pointer[string]{}
	tok.Store(&token)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	transport := &mcp.StreamableClientTransport{
		Endpoint:             e.http.URL + "/mcp",
		HTTPClient:           &http.Client{Transport: bearerTransport{token: tok, base: e.http.Client().Transport}},
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}
	cs, err := client.Connect(context.Background(), transport, nil)
	if err != nil {
		return nil, nil, err
	}
	e.t.Cleanup(func() { cs.Close() })
	return cs, tok, nil
}

// rawResponse is a response read by do.
type rawResponse struct {
	Status int
	Header http.Header
	Body   string
}

// do sends one raw HTTP request to the server and reads the whole answer.
// headers are name/value pairs.
func (e *env) do(method, path, body string, headers ...string) rawResponse {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	require.NoError(e.t, err)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := e.http.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	e.bodies.Write(b)
	e.bodies.Write([]byte("\n"))
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// JSON-RPC bodies.
const (
	initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	initializedMsg = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

func callBody(id int, tool string) string {
	return `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
}

// bearer returns the Authorization header pair for token.
func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// with concatenates header pairs.
func with(pairs ...[]string) []string {
	var out []string
	for _, p := range pairs {
		out = append(out, p...)
	}
	return out
}

// session opens a raw stateful session for token and returns its id.
func (e *env) session(token string) string {
	e.t.Helper()
	r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(token)...)
	require.Equal(e.t, http.StatusOK, r.Status, r.Body)
	sid := r.Header.Get("Mcp-Session-Id")
	require.NotEmpty(e.t, sid)
	r = e.do(http.MethodPost, "/mcp", initializedMsg, with(bearer(token), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18"})...)
	require.Equal(e.t, http.StatusAccepted, r.Status, r.Body)
	return sid
}

// newVerifier returns a JWT verifier for iss's tokens addressed to
// publicURL, closed when the test ends.
func newVerifier(t testing.TB, iss *identitytest.Issuer) identity.Verifier {
	t.Helper()
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{publicURL},
	})
	require.NoError(t, err)
	t.Cleanup(v.Close)
	return v
}

func newTool(name string) *mcp.Tool { return &mcp.Tool{Name: name, Description: name} }

func noop(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
	return nil, summaryOut{}, nil
}

// serve starts h on a test server, for tests that build their own Server.
func serve(t *testing.T, h http.Handler) *env {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return &env{t: t, http: hs, bodies: &logBuffer{}}
}

// remarshal converts v to out through JSON.
func remarshal(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
