package mcpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, stateless, func(c *mcpserver.Config) { c.MaxBodyBytes = 1024 })
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{"pad":"` + strings.Repeat("x", 2048) + `"}}}`
	t.Run("Content-Length too large: 413 before authentication", func(t *testing.T) {
		r := e.do(http.MethodPost, "/mcp", big)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
	})
	t.Run("chunked body too large: 413 while reading", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", io.MultiReader(strings.NewReader(big)))
		require.NoError(t, err)
		req.ContentLength = -1 // chunked
		req.Header.Set("Authorization", "Bearer "+e.alice)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := e.http.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	})
	t.Run("within the limit", func(t *testing.T) {
		r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(e.alice)...)
		require.Equal(t, http.StatusOK, r.Status)
	})
}

// A client that sends its headers and then trickles (or stalls) its body
// holds a connection and a goroutine: Config.BodyReadTimeout bounds how
// long, with or without a token (the server reads an unread body after a
// 401 too), and does not cut streams off once the body is in.
func TestBodyReadTimeout(t *testing.T) {
	e := newEnv(t, stateless, func(c *mcpserver.Config) { c.BodyReadTimeout = 200 * time.Millisecond })
	tests := []struct {
		name       string
		auth       string
		wantStatus string
	}{
		{"with a token: 400 once the body is late", "Authorization: Bearer " + e.alice + "\r\n", "HTTP/1.1 400 "},
		{"without a token: 401, then the connection closes", "", "HTTP/1.1 401 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", e.http.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			// A safety net for a server that never gives up: not what the
			// test measures.
			require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
			_, err = io.WriteString(conn, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"+tc.auth+
				"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"+
				"Content-Length: 1000\r\n\r\n{\"jsonrpc\":")
			require.NoError(t, err)
			resp, err := io.ReadAll(conn) // the server answers and closes; the client never sends the rest
			require.NoError(t, err, "the server kept the connection open")
			require.True(t, strings.HasPrefix(string(resp), tc.wantStatus), "%.200s", resp)
		})
	}
	t.Run("a call outlives the deadline once the body is read", func(t *testing.T) {
		e := newEnv(t, stateless, func(c *mcpserver.Config) { c.BodyReadTimeout = 50 * time.Millisecond })
		mcpserver.AddTool(e.srv, &mcp.Tool{Name: "slow", Description: "answers after the body deadline"}, scopes.Public(),
			func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
				select {
				case <-time.After(300 * time.Millisecond):
					return nil, summaryOut{Total: 7}, nil
				case <-ctx.Done(): // what a read deadline left in place would do
					return nil, summaryOut{}, ctx.Err()
				}
			})
		r := e.do(http.MethodPost, "/mcp", callBody(1, "slow"), with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})...)
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		require.Contains(t, r.Body, `{\"total\":7}`)
	})
}

func TestDebugToken(t *testing.T) {
	e := newEnv(t, func(c *mcpserver.Config) { c.DebugToken = true })
	tok := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read"), identitytest.ClientID("app-1"))
	tests := []struct {
		name       string
		method     string
		headers    []string
		wantStatus int
	}{
		{"own claims", http.MethodGet, bearer(tok), http.StatusOK},
		{"authentication required", http.MethodGet, nil, http.StatusUnauthorized},
		{"bad token", http.MethodGet, bearer(tok + "x"), http.StatusUnauthorized},
		{"GET only", http.MethodPost, bearer(tok), http.StatusMethodNotAllowed},
		{"disallowed origin", http.MethodGet, with(bearer(tok), []string{"Origin", "https://evil.example"}), http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, "/debug-token", "", tc.headers...)
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
			require.NotContains(t, r.Body, tok)
			if tc.wantStatus != http.StatusOK {
				return
			}
			require.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.Body), &got))
			require.Equal(t, "alice", got["sub"])
			require.Equal(t, e.iss.URL(), got["iss"])
			require.Equal(t, []any{"crm:read"}, got["scopes"])
			require.Equal(t, []any{publicURL}, got["aud"])
			require.Contains(t, got, "exp")
			require.Contains(t, got, "claims")
		})
	}
}

