package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

// running is the starter command run in process by startRun.
type running struct {
	cancel context.CancelFunc
	done   chan error
	out    *syncBuffer // stdout
	logs   *syncBuffer // stderr
	ready  map[string]string
	once   sync.Once
	err    error
}

// startRun runs the command line args with env in a goroutine, as main
// would, and returns once it printed its ready line (starting with
// readyPrefix), whose key=value fields it parses. It fails the test when
// the command ends first. The command is stopped when the test ends.
func startRun(t *testing.T, readyPrefix string, args []string, env map[string]string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	r := &running{cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}, logs: &syncBuffer{}, ready: map[string]string{}}
	go func() {
		err := run(ctx, args, env, pw, r.logs)
		pw.Close()
		r.done <- err
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		r.out.Write([]byte(line + "\n"))
		if strings.HasPrefix(line, readyPrefix) {
			for _, f := range strings.Fields(strings.TrimPrefix(line, readyPrefix)) {
				k, v, _ := strings.Cut(f, "=")
				r.ready[k] = v
			}
			break
		}
	}
	go func() { // keep reading what follows
		for sc.Scan() {
			r.out.Write([]byte(sc.Text() + "\n"))
		}
	}()
	if len(r.ready) == 0 {
		err := <-r.done
		cancel()
		t.Fatalf("%v ended before it was ready: %v\nstdout:\n%s\nlogs:\n%s", args, err, r.out, r.logs)
	}
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the command (as SIGTERM would) and returns what run
// returned.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}

