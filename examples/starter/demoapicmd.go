package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/identity"
)

// demoAPIConfig is the configuration of the demo-api subcommand, read from
// the same variables as the gateway's, so that one .env serves both.
type demoAPIConfig struct {
	// Host and Port are where to listen (HOST, PORT).
	Host string
	Port int
	// GatewayIssuer is the "iss" of the gateway's tokens: the gateway's
	// PUBLIC_URL.
	GatewayIssuer string
	// JWKSURL is the gateway's JWKS (GATEWAY_JWKS_URL). Default: the
	// gateway's origin + /.well-known/gateway-jwks.json.
	JWKSURL string
	// Audience is this backend's own URL, the "aud" of the gateway's
	// tokens: DEMO_API_URL, as the gateway has it.
	Audience string
	// PIISalt, CRMDBPath, Debug, Revision, GitSHA: as for the gateway.
	PIISalt          []byte
	CRMDBPath        string
	Debug            bool
	Revision, GitSHA string
}

// loadDemoAPIConfig reads the demo-api configuration from env.
func loadDemoAPIConfig(env map[string]string) (*demoAPIConfig, error) {
	get := func(k string) string { return strings.TrimSpace(env[k]) }
	c := &demoAPIConfig{
		Host:          get("HOST"),
		Port:          defaultPort,
		GatewayIssuer: get("PUBLIC_URL"),
		JWKSURL:       get("GATEWAY_JWKS_URL"),
		CRMDBPath:     cmp.Or(get("CRM_DB_PATH"), defaultCRMDBPath),
		Revision:      get("K_REVISION"),
		GitSHA:        get("GIT_SHA"),
	}
	if p := get("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, errf("PORT", "must be a port number from 0 to 65535 (e.g. PORT=4000)")
		}
		c.Port = n
	}
	var err error
	if c.Debug, err = parseBool(get("DEBUG"), "DEBUG"); err != nil {
		return nil, err
	}
	if c.GatewayIssuer == "" {
		return nil, errf("PUBLIC_URL", "is required: the gateway's public MCP URL, the issuer of the tokens it signs for this backend (e.g. PUBLIC_URL=https://mcp.example.com/mcp)")
	}
	if c.JWKSURL == "" {
		c.JWKSURL = publicOrigin(c.GatewayIssuer) + gatewayJWKSPath
	}
	if err := checkBackendURL(c.JWKSURL); err != nil {
		return nil, errf("GATEWAY_JWKS_URL", "%v (e.g. GATEWAY_JWKS_URL=http://gateway:3000%s)", err, gatewayJWKSPath)
	}
	aud := get("DEMO_API_URL")
	if aud == "" {
		return nil, errf("DEMO_API_URL", "is required: this backend's URL as the gateway calls it, the audience of its tokens (e.g. DEMO_API_URL=http://demo-api:4000/demo/)")
	}
	if err := checkBackendURL(aud); err != nil {
		return nil, errf("DEMO_API_URL", "%v (e.g. DEMO_API_URL=http://demo-api:4000/demo/)", err)
	}
	c.Audience = strings.TrimSuffix(aud, "/") + "/"
	switch salt := env["PII_SALT"]; {
	case salt == "":
		return nil, errf("PII_SALT", "is required: a secret of at least %d bytes that keys the demo data to each user (e.g. the output of `openssl rand -hex 32`)", minSaltBytes)
	case len(salt) < minSaltBytes:
		return nil, errf("PII_SALT", "must be at least %d bytes (e.g. the output of `openssl rand -hex 32`)", minSaltBytes)
	default:
		c.PIISalt = []byte(salt)
	}
	return c, nil
}

// runDemoAPI serves the demo backend alone, at /demo/ (and /healthz), for a
// gateway that reaches it at DEMO_API_URL. It verifies the gateway's
// tokens against the gateway's JWKS.
func runDemoAPI(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("demo-api: unexpected argument %q (configure it with the environment)", args[0])
	}
	c, err := loadDemoAPIConfig(env)
	if err != nil {
		return err
	}
	log := newLogger(stderr, &config{Debug: c.Debug, ServiceName: "demo-api"})
	st, err := openStore(ctx, &config{CRMDBPath: c.CRMDBPath, DatabaseURL: strings.TrimSpace(env["DATABASE_URL"])})
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{
		Issuer:      c.GatewayIssuer,
		Audiences:   []string{c.Audience},
		JWKSURL:     c.JWKSURL,
		RequireType: "at+jwt",
		ScopeClaims: []string{"scope"},
		// GATEWAY_JWKS_URL may be plain http on the private network
		// between the gateway and this backend (see DEMO_API_URL).
		InsecureAllowHTTP: true,
	})
	if err != nil {
		return fmt.Errorf("demo-api verifier: %w", err)
	}
	defer v.Close()
	h, err := demoapi.New(demoapi.Config{Verifier: v, Store: st, PIISalt: c.PIISalt, Logger: log, Revision: c.Revision, GitSHA: c.GitSHA})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/demo/", http.StripPrefix("/demo", h))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONBody(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if err != nil {
		return fmt.Errorf("PORT=%d: listen: %w", c.Port, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "demo-api: ready listen=%s audience=%s\n", ln.Addr(), c.Audience)
	log.Info("serving the demo backend", slog.String("listen", ln.Addr().String()), slog.String("audience", c.Audience))
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
