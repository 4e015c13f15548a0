// Command idgate is the load harness's idgate server: mcpserver with the
// whole chain (audit, Origin policy, body limit, per-address and per-user
// rate limits, JWT verification with its cache, step-up scope check,
// session binding) in front of the echo tool. With -insecure-disable-auth
// it is the same server without authentication; -no-audit and
// -no-ratelimit remove those layers too; -discard-audit encodes every
// audit event but writes it nowhere, to measure the write. -ballast N keeps N bytes of
// pointer-free memory live (serve.Ballast), to measure what the size of
// the live heap costs.
//
// It listens on -addr (default a random loopback port) and prints
// "listening on <host:port>" on stdout once it accepts connections.
package main

import (
	"errors"
	"flag"
	"io"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/internal/loadtest/echo"
	"github.com/idgate/idgate/internal/loadtest/servers/serve"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// flags are the command-line flags.
type flags struct {
	addr, issuer, jwksURL, audience  string
	noAuth, noAudit, noRateLimit     bool
	slogAudit, discardAudit          bool
	goSDKTransport                   bool
	stateless, jsonResp              bool
	auditOut, cpuProfile, memProfile string
	ballast                          int
}

func main() {
	var f flags
	flag.StringVar(&f.addr, "addr", "127.0.0.1:0", "listen address")
	flag.StringVar(&f.issuer, "issuer", "", "issuer URL (required unless -insecure-disable-auth)")
	flag.StringVar(&f.jwksURL, "jwks", "", "JWKS URL (default: discovered from the issuer)")
	flag.StringVar(&f.audience, "audience", "https://mcp.example.com/mcp", "public URL of the MCP endpoint, the tokens' audience")
	flag.BoolVar(&f.noAuth, "insecure-disable-auth", false, "serve without authentication (mcpserver InsecureDisableAuth)")
	flag.BoolVar(&f.noAudit, "no-audit", false, "write no audit events")
	flag.BoolVar(&f.slogAudit, "slog-audit", false, "write audit events through slog's JSON handler instead of audit.JSONHandler")
	flag.BoolVar(&f.discardAudit, "discard-audit", false, "encode audit events but write them to io.Discard (no write(2) per event), to measure what the write costs")
	flag.BoolVar(&f.goSDKTransport, "gosdk-transport", false, "serve with go-sdk's StreamableHTTPHandler alone (mcpserver GoSDKTransport)")
	flag.BoolVar(&f.noRateLimit, "no-ratelimit", false, "disable rate limiting")
	flag.BoolVar(&f.stateless, "stateless", false, "serve MCP without sessions")
	flag.BoolVar(&f.jsonResp, "json", false, "answer POSTs with application/json instead of SSE")
	flag.StringVar(&f.auditOut, "audit-out", "", "file audit events are appended to (default stderr)")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the server's life to this file")
	flag.StringVar(&f.memProfile, "memprofile", "", "write an allocation profile to this file on exit")
	flag.IntVar(&f.ballast, "ballast", 0, "bytes of pointer-free memory to keep live, to measure what the live heap's size costs (serve.Ballast)")
	flag.Parse()
	if err := run(f); err != nil {
		log.Fatal(err)
	}
}

func run(f flags) error {
	ctx, stop := serve.Context()
	defer stop()
	serve.Ballast(f.ballast)
	stopProfiles, err := serve.StartProfiles(f.cpuProfile, f.memProfile)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopProfiles(); err != nil {
			log.Print(err)
		}
	}()

	cfg := mcpserver.Config{
		Name:           "loadtest",
		PublicURL:      f.audience,
		Stateless:      f.stateless,
		GoSDKTransport: f.goSDKTransport,
		JSONResponse:   f.jsonResp,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		RateLimit: mcpserver.RateLimitConfig{
			Disabled: f.noRateLimit,
			// High enough never to refuse the harness; counted like any
			// production limit.
			User: mcpserver.Limit{Rate: 1 << 30, Period: time.Minute},
			IP:   mcpserver.Limit{Rate: 1 << 30, Period: time.Minute},
		},
	}
	need := scopes.All(echo.Scope)
	if f.noAuth {
		cfg.InsecureDisableAuth = true
		need = scopes.Public()
	} else {
		if f.issuer == "" {
			return errors.New("-issuer is required unless -insecure-disable-auth is set")
		}
		v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{
			Issuer:    f.issuer,
			JWKSURL:   f.jwksURL,
			Audiences: []string{f.audience},
		})
		if err != nil {
			return err
		}
		defer v.Close()
		cfg.Verifier = v
		cfg.AuthorizationServers = []string{f.issuer}
	}
	if !f.noAudit {
		out := os.Stderr
		if f.auditOut != "" {
			file, err := os.OpenFile(f.auditOut, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return err
			}
			defer file.Close()
			out = file
		}
		var w io.Writer = out
		if f.discardAudit {
			w = io.Discard
		}
		var h slog.Handler = audit.NewJSONHandler(w, nil)
		if f.slogAudit {
			h = slog.NewJSONHandler(w, nil)
		}
		a, err := audit.New(audit.Config{
			Logger:     slog.New(h),
			SubjectKey: []byte("loadtest-subject-key-0123456789ab"),
		})
		if err != nil {
			return err
		}
		cfg.Audit = a
	}
	srv, err := mcpserver.New(cfg)
	if err != nil {
		return err
	}
	mcpserver.AddTool(srv, echo.Tool(), need, echo.Handler)
	return serve.Run(ctx, f.addr, srv.Handler())
}