// TestDevMode starts `starter -dev` in process, gets a token from it with
// the token subcommand, and uses it: the dev server accepts it, shows the
// chosen user, and asks for a step-up for a scope not granted.
func TestDevMode(t *testing.T) {
	env := map[string]string{"PORT": "0", "CRM_DB_PATH": filepath.Join(t.TempDir(), "crm.sqlite")}
	r := startRun(t, "starter: ready", []string{"-dev"}, env)
	mcpURL, listen, issuer := r.ready["mcp"], r.ready["listen"], r.ready["issuer"]

	host, _, err := net.SplitHostPort(listen)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host, "dev mode listens on loopback only")
	u, err := url.Parse(mcpURL)
	require.NoError(t, err)
	require.Equal(t, "localhost", u.Hostname())
	require.Equal(t, "/mcp", u.Path)
	require.True(t, strings.HasPrefix(issuer, "http://127.0.0.1:"), issuer)
	banner := r.out.String()
	require.Contains(t, banner, "DEV MODE — not for production")
	require.Contains(t, banner, mcpURL)
	require.Contains(t, banner, "claude mcp add --transport http starter "+mcpURL)
	require.Contains(t, banner, "PII_SALT is not set")
	require.Contains(t, banner, "token -issuer "+issuer+" -resource "+mcpURL+" -user alice", "the banner's token command works whatever the port")

	// The protected-resource metadata points at the dev issuer, which
	// serves what an MCP client needs to sign in.
	prm := doHTTP(t, "GET", strings.Replace(mcpURL, "/mcp", "/.well-known/oauth-protected-resource/mcp", 1), "")
	require.Equal(t, 200, prm.status)
	require.Equal(t, []any{issuer}, prm.body["authorization_servers"])
	as := doHTTP(t, "GET", issuer+"/.well-known/oauth-authorization-server", "")
	require.Equal(t, 200, as.status)
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "registration_endpoint"} {
		require.NotEmpty(t, as.body[k], k)
	}
	require.Equal(t, []any{"S256"}, as.body["code_challenge_methods_supported"])

	tests := []struct {
		name    string
		user    string
		scopes  string
		wantErr string
		proof   string
	}{
		{name: "alice", user: "alice", scopes: "starter.whoami starter.echo", proof: "✅ Verified OAuth JWT for alice@example.com (expires in ~60 min)"},
		{name: "bob", user: "bob", scopes: "starter.whoami", proof: "✅ Verified OAuth JWT for bob@example.com (expires in ~60 min)"},
		{name: "unknown user", user: "mallory", scopes: "starter.whoami", wantErr: `token: sign in as "mallory"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), []string{"token", "-user", tt.user, "-scopes", tt.scopes, "-issuer", issuer, "-resource", mcpURL}, env, &out, &errOut)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Empty(t, out.String())
				return
			}
			require.NoError(t, err)
			tok := strings.TrimSpace(out.String())
			require.Equal(t, 2, strings.Count(tok, "."), "a JWT alone on stdout")

			client := mcp.NewClient(&mcp.Implementation{Name: "dev-test", Version: "1"}, nil)
			cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
				Endpoint:   mcpURL,
				HTTPClient: &http.Client{Transport: bearer{token: tok, base: http.DefaultTransport}},
				MaxRetries: -1,
			}, nil)
			require.NoError(t, err)
			defer cs.Close()
			res := callTool(t, cs, "whoami", map[string]any{})
			require.Equal(t, tt.proof, textOf(t, res))
			require.Equal(t, tt.user, structuredOf(t, res)["user"].(map[string]any)["sub"])

			_, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "crmInit", Arguments: map[string]any{}})
			var werr *jsonrpc.Error
			require.ErrorAs(t, err, &werr, "a scope not granted: 403 step-up")

			rest := doHTTP(t, "POST", strings.Replace(mcpURL, "/mcp", "/tools/whoami", 1), "", auth(tok)...)
			require.Equal(t, 200, rest.status, rest.raw)
			require.NotContains(t, r.logs.String(), tok, "no token is logged")
		})
	}
	// A PUBLIC_URL elsewhere in the environment (a .env set up for a
	// provider) is ignored by the token command as by -dev: the token is
	// for this machine's server.
	var out, errOut bytes.Buffer
	tokenEnv := map[string]string{"PORT": u.Port(), "PUBLIC_URL": "https://mcp.example.com/mcp"}
	require.NoError(t, run(t.Context(), []string{"token", "-user", "bob", "-scopes", "starter.whoami", "-issuer", issuer}, tokenEnv, &out, &errOut), errOut.String())
	rest := doHTTP(t, "POST", strings.Replace(mcpURL, "/mcp", "/tools/whoami", 1), "", auth(strings.TrimSpace(out.String()))...)
	require.Equal(t, 200, rest.status, rest.raw)

	require.NoError(t, r.stop(), "a clean shutdown")
	require.Contains(t, r.logs.String(), "stopped")
}

// TestDevModeRefusesPublicAddresses checks that -dev never listens beyond
// this machine.
func TestDevModeRefusesPublicAddresses(t *testing.T) {
	for _, host := range []string{"0.0.0.0", "::", "192.0.2.1"} {
		t.Run(host, func(t *testing.T) {
			env := map[string]string{"PORT": "0", "HOST": host, "CRM_DB_PATH": filepath.Join(t.TempDir(), "crm.sqlite")}
			var out, logs bytes.Buffer
			err := run(t.Context(), []string{"-dev"}, env, &out, &logs)
			require.ErrorContains(t, err, "-dev only listens on a loopback address")
			require.NotContains(t, out.String(), "ready")
		})
	}
}

// TestTokenWithoutDevServer checks the token command's message when no dev
// server runs.
func TestTokenWithoutDevServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var out, errOut bytes.Buffer
	err = run(t.Context(), []string{"token", "-issuer", "http://" + addr}, nil, &out, &errOut)
	require.ErrorContains(t, err, "no development server answers at http://"+addr+": start one with `go run ./examples/starter -dev`")
}

// TestGracefulShutdown stops the server (as SIGTERM does) while a tool call
// is in flight: the listener closes at once, the call still completes, and
// run returns cleanly.
func TestGracefulShutdown(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var arrivedOnce sync.Once
	slow := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrivedOnce.Do(func() { close(arrived) })
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"message":"late","summary":"Echo: late"}`)
	}))
	env := map[string]string{
		"PORT": "0", "CRM_DB_PATH": filepath.Join(t.TempDir(), "crm.sqlite"),
		"DEMO_API_URL": slow + "/demo/",
	}
	r := startRun(t, "starter: ready", []string{"-dev"}, env)
	tok, err := devToken(t.Context(), http.DefaultClient, r.ready["issuer"], r.ready["mcp"], "alice", []string{"starter.echo"})
	require.NoError(t, err)

	// An MCP session with its event stream open must not hold the shutdown.
	client := mcp.NewClient(&mcp.Implementation{Name: "shutdown-test", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint:   r.ready["mcp"],
		HTTPClient: &http.Client{Transport: bearer{token: tok, base: http.DefaultTransport}},
		MaxRetries: -1,
	}, nil)
	require.NoError(t, err)
	defer cs.Close()

	result := make(chan response, 1)
	go func() {
		result <- doHTTP(t, "POST", "http://"+r.ready["listen"]+"/tools/echo", `{"message":"late"}`, auth(tok)...)
	}()
	<-arrived // the call is at the backend
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()

	// Wait until the server stops accepting connections.
	for {
		c, err := net.Dial("tcp", r.ready["listen"])
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	close(release)

	res := <-result
	require.Equal(t, 200, res.status, res.raw)
	require.Equal(t, "Echo: late", res.body["data"].(map[string]any)["summary"])
	require.NoError(t, <-stopped, "the shutdown finished within its deadline")
	require.Contains(t, r.logs.String(), "shutting down: finishing requests in flight")
}

