// Command loadtest is idgate's load harness. It builds and starts the
// servers it compares as separate processes on loopback (random ports, the
// same GOGC and GOMAXPROCS for all), starts a test issuer, mints one token
// per simulated user, and loads each server in turn with the closed-loop
// MCP client of package loadgen: one session per connection (initialize
// once), then tools/call echo back to back with a bearer token (sent to
// every server, so that all read the same requests).
//
// The servers take turns, A B C A B C…, for -rounds rounds of -duration
// each (the starting server rotates every round), so that drift in the
// machine's load hits all of them alike. For each server it prints the
// median over rounds of req/s, p50, p99 and CPU per request (utime+stime
// of /proc/<pid>/stat over the window), and its peak RSS (VmHWM); for each
// pair, the median of the per-round ratios, the only figure that holds on
// a noisy machine. A last run opens -sessions concurrent sessions on each
// server and records its peak RSS.
//
// Run it by hand, on a machine as quiet as you can get:
//
//	go run ./internal/loadtest
//	go run ./internal/loadtest -servers idgate,idgate-noauth -rounds 9
//	go run ./internal/loadtest -servers gosdk,gosdk:json,gosdk:stateless
//
// Servers: idgate (the whole chain), idgate-noauth (InsecureDisableAuth,
// no audit, no rate limit), idgate-noauth-audit (InsecureDisableAuth with
// audit and the per-address limit), gosdk (plain go-sdk, per-request
// verification with jwt/v5 + keyfunc/v3), gosdk-noauth, floor (net/http,
// fixed reply). MCP servers take modifiers: "idgate:json" answers with
// application/json instead of SSE, "idgate:stateless" runs without
// sessions, and any server takes "gogc=N" (its GOGC instead of -gogc's)
// "gomemlimit=N" (its GOMEMLIMIT, such as 40MiB), "godebug=K=V" (one
// GODEBUG setting), "env=K=V" (a variable of its environment, such as
// "starter:env=STATELESS=true") and "protocol=V" (the MCP protocol version
// the client speaks to it: "idgate:stateless,protocol=2026-07-28" calls
// without sessions, SEP-2575's _meta in every request); a modifier
// starting with "-" is passed to the server as a flag ("idgate:-no-audit").
//
// With -base DIR, a checkout of another commit (git worktree add DIR
// COMMIT), a server named "kind@base" is built from DIR, so that two
// commits are measured in the same run ("idgate,idgate@base").
//
// Every loop is bounded in count and time; nothing leaves loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/internal/loadtest/echo"
	"github.com/idgate/idgate/internal/loadtest/loadgen"
	"github.com/idgate/idgate/internal/loadtest/procstat"
)

// options are the command-line flags.
type options struct {
	servers     string
	pairs       string
	serverArgs  string
	rounds      int
	duration    time.Duration
	warmup      time.Duration
	connections int
	users       int
	sessions    int
	sessionsDur time.Duration
	gogc        string
	gomaxprocs  string
	message     string
	keep        bool
	together    int
	restart     bool
	base        string
}

func main() {
	var o options
	flag.StringVar(&o.servers, "servers", "idgate,idgate-noauth,gosdk,gosdk-noauth,floor", "servers to compare, in order (name[:json,stateless])")
	flag.StringVar(&o.pairs, "pairs", "", "pairs A/B to report the median ratio of, separated by commas, or by semicolons when names have commas (default: every pair of the first server with each other one, and gosdk/gosdk-noauth)")
	flag.StringVar(&o.serverArgs, "server-args", "", "extra arguments per server: name=arg arg;name=arg")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds (each server is loaded once per round)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured window per server per round")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up before each window")
	flag.IntVar(&o.connections, "connections", 32, "concurrent connections (one session and one call in flight each)")
	flag.IntVar(&o.users, "users", 0, "distinct users (tokens) across the connections (default: one per connection)")
	flag.IntVar(&o.sessions, "sessions", 1000, "concurrent sessions of the memory run (0: no memory run)")
	flag.DurationVar(&o.sessionsDur, "sessions-duration", 5*time.Second, "measured window of the memory run")
	flag.StringVar(&o.gogc, "gogc", "100", "GOGC of every server")
	flag.StringVar(&o.gomaxprocs, "gomaxprocs", fmt.Sprint(runtime.NumCPU()), "GOMAXPROCS of every server")
	flag.StringVar(&o.message, "message", loadgen.DefaultMessage, "the echo tool's message")
	flag.BoolVar(&o.keep, "keep", false, "keep the build directory (binaries and server logs)")
	flag.BoolVar(&o.restart, "restart", false, "run each alternating window on a freshly started process of its server (nothing carries over from one window to the next: heap, caches, the placement of its memory)")
	flag.IntVar(&o.together, "together", 0, "rounds in which the two servers of each pair are loaded at the same time (0: none)")
	flag.StringVar(&o.base, "base", "", "a checkout of another commit (git worktree add DIR COMMIT) that servers named kind@base are built from, to compare two commits in one run")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run runs the comparison o describes and writes its report to out
