package interop_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// The OAuth client the TypeScript driver presents (ts-client.mjs
// defaults), registered in advance with the dev authorization server.
const (
	tsClientID    = "idgate-interop"
	tsRedirectURI = "http://127.0.0.1:1/callback"
)

// demo is the server the third-party clients talk to: three tools with
// different requirements behind the whole idgate chain (audit, Origin
// policy, JWT verification against an identitytest issuer, rate limits,
// step-up), over real HTTP.
type demo struct {
	srv    *mcpserver.Server
	url    string // Config.PublicURL: the httptest URL + "/mcp"
	prmURL string // the path-aware protected-resource metadata URL
	iss    *identitytest.Issuer
	audit  *lockedBuffer // the JSON audit events
	log    *lockedBuffer // the server's operational log
}

// The demo tools' scopes.
const (
	scopeEcho  = "demo.echo"
	scopeSales = "crm:read"
)

type echoIn struct {
	Message string `json:"message" jsonschema:"what to echo"`
}

type echoOut struct {
	Message string `json:"message"`
	User    string `json:"user"`
}

type salesIn struct {
	Quarter string `json:"quarter,omitempty" jsonschema:"the quarter, such as 2026-Q4"`
}

type salesOut struct {
	User    string `json:"user"`
	Quarter string `json:"quarter"`
	Total   int    `json:"total"`
}

type whoamiOut struct {
	Subject string   `json:"subject"`
	Scopes  []string `json:"scopes"`
}

// newDemo starts a demo server, stateful or stateless, and its issuer,
// which is also the authorization server (identitytest's dev server) that
// the protected-resource metadata names. opts adjust the server's Config.
func newDemo(t *testing.T, stateless bool, opts ...func(*mcpserver.Config)) *demo {
	t.Helper()
	// The listener first: PublicURL, and so the audience, must be known
	// before the server is built.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := httptest.NewUnstartedServer(nil)
	hs.Listener.Close()
	hs.Listener = ln
	d := &demo{url: "http://" + ln.Addr().String() + "/mcp", audit: &lockedBuffer{}, log: &lockedBuffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s\naudit log:\n%s", d.log, d.audit)
		}
	})
	d.prmURL = "http://" + ln.Addr().String() + "/.well-known/oauth-protected-resource/mcp"

	d.iss = identitytest.NewIssuer(t,
		identitytest.WithAudience(d.url),
		identitytest.WithAuthorizationServer(identitytest.AuthServerConfig{
			Resources: []string{d.url},
			Clients:   []identitytest.RegisteredClient{{ID: tsClientID, RedirectURIs: []string{tsRedirectURI}}},
		}))
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    d.iss.URL(),
		Audiences: []string{d.url},
	})
	require.NoError(t, err)
	aud, err := audit.New(audit.Config{
		Logger:     slog.New(slog.NewJSONHandler(d.audit, nil)),
		SubjectKey: []byte("interop-test-subject-key-32bytes"),
	})
	require.NoError(t, err)
	cfg := mcpserver.Config{
		Name:                 "idgate-demo",
		Version:              "1.0.0",
		PublicURL:            d.url,
		AuthorizationServers: []string{d.iss.URL()},
		Verifier:             v,
		Audit:                aud,
		Stateless:            stateless,
		Logger:               slog.New(slog.NewTextHandler(d.log, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := mcpserver.New(cfg)
	require.NoError(t, err)
	d.srv = srv

	mcpserver.AddTool(srv, &mcp.Tool{Name: "whoami", Description: "Who the server thinks you are."}, scopes.Public(),
		func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiOut, error) {
			id := mcpserver.IdentityFrom(req)
			return nil, whoamiOut{Subject: id.Subject, Scopes: id.Scopes.List()}, nil
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "echo", Description: "Echoes the message, naming the caller."}, scopes.All(scopeEcho),
		func(_ context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
			return nil, echoOut{Message: in.Message, User: mcpserver.IdentityFrom(req).Subject}, nil
		})
	mcpserver.AddTool(srv, &mcp.Tool{Name: "salesSummary", Description: "The caller's sales for a quarter."}, scopes.All(scopeSales),
		func(_ context.Context, req *mcp.CallToolRequest, in salesIn) (*mcp.CallToolResult, salesOut, error) {
			q := in.Quarter
			if q == "" {
				q = "2026-Q4"
			}
			return nil, salesOut{User: mcpserver.IdentityFrom(req).Subject, Quarter: q, Total: 42}, nil
		})

	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return d
}

// token mints an access token for the demo server.
func (d *demo) token(t *testing.T, subject string, scope ...string) string {
	t.Helper()
	return d.iss.Mint(t, identitytest.Subject(subject), identitytest.Scopes(scope...))
}

// challenge403 is the WWW-Authenticate header of a 403 step-up asking for
// scope (SPEC 10).
func (d *demo) challenge403(scope string) string {
	return `Bearer resource_metadata="` + d.prmURL + `", scope="` + scope + `", error="insufficient_scope"`
}

// requireNoTokenLogged fails when any of tokens appears in the audit log
// (SPEC 26).
func (d *demo) requireNoTokenLogged(t *testing.T, tokens ...string) {
	t.Helper()
	log := d.audit.String()
	require.NotEmpty(t, log, "the audit log must have events")
	for _, tok := range tokens {
		require.NotContains(t, log, tok, "a token was logged")
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers (request
// goroutines writing audit events).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// browser plays the person at the browser for ts-client.mjs: it receives
// the authorization URL the SDK sends the user to, records it, signs in as
// user at identitytest's dev sign-in page and answers where the
// authorization server redirected the browser.
type browser struct {
	srv  *httptest.Server
	mu   sync.Mutex
	urls []string
}

func newBrowser(t *testing.T, user string) *browser {
	t.Helper()
	b := &browser{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, 8<<10)); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.urls = append(b.urls, body.String())
		b.mu.Unlock()
		loc, err := identitytest.SignIn(r.Context(), nil, body.String(), user)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Write([]byte(loc.String()))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// visited returns the authorization URLs the browser was sent to.
func (b *browser) visited() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.urls...)
}