// TestDemoAPISubcommand runs the demo backend as a process of its own (in
// process here) and a gateway that reaches it at DEMO_API_URL: the tokens
// the gateway signs verify against the gateway's published JWKS.
func TestDemoAPISubcommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // the demo-api listens there
	demoURL := "http://" + ln.Addr().String() + "/demo/"

	e := newTestEnv(t, map[string]string{"DEMO_API_URL": demoURL})
	r := startRun(t, "demo-api: ready", []string{"demo-api"}, map[string]string{
		"PORT": itoa(port), "HOST": "127.0.0.1", "PUBLIC_URL": e.mcpURL, "DEMO_API_URL": demoURL,
		"PII_SALT": testSalt, "CRM_DB_PATH": filepath.Join(t.TempDir(), "crm.sqlite"),
	})
	require.Equal(t, demoURL, r.ready["audience"])

	cs := e.connect(e.mint("alice", allScopes...))
	res := callTool(t, cs, "whoami", map[string]any{})
	require.False(t, res.IsError, textOf(t, res))
	require.Equal(t, "alice", structuredOf(t, res)["user"].(map[string]any)["sub"])
	res = callTool(t, cs, "crmInit", map[string]any{})
	require.Contains(t, textOf(t, res), "Created "+itoa(dealsOf("alice"))+" dummy deals")
	require.Equal(t, 404, e.do("GET", "/demo/health", "").status, "no in-process backend")

	// The backend refuses anything but the gateway's tokens.
	direct := doHTTP(t, "POST", demoURL+"whoami", "{}", auth(e.mint("alice", allScopes...))...)
	require.Equal(t, 401, direct.status)
	require.NoError(t, r.stop())
}

// TestDemoAPIConfigErrors checks the demo-api subcommand's configuration.
func TestDemoAPIConfigErrors(t *testing.T) {
	base := map[string]string{"PUBLIC_URL": "https://mcp.example.com/mcp", "DEMO_API_URL": "http://demo:4000/demo/", "PII_SALT": testSalt}
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no gateway", map[string]string{"PUBLIC_URL": ""}, "PUBLIC_URL is required: the gateway's public MCP URL"},
		{"no own URL", map[string]string{"DEMO_API_URL": ""}, "DEMO_API_URL is required: this backend's URL as the gateway calls it"},
		{"no salt", map[string]string{"PII_SALT": ""}, "PII_SALT is required"},
		{"bad JWKS URL", map[string]string{"GATEWAY_JWKS_URL": "gateway/jwks"}, "GATEWAY_JWKS_URL must be an absolute http(s) URL"},
		{"bad port", map[string]string{"PORT": "x"}, "PORT must be a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := loadDemoAPIConfig(env)
			require.ErrorContains(t, err, tt.want)
			require.Contains(t, err.Error(), "e.g. ")
		})
	}
	c, err := loadDemoAPIConfig(base)
	require.NoError(t, err)
	require.Equal(t, "https://mcp.example.com/.well-known/gateway-jwks.json", c.JWKSURL)
}