// SPEC 5: the authorization server's metadata, mirrored verbatim on
// request.
func TestMirrorAuthorizationServerMetadata(t *testing.T) {
	tests := []struct {
		name       string
		opts       []identitytest.IssuerOption
		wantStatus int
	}{
		{"RFC 8414 document", nil, http.StatusOK},
		{"issuer with a path", []identitytest.IssuerOption{identitytest.WithIssuerPath("/tenant")}, http.StatusOK},
		{"OpenID Connect discovery as a fallback", []identitytest.IssuerOption{identitytest.WithoutAuthorizationServerMetadata()}, http.StatusOK},
		{"nothing published", []identitytest.IssuerOption{identitytest.WithoutAuthorizationServerMetadata(), identitytest.WithoutOpenIDConfiguration()}, http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss := identitytest.NewIssuer(t, tc.opts...)
			srv, err := mcpserver.New(mcpserver.Config{
				Name: "crm", PublicURL: publicURL, AuthorizationServers: []string{iss.URL()}, Verifier: newVerifier(t, iss),
				MirrorAuthorizationServerMetadata: true,
			})
			require.NoError(t, err)
			e := serve(t, srv.Handler())
			r := e.do(http.MethodGet, "/.well-known/oauth-authorization-server", "")
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
			if tc.wantStatus != http.StatusOK {
				return
			}
			direct := iss.AuthorizationServerMetadataURL()
			if tc.name == "OpenID Connect discovery as a fallback" {
				direct = iss.OpenIDConfigurationURL()
			}
			resp, err := iss.Client().Get(direct)
			require.NoError(t, err)
			want, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, string(want), r.Body, "served verbatim")
			require.Contains(t, r.Body, `"issuer":"`+iss.URL()+`"`)
			require.Equal(t, "*", r.Header.Get("Access-Control-Allow-Origin"))
		})
	}
}

func TestMirrorRefusesForeignIssuerAndCaches(t *testing.T) {
	var fetches atomic.Int32
	issuer := ""
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/oauth-authorization-server/good" {
			io.WriteString(w, `{"issuer":"`+issuer+`/good","token_endpoint":"x"}`)
			return
		}
		io.WriteString(w, `{"issuer":"https://evil.example"}`)
	}))
	t.Cleanup(as.Close)
	issuer = as.URL
	for _, tc := range []struct {
		path        string
		wantStatus  int
		wantFetches int32 // the RFC 8414 URL, then, past a foreign issuer, the OpenID Connect one
	}{{"/good", http.StatusOK, 1}, {"/bad", http.StatusBadGateway, 2}} {
		t.Run(tc.path, func(t *testing.T) {
			fetches.Store(0)
			srv, err := mcpserver.New(mcpserver.Config{
				Name: "crm", PublicURL: publicURL, AuthorizationServers: []string{as.URL + tc.path},
				Verifier:                          identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) { return nil, identity.ErrMalformedToken }),
				MirrorAuthorizationServerMetadata: true,
			})
			require.NoError(t, err)
			e := serve(t, srv.Handler())
			for range 3 {
				r := e.do(http.MethodGet, "/.well-known/oauth-authorization-server", "")
				require.Equal(t, tc.wantStatus, r.Status, r.Body)
			}
			// A document is cached; so is a failure, for a while, so that
			// requests do not queue up for fetches of their own.
			require.Equal(t, tc.wantFetches, fetches.Load())
		})
	}
}

