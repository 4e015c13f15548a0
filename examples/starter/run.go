package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/audit"
)

// shutdownTimeout is how long requests in flight get to finish after
// SIGINT or SIGTERM.
const shutdownTimeout = 15 * time.Second

// usage is the command line help.
const usage = `Usage:
  starter [-dev]           serve the MCP server (configuration from the environment and .env)
  starter token [flags]    mint a token for curl from a running -dev server
  starter demo-api         serve the demo backend alone

Run "starter token -h" for the token flags. Configuration: see .env.example.
`

// run runs the starter command line args with the environment env until
// ctx is done (main cancels it on SIGINT or SIGTERM), writing what it has to
// say to a person to stdout and logs to stderr. Tests call it in process.
func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			args = args[1:]
		case "token":
			return runToken(ctx, args[1:], env, stdout, stderr)
		case "demo-api":
			return runDemoAPI(ctx, args[1:], env, stdout, stderr)
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	return runServer(ctx, args, env, stdout, stderr)
}

// runServer serves the MCP server: in -dev mode with the embedded
// development authorization server, else with the configured one.
func runServer(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("starter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	dev := fs.Bool("dev", false, "development mode: run an embedded sign-in server (alice, bob) on loopback; no account needed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n\n%s", fs.Arg(0), usage)
	}
	cfg, warnings, err := loadConfig(env, *dev)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg)
	for _, w := range warnings {
		log.Warn(w)
	}
	if cfg.RedisURL != "" {
		// go-redis logs through a process-wide logger (set atomically).
		redis.SetLogger(redisLog{log: log.With("component", "go-redis")})
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("PORT=%d: listen: %w", cfg.Port, err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	var dv *devServer
	if cfg.Dev {
		if cfg.PublicURL == "" {
			cfg.PublicURL = fmt.Sprintf("http://localhost:%d/mcp", port)
		}
		if dv, err = startDevServer(cfg); err != nil {
			return err
		}
		defer dv.Close()
	}

	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	srv := publicHTTPServer(a.Handler(), log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	if dv != nil {
		dv.printBanner(stdout, cfg, warnings)
	}
	fmt.Fprintf(stdout, "starter: ready mcp=%s listen=%s%s\n", cfg.PublicURL, ln.Addr(), dv.readyField())
	log.Info("serving", slog.String("mcp", cfg.PublicURL), slog.String("listen", ln.Addr().String()), slog.Bool("dev", cfg.Dev))

	select {
	case err := <-served:
		a.Close(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return shutdown(srv, a, log)
}

// publicHTTPServer returns the server of the starter's routes, with a time
// limit on every phase a client controls: the request headers, the whole
// request with its body (net/http lifts that deadline once the body is
// read, so MCP event streams run for as long as they need), and idle
// keep-alive connections. Without them a client that trickles its request
// holds a connection and a goroutine for as long as it likes.
func publicHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// shutdown stops srv gracefully: no new connections, requests in flight
// finish (up to shutdownTimeout), MCP event streams end, then the app's
// backend and store close.
func shutdown(srv *http.Server, a *app, log *slog.Logger) error {
	log.Info("shutting down: finishing requests in flight", slog.Duration("timeout", shutdownTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	a.BeginShutdown()
	err := srv.Shutdown(ctx)
	if err != nil {
		log.Warn("shutdown: requests still running at the deadline were cut off", slog.String("error", err.Error()))
		srv.Close()
	}
	if cerr := a.Close(ctx); cerr != nil {
		log.Warn("shutdown: closing", slog.String("error", cerr.Error()))
	}
	if a.limits.shared != nil {
		log.Info("stopped", slog.Uint64("redis_errors_total", a.limits.errors()))
	} else {
		log.Info("stopped")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: requests still running after %v were cut off", shutdownTimeout)
	}
	return err
}

// newLogger returns the logger: text in -dev mode, JSON otherwise, at debug
// level with DEBUG. The JSON handler is audit's: it writes what slog's
// writes, and audit events through it cost a quarter as much.
func newLogger(w io.Writer, cfg *config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if cfg.Debug {
		opts.Level = slog.LevelDebug
	}
	var h slog.Handler = audit.NewJSONHandler(w, opts)
	if cfg.Dev {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h).With("service", cfg.ServiceName)
}
