package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/mcpserver"
)

// serverVersion is the MCP implementation version the starter announces.
const serverVersion = "1.0.0"

// instructions tell a model what the server is for.
const instructions = "Demo tools of an idgate MCP server. Every call is made as the signed-in user, " +
	"proven by their OAuth token: whoami shows who that is; notes and the demo CRM hold only that user's data."

// app is the starter's whole HTTP surface, built from a configuration.
type app struct {
	cfg      *config
	log      *slog.Logger
	store    store.Store
	verifier identity.Verifier
	mcp      *mcpserver.Server
	backend  *backend
	auditor  *audit.Auditor
	tools    map[string]*starterTool
	// limits counts requests per user and per address: in memory, or in
	// Redis (REDIS_URL).
	limits *rateLimits
	// streams ends the MCP event streams (GET) at shutdown.
	streams       context.Context
	endStreams    context.CancelFunc
	closeVerifier func()
	handler       http.Handler
}

// newApp builds the starter from cfg: it sets up the verifier of the users'
// tokens, the backend (in process, on the store openStore opens, unless
// DEMO_API_URL names another) and the MCP server with the ten tools.
// Close releases what it opened.
func newApp(ctx context.Context, cfg *config, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, tools: map[string]*starterTool{}, closeVerifier: func() {}}
	a.streams, a.endStreams = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			a.Close(context.Background())
		}
	}()
	if a.auditor, err = audit.New(audit.Config{
		Logger:     log,
		SubjectKey: cfg.AuditKey,
		SkipPaths:  []string{"/healthz"},
	}); err != nil {
		return nil, fmt.Errorf("USER_HASH_SALT: %w", err)
	}
	if a.limits, err = newRateLimitStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	if cfg.DemoAPIURL == "" { // the in-process backend keeps the data
		if a.store, err = openStore(ctx, cfg); err != nil {
			return nil, err
		}
	}
	// Through locals: on an error newUserVerifier returns no close
	// function, and the deferred cleanup must not call a nil one.
	verifier, closeVerifier, err := newUserVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.verifier, a.closeVerifier = verifier, closeVerifier
	if a.backend, err = newBackend(ctx, cfg, a.store, log); err != nil {
		return nil, err
	}
	a.mcp, err = mcpserver.New(mcpserver.Config{
		Name:                 cfg.ServiceName,
		Version:              serverVersion,
		PublicURL:            cfg.PublicURL,
		AuthorizationServers: []string{cfg.Issuer},
		Verifier:             a.verifier,
		// OAUTH_SCOPES: advertised in scopes_supported and 401 challenges.
		AdditionalScopes: cfg.ExtraScopes,
		// A client that re-authorizes with exactly the challenge's scopes
		// (the TypeScript SDK does) keeps the tools it could call.
		StepUpIncludeGrantedScopes: true,
		Audit:                      a.auditor,
		RateLimit:                  mcpserver.RateLimitConfig{User: userLimit(cfg), IP: ipLimit(cfg), Store: a.limits.RateLimitStore, FailOpen: cfg.RateLimitFailOpen, TrustedProxies: cfg.TrustedProxies},
		Stateless:                  cfg.Stateless,
		AllowedOrigins:             cfg.AppOrigins,
		DebugToken:                 true,
		Logger:                     log,
		ServerOptions:              &mcp.ServerOptions{Instructions: instructions},
	})
	if err != nil {
		return nil, err
	}
	for _, t := range starterTools(a.backend) {
		t.register(a.mcp)
		a.tools[t.name] = t
	}
	a.handler = withRequestIDs(a.routes())
	return a, nil
}

// routes returns the public routes:
//
//   - the MCP endpoint (PUBLIC_URL's path), the protected-resource metadata,
//     GET /healthz and GET /debug-token, served by mcpserver;
//   - GET / (service information) and the favicons (204);
//   - POST /tools/{name}, the REST form of the tools, behind the MCP
//     endpoint's per-address limit;
//   - GET /.well-known/gateway-jwks.json, the key of the backend tokens;
//   - /demo/, the in-process demo backend (unless DEMO_API_URL names
//     another).
//
// Anything else is 404: the starter never serves /authorize, /token or
// /register (in -dev the authorization server is a separate listener).
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", a.endStreamsAtShutdown(a.mcp.Handler()))
	mux.HandleFunc("GET /{$}", a.serveInfo)
	for _, f := range []string{"/favicon.ico", "/favicon.png", "/favicon.svg"} {
		mux.HandleFunc("GET "+f, serveNoContent)
	}
	mux.Handle("/tools/{name}", a.auditor.Middleware(a.restHandler()))
	mux.HandleFunc("/tools/{$}", a.serveNoTool)
	mux.Handle("GET "+gatewayJWKSPath, a.backend.signer.JWKSHandler())
	if a.backend.local != nil {
		mux.Handle("/demo/", http.StripPrefix("/demo", a.backend.local.handler))
	}
	return mux
}

// Handler returns the starter's HTTP handler.
func (a *app) Handler() http.Handler { return a.handler }

// BeginShutdown ends the long-lived MCP event streams (GET on the MCP
// endpoint), which would otherwise hold http.Server.Shutdown until its
// deadline; requests in flight are not touched.
func (a *app) BeginShutdown() { a.endStreams() }

// endStreamsAtShutdown gives each GET on the MCP endpoint a context that
// BeginShutdown cancels.
func (a *app) endStreamsAtShutdown(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(a.streams, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Close releases what newApp opened: the MCP sessions (each once its calls
// have returned, within ctx), the in-process backend (letting its calls in
// flight finish within ctx), the verifier, the store and the Redis client.
// Call it after the HTTP server's Shutdown, so that every request it
// acknowledged has been written.
func (a *app) Close(ctx context.Context) error {
	a.endStreams()
	var errs []error
	if a.mcp != nil {
		errs = append(errs, a.mcp.Shutdown(ctx))
	}
	if a.backend != nil {
		errs = append(errs, a.backend.close(ctx))
	}
	if a.closeVerifier != nil {
		a.closeVerifier()
	}
	if a.store != nil {
		errs = append(errs, a.store.Close())
	}
	errs = append(errs, a.limits.close())
	return errors.Join(errs...)
}