func TestConfigValidation(t *testing.T) {
	v := identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) { return nil, identity.ErrMalformedToken })
	good := func() mcpserver.Config {
		return mcpserver.Config{Name: "n", PublicURL: "https://api.example.com/mcp", AuthorizationServers: []string{"https://as.example.com"}, Verifier: v}
	}
	tests := []struct {
		name    string
		mutate  func(*mcpserver.Config)
		wantErr string // "" means valid
	}{
		{"valid", func(*mcpserver.Config) {}, ""},
		{"loopback http is fine", func(c *mcpserver.Config) { c.PublicURL = "http://127.0.0.1:8080/mcp" }, ""},
		{"no name", func(c *mcpserver.Config) { c.Name = "" }, "Config.Name"},
		{"no public URL", func(c *mcpserver.Config) { c.PublicURL = "" }, "Config.PublicURL"},
		{"relative public URL", func(c *mcpserver.Config) { c.PublicURL = "/mcp" }, "Config.PublicURL"},
		{"plain http", func(c *mcpserver.Config) { c.PublicURL = "http://api.example.com/mcp" }, "Config.PublicURL"},
		{"query", func(c *mcpserver.Config) { c.PublicURL = "https://api.example.com/mcp?x=1" }, "Config.PublicURL"},
		{"reserved path", func(c *mcpserver.Config) { c.PublicURL = "https://api.example.com/healthz" }, "Config.PublicURL"},
		{"odd path", func(c *mcpserver.Config) { c.PublicURL = "https://api.example.com/{x}" }, "Config.PublicURL"},
		{"no verifier", func(c *mcpserver.Config) { c.Verifier = nil }, "Config.Verifier"},
		{"no authorization server", func(c *mcpserver.Config) { c.AuthorizationServers = nil }, "Config.AuthorizationServers"},
		{"bad authorization server", func(c *mcpserver.Config) { c.AuthorizationServers = []string{"as.example.com"} }, "Config.AuthorizationServers[0]"},
		{"wildcard origin", func(c *mcpserver.Config) { c.AllowedOrigins = []string{"*"} }, "Config.AllowedOrigins[0]"},
		{"origin with a path", func(c *mcpserver.Config) { c.AllowedOrigins = []string{"https://a.example/x"} }, "Config.AllowedOrigins[0]"},
		{"negative body limit", func(c *mcpserver.Config) { c.MaxBodyBytes = -1 }, "Config.MaxBodyBytes"},
		{"negative rate", func(c *mcpserver.Config) { c.RateLimit.User.Rate = -1 }, "Config.RateLimit.User"},
		// A burst spanning more than a Duration overflowed the algorithm,
		// and every request was refused.
		{"IPv4-mapped trusted proxy", func(c *mcpserver.Config) {
			c.RateLimit.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::ffff:10.0.0.0/104")}
		}, "Config.RateLimit.TrustedProxies[1] ::ffff:10.0.0.0/104 is IPv4-mapped IPv6"},
		{"burst without bound", func(c *mcpserver.Config) {
			c.RateLimit.User = mcpserver.Limit{Rate: 10, Period: time.Minute, Burst: math.MaxInt}
		}, "Config.RateLimit.User: burst"},
		{"burst over 100 years", func(c *mcpserver.Config) {
			c.RateLimit.IP = mcpserver.Limit{Rate: 1, Period: time.Hour, Burst: 1 << 42}
		}, "Config.RateLimit.IP: burst"},
		{"period without bound", func(c *mcpserver.Config) {
			c.RateLimit.IP = mcpserver.Limit{Rate: 1, Period: math.MaxInt64, Burst: 2}
		}, "Config.RateLimit.IP: burst"},
		{"burst of 100 years", func(c *mcpserver.Config) {
			c.RateLimit.User = mcpserver.Limit{Rate: 1, Period: 24 * time.Hour, Burst: 36_500}
		}, ""},
		{"auth disabled needs no verifier", func(c *mcpserver.Config) {
			c.InsecureDisableAuth, c.Verifier, c.AuthorizationServers = true, nil, nil
		}, ""},
		{"debug-token needs auth", func(c *mcpserver.Config) { c.InsecureDisableAuth, c.DebugToken = true, true }, "Config.DebugToken"},
		{"auth disabled with a verifier", func(c *mcpserver.Config) { c.InsecureDisableAuth = true }, "Config.Verifier is set but InsecureDisableAuth"},
		// Constructors' results whose errors were ignored: they used to
		// pass, and New or every request panicked.
		{"typed nil verifier", func(c *mcpserver.Config) { c.Verifier = (*identity.JWTVerifier)(nil) }, "Config.Verifier is a nil *identity.JWTVerifier"},
		{"typed nil store", func(c *mcpserver.Config) { c.RateLimit.Store = (*mcpserver.MemoryStore)(nil) }, "Config.RateLimit.Store is a nil *mcpserver.MemoryStore"},
		{"typed nil HTTP client is the default", func(c *mcpserver.Config) {
			c.HTTPClient, c.MirrorAuthorizationServerMetadata = (*http.Client)(nil), true
		}, ""},
		{"event store with sessions", func(c *mcpserver.Config) { c.EventStore = mcp.NewMemoryEventStore(nil) }, ""},
		{"event store needs sessions", func(c *mcpserver.Config) {
			c.EventStore, c.Stateless = mcp.NewMemoryEventStore(nil), true
		}, "Config.EventStore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mutate(&c)
			srv, err := mcpserver.New(c)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, srv)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.Nil(t, srv)
		})
	}
}

func TestAddToolNeedsRequirement(t *testing.T) {
	srv, err := mcpserver.New(mcpserver.Config{Name: "n", PublicURL: "https://api.example.com/mcp", InsecureDisableAuth: true})
	require.NoError(t, err)
	require.PanicsWithValue(t, `mcpserver: AddTool "t": nil requirement: say what the tool needs (scopes.Public() for no scope)`, func() {
		mcpserver.AddTool(srv, newTool("t"), nil, noop)
	})
	require.Panics(t, func() { mcpserver.AddTool(srv, newTool("t"), scopes.All("bad scope"), noop) })
	// An empty scope (scopes.All(os.Getenv("ADMIN_SCOPE")) with the
	// variable unset) is refused, not taken for Public().
	require.PanicsWithValue(t, `mcpserver: AddTool "t": invalid scope "" (RFC 6749: printable ASCII, no spaces, quotes or backslashes)`, func() {
		mcpserver.AddTool(srv, newTool("t"), scopes.All(""), noop)
	})
	require.Panics(t, func() { mcpserver.AddTool(srv, newTool("t"), scopes.Any("notes", ""), noop) })
	require.Empty(t, srv.ProtectedResourceMetadata().ScopesSupported, "a refused tool leaves no trace")
}