// newHTTPServer starts h on a loopback port for the test and returns its
// URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDevModeOAuthClient has go-sdk's own OAuth client sign in to -dev
// mode the whole way, a person "clicking" the sign-in page: 401 →
// protected-resource metadata → dynamic registration → authorization with
// PKCE → token → whoami shows the chosen user; then a tool whose scope was
// not granted → 403 step-up → a second sign-in → the call succeeds.
func TestDevModeOAuthClient(t *testing.T) {
	env := map[string]string{"PORT": "0", "CRM_DB_PATH": filepath.Join(t.TempDir(), "crm.sqlite")}
	r := startRun(t, "starter: ready", []string{"-dev"}, env)

	var signIns []string // the scopes asked for at each sign-in
	handler, err := sdkauth.NewAuthorizationCodeHandler(&sdkauth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &sdkauth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				RedirectURIs: []string{"http://127.0.0.1:49152/callback"},
				ClientName:   "go-sdk test client",
			},
		},
		AuthorizationCodeFetcher: func(ctx context.Context, args *sdkauth.AuthorizationArgs) (*sdkauth.AuthorizationResult, error) {
			u, err := url.Parse(args.URL)
			if err != nil {
				return nil, err
			}
			asked := u.Query().Get("scope")
			signIns = append(signIns, asked)
			grant := []string{"starter.whoami"} // the first time, bob grants whoami only
			if len(signIns) > 1 {
				grant = strings.Fields(asked) // then whatever is asked
			}
			loc, err := identitytest.SignIn(ctx, nil, args.URL, "bob", grant...)
			if err != nil {
				return nil, err
			}
			q := loc.Query()
			return &sdkauth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
	})
	require.NoError(t, err)
	client := mcp.NewClient(&mcp.Implementation{Name: "go-sdk-client", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: r.ready["mcp"], OAuthHandler: handler, MaxRetries: -1}, nil)
	require.NoError(t, err)
	defer cs.Close()

	res := callTool(t, cs, "whoami", map[string]any{})
	require.Equal(t, "✅ Verified OAuth JWT for bob@example.com (expires in ~60 min)", textOf(t, res))
	require.Len(t, signIns, 1)

	res = callTool(t, cs, "crmInit", map[string]any{})
	require.False(t, res.IsError, textOf(t, res))
	require.Contains(t, textOf(t, res), "Welcome user-")
	require.Len(t, signIns, 2, "one step-up sign-in")
	require.Contains(t, strings.Fields(signIns[1]), "starter.crm")
	require.Contains(t, strings.Fields(signIns[1]), "starter.whoami", "the challenge kept the granted scope")

	res = callTool(t, cs, "whoami", map[string]any{})
	require.False(t, res.IsError, "whoami still works after the step-up")
	require.Len(t, signIns, 2)
}

// Every phase of a request that the client controls has a time limit: a
// client that trickles its headers or its body (the REST routes and
// /demo/ read bodies too) must not hold a connection for as long as it
// likes.
func TestHTTPServerTimeouts(t *testing.T) {
	srv := publicHTTPServer(http.NotFoundHandler(), discardLogger())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		require.Positive(t, d, name)
	}
	require.Zero(t, srv.WriteTimeout, "a write deadline would cut MCP event streams off")
}

// TestVerifierErrorReturned: when the verifier cannot be built (here the
// discovery document cannot be fetched), newApp returns the error that
// names the variable, and releases what it opened, without panicking.
func TestVerifierErrorReturned(t *testing.T) {
	env := merge(validEnv(), map[string]string{
		"PUBLIC_URL":     "http://127.0.0.1:1/mcp",
		"OAUTH_ISSUER":   "http://127.0.0.1:1",
		"JWKS_URI":       "",
		"OIDC_DISCOVERY": "http://127.0.0.1:1/.well-known/openid-configuration",
		"CRM_DB_PATH":    filepath.Join(t.TempDir(), "crm.sqlite"),
	})
	cfg, _, err := loadConfig(env, false)
	require.NoError(t, err)
	require.NotPanics(t, func() { _, err = newApp(t.Context(), cfg, discardLogger()) })
	require.ErrorContains(t, err, "OIDC_DISCOVERY")
}

// TestShutdownEndsSessions: once run has returned after SIGTERM (its
// context ended), no MCP session it served runs on: sessions a client
// left without DELETE would otherwise keep their goroutines and an idle
// timer holding the whole app for an hour.
func TestShutdownEndsSessions(t *testing.T) {
	env := map[string]string{"PORT": "0", "CRM_DB_PATH": filepath.Join(t.TempDir(), "crm.sqlite")}
	r := startRun(t, "starter: ready", []string{"-dev"}, env)
	tok, err := devToken(t.Context(), http.DefaultClient, r.ready["issuer"], r.ready["mcp"], "alice", []string{"starter.echo"})
	require.NoError(t, err)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	for range 3 {
		client := mcp.NewClient(&mcp.Implementation{Name: "shutdown-test", Version: "1"}, nil)
		cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
			Endpoint:             r.ready["mcp"],
			HTTPClient:           &http.Client{Transport: bearer{token: tok, base: tr}},
			MaxRetries:           -1,
			DisableStandaloneSSE: true,
		}, nil)
		require.NoError(t, err)
		_, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}})
		require.NoError(t, err)
		defer cs.Close() // after the server is gone: the client goes away without DELETE
	}
	require.Equal(t, 3, sessionGoroutines(), "each session runs a pump")
	require.NoError(t, r.stop())
	require.Eventually(t, func() bool { return sessionGoroutines() == 0 }, 5*time.Second, 20*time.Millisecond,
		"%d session goroutines after run returned", sessionGoroutines())
}

// sessionGoroutines counts the goroutines that serve an MCP session of the
// direct transport (one pump each).
func sessionGoroutines() int {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	return bytes.Count(b.Bytes(), []byte("mcpserver.(*directConn).pump"))
}