// (progress goes to standard error).
func run(ctx context.Context, o options, out io.Writer) error {
	if o.rounds < 1 || o.rounds > 100 {
		return errors.New("-rounds must be between 1 and 100")
	}
	if o.duration <= 0 || o.duration > 10*time.Minute {
		return errors.New("-duration must be positive and at most 10m")
	}
	if o.connections < 1 || o.connections > 10000 || o.sessions < 0 || o.sessions > 10000 {
		return errors.New("-connections must be 1 to 10000, -sessions 0 to 10000")
	}
	if o.users <= 0 {
		o.users = o.connections
	}
	var specs []spec
	for _, s := range strings.Split(o.servers, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		// Modifiers are comma-separated too: glue them back on.
		if len(specs) > 0 && isModifier(s) {
			prev := specs[len(specs)-1]
			sep := ","
			if !strings.Contains(prev.name, ":") {
				sep = ":"
			}
			sp, err := parseSpec(prev.name + sep + s)
			if err != nil {
				return err
			}
			specs[len(specs)-1] = sp
			continue
		}
		sp, err := parseSpec(s)
		if err != nil {
			return err
		}
		specs = append(specs, sp)
	}
	if len(specs) == 0 {
		return errors.New("-servers names no server")
	}
	pairs, err := parsePairs(o.pairs, specs)
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "idgate-loadtest-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "build directory: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	fmt.Fprintln(os.Stderr, "building servers…")
	bins, err := build(ctx, specs, dir, o.base)
	if err != nil {
		return err
	}

	iss, err := identitytest.StartIssuer()
	if err != nil {
		return fmt.Errorf("start issuer: %w", err)
	}
	defer iss.Close()
	tokens, err := mintTokens(iss, max(o.users, o.sessions))
	if err != nil {
		return err
	}
	e := &env{
		issuer:   iss.URL(),
		jwks:     iss.JWKSURL(),
		audience: identitytest.DefaultAudience,
		auditOut: os.DevNull,
		dir:      dir,
		extra:    parseServerArgs(o.serverArgs),
	}

	var procs []*process
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for _, sp := range specs {
		p, err := start(sp, bins[sp.binKey()], e, dir, o.gogc, o.gomaxprocs, o.keep)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}

	rep := newReport(o, procs, pairs)
	rep.header(out)
	for r := range o.rounds {
		for i := range procs {
			p := procs[(r+i)%len(procs)]
			if o.restart {
				if p, err = start(p.spec, bins[p.binKey()], e, dir, o.gogc, o.gomaxprocs, o.keep); err != nil {
					return err
				}
			}
			m, err := measure(ctx, p, o, tokens[:o.users], o.connections, o.duration)
			if err == nil && o.restart {
				var peak int64
				if peak, err = procstat.PeakRSS(p.pid); err == nil {
					rep.peak[p.name] = max(rep.peak[p.name], peak)
				}
				p.stop()
			}
			if err != nil {
				return err
			}
			rep.add(r, p.name, m)
			fmt.Fprintf(os.Stderr, "round %d %-24s %s  pid %d\n", r+1, p.name, m, p.pid)
		}
	}
	for _, p := range procs {
		if o.restart {
			break // the peaks are those of the fresh processes
		}
		peak, err := procstat.PeakRSS(p.pid)
		if err != nil {
			return err
		}
		rep.peak[p.name] = peak
	}
	rep.summary(out)

	if o.together > 0 {
		byName := map[string]*process{}
		for _, p := range procs {
			byName[p.name] = p
		}
		for _, pr := range pairs {
			for r := range o.together {
				a, b, err := measureTogether(ctx, byName[pr.a], byName[pr.b], o, tokens[:o.users])
				if err != nil {
					return err
				}
				rep.addTogether(pr, a, b)
				fmt.Fprintf(os.Stderr, "together %d %-24s %s\n         %-24s %s\n", r+1, pr.a, a, pr.b, b)
			}
		}
		rep.togetherSummary(out)
	}

	if o.sessions > 0 {
		for _, p := range procs {
			if err := procstat.ResetPeakRSS(p.pid); err != nil {
				return err
			}
			m, err := measure(ctx, p, o, tokens[:o.sessions], o.sessions, o.sessionsDur)
			if err != nil {
				return err
			}
			if m.peakRSS, err = procstat.PeakRSS(p.pid); err != nil {
				return err
			}
			rep.sessions[p.name] = m
			fmt.Fprintf(os.Stderr, "sessions %-24s %s\n", p.name, m)
		}
		rep.sessionSummary(out)
	}
	rep.footer(out)
	return nil
}

// starterEchoScope is the scope of the starter's echo tool.
const starterEchoScope = "starter.echo"