// Tools added to the go-sdk server directly, without a declared
// requirement, are neither listed nor callable.
func TestUndeclaredToolsRefused(t *testing.T) {
	e := newEnv(t)
	mcp.AddTool(e.srv.MCPServer(), newTool("sneaky"), noop)
	cs, _ := e.connect(e.alice)
	list, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	require.NotContains(t, toolNames(list), "sneaky")
	_, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "sneaky", Arguments: map[string]any{}})
	require.ErrorContains(t, err, `unknown tool "sneaky"`)
}

func TestRemoveTools(t *testing.T) {
	e := newEnv(t, stateless)
	e.srv.RemoveTools("salesWrite")
	cs, _ := e.connect(e.alice)
	list, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	require.NotContains(t, toolNames(list), "salesWrite")
	require.NotContains(t, e.srv.ProtectedResourceMetadata().ScopesSupported, "crm:write")
}

// InsecureDisableAuth (conformance suite only): anonymous callers see and
// call public tools only.
func TestInsecureDisableAuth(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		cfg := mcpserver.Config{Name: "conf", PublicURL: publicURL, InsecureDisableAuth: true}
		for _, o := range opts {
			o(&cfg)
		}
		srv, err := mcpserver.New(cfg)
		require.NoError(t, err)
		addTestTools(srv)
		e := serve(t, srv.Handler())
		cs, _ := e.connect("")
		list, err := cs.ListTools(context.Background(), nil)
		require.NoError(t, err)
		require.Equal(t, []string{"fail", "whoami"}, toolNames(list))
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
		require.NoError(t, err)
		require.Contains(t, res.Content[0].(*mcp.TextContent).Text, "anonymous")
		_, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "salesRead", Arguments: map[string]any{}})
		require.ErrorContains(t, err, "insufficient scope")
	})
}

// An authorization server whose origin answers 200 at the RFC 8414 URL
// with something that is not its metadata (a web app's catch-all page,
// another issuer's document) is still mirrored from its OpenID Connect
// discovery document, as one that answers 404 there is.
func TestMirrorSkipsWhatIsNotTheIssuersMetadata(t *testing.T) {
	for _, tc := range []struct{ name, rfc8414 string }{
		{"HTML page", "<!doctype html><title>app</title>"},
		{"another issuer", `{"issuer":"https://other.example"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer := ""
			as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/.well-known/oauth-authorization-server/tenant":
					io.WriteString(w, tc.rfc8414)
				case "/tenant/.well-known/openid-configuration":
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"issuer":"`+issuer+`","token_endpoint":"x"}`)
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(as.Close)
			issuer = as.URL + "/tenant"
			srv, err := mcpserver.New(mcpserver.Config{
				Name: "crm", PublicURL: publicURL, AuthorizationServers: []string{issuer},
				Verifier:                          identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) { return nil, identity.ErrMalformedToken }),
				MirrorAuthorizationServerMetadata: true,
			})
			require.NoError(t, err)
			e := serve(t, srv.Handler())
			r := e.do(http.MethodGet, "/.well-known/oauth-authorization-server", "")
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Equal(t, `{"issuer":"`+issuer+`","token_endpoint":"x"}`, r.Body)
		})
	}
}

// The mirror's issuer check reads the member named "issuer" exactly, as a
// client of the mirrored document does: a document whose "issuer" is
// another's, or that has none, is passed over although a member that
// differs only in case ("Issuer", "ISSUER") names the configured issuer
// (encoding/json matches struct fields without case, and the last of
// such members won).
func TestMirrorIssuerMemberMatchedExactly(t *testing.T) {
	for _, tc := range []struct{ name, rfc8414 string }{
		{"issuer then Issuer", `{"issuer":"https://evil.example","Issuer":"%s","token_endpoint":"y"}`},
		{"ISSUER alone", `{"ISSUER":"%s","token_endpoint":"y"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer := ""
			as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.Path {
				case "/.well-known/oauth-authorization-server/tenant":
					io.WriteString(w, strings.ReplaceAll(tc.rfc8414, "%s", issuer))
				case "/tenant/.well-known/openid-configuration":
					io.WriteString(w, `{"issuer":"`+issuer+`","token_endpoint":"x"}`)
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(as.Close)
			issuer = as.URL + "/tenant"
			srv, err := mcpserver.New(mcpserver.Config{
				Name: "crm", PublicURL: publicURL, AuthorizationServers: []string{issuer},
				Verifier:                          identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) { return nil, identity.ErrMalformedToken }),
				MirrorAuthorizationServerMetadata: true,
			})
			require.NoError(t, err)
			e := serve(t, srv.Handler())
			r := e.do(http.MethodGet, "/.well-known/oauth-authorization-server", "")
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Equal(t, `{"issuer":"`+issuer+`","token_endpoint":"x"}`, r.Body)
		})
	}
}