// mintTokens mints n tokens for users user-0… with the echo scopes of the
// harness's servers and of the starter.
func mintTokens(iss *identitytest.Issuer, n int) ([]string, error) {
	tokens := make([]string, n)
	for i := range tokens {
		tok, err := iss.MintToken(
			identitytest.Subject(fmt.Sprintf("user-%d", i)),
			identitytest.Scopes(echo.Scope, starterEchoScope),
			identitytest.ExpiresIn(2*time.Hour),
		)
		if err != nil {
			return nil, fmt.Errorf("mint token: %w", err)
		}
		tokens[i] = tok
	}
	return tokens, nil
}

// measurement is one window on one server.
type measurement struct {
	rps       float64
	p50, p99  time.Duration
	cpuPerReq time.Duration
	// switches per request: the server's context switches over the
	// window (procstat.ContextSwitches), voluntary and involuntary.
	volPerReq, involPerReq float64
	requests               int
	errors                 int
	firstError             error
	peakRSS                int64
}

func (m measurement) String() string {
	s := fmt.Sprintf("%8.0f req/s  p50 %7s  p99 %7s  cpu/req %7s  switches/req %.2f+%.2f", m.rps, round(m.p50), round(m.p99), round(m.cpuPerReq), m.volPerReq, m.involPerReq)
	if m.peakRSS > 0 {
		s += fmt.Sprintf("  peak RSS %s", mib(m.peakRSS))
	}
	if m.errors > 0 {
		s += fmt.Sprintf("  ERRORS %d (first: %v)", m.errors, m.firstError)
	}
	return s
}

// measure loads p with conns connections for one window.
func measure(ctx context.Context, p *process, o options, tokens []string, conns int, d time.Duration) (measurement, error) {
	if err := p.alive(); err != nil {
		return measurement{}, err
	}
	// Every server gets the same requests, bearer token included: a server
	// with authentication off reads the header and ignores it, as it would
	// behind clients that hold tokens.
	var cpu0, cpu1 time.Duration
	var sw0, sw1 procstat.Switches
	var cpuErr error
	res, err := loadgen.Run(ctx, loadgen.Config{
		Addr:        p.addr,
		Tokens:      tokens,
		Connections: conns,
		Warmup:      o.warmup,
		Duration:    d,
		Message:     o.message,
		// The server's protocol= modifier; loadgen's default when empty.
		ProtocolVersion: p.protocol,
		OnWindow: func(open bool) {
			c, err := procstat.CPU(p.pid)
			sw, swErr := procstat.ContextSwitches(p.pid)
			cpuErr = errors.Join(cpuErr, err, swErr)
			if open {
				cpu0, sw0 = c, sw
			} else {
				cpu1, sw1 = c, sw
			}
		},
	})
	if err != nil {
		return measurement{}, fmt.Errorf("%s: %w (see %s)", p.name, err, p.stderr)
	}
	if cpuErr != nil {
		return measurement{}, cpuErr
	}
	if err := ctx.Err(); err != nil {
		return measurement{}, err
	}
	m := measurement{
		rps:        res.Throughput(),
		p50:        res.Percentile(0.50),
		p99:        res.Percentile(0.99),
		requests:   res.Requests,
		errors:     res.Errors,
		firstError: res.FirstError,
	}
	if res.Requests > 0 {
		m.cpuPerReq = (cpu1 - cpu0) / time.Duration(res.Requests)
		m.volPerReq = float64(sw1.Voluntary-sw0.Voluntary) / float64(res.Requests)
		m.involPerReq = float64(sw1.Involuntary-sw0.Involuntary) / float64(res.Requests)
	}
	return m, nil
}

// measureTogether loads a and b at the same time, each with its own
// connections, for one window: both see the same interference from the
// rest of the machine, so their ratio holds better than that of windows
// taken one after the other.
func measureTogether(ctx context.Context, a, b *process, o options, tokens []string) (ma, mb measurement, err error) {
	var errA, errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		mb, errB = measure(ctx, b, o, tokens, o.connections, o.duration)
	}()
	ma, errA = measure(ctx, a, o, tokens, o.connections, o.duration)
	<-done
	return ma, mb, errors.Join(errA, errB)
}

// parseServerArgs parses "name=arg arg;name=arg".
func parseServerArgs(s string) map[string][]string {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ";") {
		name, args, ok := strings.Cut(part, "=")
		if ok {
			out[strings.TrimSpace(name)] = strings.Fields(args)
		}
	}
	return out
}

// isModifier reports whether s, an element of -servers, is a modifier of
// the server before it rather than a server.
func isModifier(s string) bool {
	if s == "json" || s == "stateless" || strings.HasPrefix(s, "-") {
		return true
	}
	for _, p := range []string{"gogc=", "gomemlimit=", "godebug=", "env=", "protocol="} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
