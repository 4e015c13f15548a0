package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/idgate/idgate/internal/loadtest/servers/serve"
)

// modulePath is the import path of the module the servers are built from.
const modulePath = "github.com/idgate/idgate"

// A kind is a server the harness knows how to start.
type kind struct {
	// pkg is the package built into the server's binary.
	pkg string
	// auth reports whether the server checks bearer tokens.
	auth bool
	// mcp reports whether the server is an MCP server taking -stateless and
	// -json.
	mcp bool
	// args returns the server's arguments.
	args func(e *env) []string
	// environ, when set, returns variables added to the server's
	// environment.
	environ func(e *env) []string
	// announced, when set, reads the server's address from a line of its
	// standard output; default: serve.Announce.
	announced func(line string) (addr string, ok bool)
	// quiet sends the server's standard error to /dev/null (unless -keep),
	// for a server that writes a log line per request there.
	quiet bool
}

// env is what the servers' arguments are made of.
type env struct {
	issuer, jwks, audience string
	auditOut               string
	dir                    string              // a directory the servers may write in
	extra                  map[string][]string // per-kind extra arguments (-server-args)
}

// kinds returns the servers the harness can compare, by name.
func kinds() map[string]kind {
	return map[string]kind{
		// The whole idgate chain.
		"idgate": {pkg: "internal/loadtest/servers/idgate", auth: true, mcp: true, args: func(e *env) []string {
			return []string{"-issuer", e.issuer, "-jwks", e.jwks, "-audience", e.audience, "-audit-out", e.auditOut}
		}},
		// The same server with no chain: no authentication, audit or rate
		// limit (the Origin policy, body limit and Host check remain).
		"idgate-noauth": {pkg: "internal/loadtest/servers/idgate", mcp: true, args: func(e *env) []string {
			return []string{"-insecure-disable-auth", "-no-audit", "-no-ratelimit", "-audience", e.audience}
		}},
		// The same server with authentication off but audit and the
		// per-address rate limit on.
		"idgate-noauth-audit": {pkg: "internal/loadtest/servers/idgate", mcp: true, args: func(e *env) []string {
			return []string{"-insecure-disable-auth", "-audience", e.audience, "-audit-out", e.auditOut}
		}},
		// Plain go-sdk with per-request JWT verification (jwt/v5 + keyfunc).
		"gosdk": {pkg: "internal/loadtest/servers/gosdk", auth: true, mcp: true, args: func(e *env) []string {
			return []string{"-issuer", e.issuer, "-jwks", e.jwks, "-audience", e.audience}
		}},
		// Plain go-sdk without authentication.
		"gosdk-noauth": {pkg: "internal/loadtest/servers/gosdk", mcp: true, args: func(*env) []string {
			return []string{"-noauth"}
		}},
		// Plain net/http: decode the JSON-RPC body, write a fixed reply.
		"floor": {pkg: "internal/loadtest/servers/floor", args: func(*env) []string { return nil }},
		// The starter, configured through its environment, its rate
		// limits lifted; its echo calls the in-process demo backend
		// through proxy.Client and proxy.Signer. Its log (one audit event
		// per request) goes to /dev/null like the other servers' audit
		// events.
		"starter": {pkg: "examples/starter", auth: true, quiet: true,
			args: func(*env) []string { return nil },
			environ: func(e *env) []string {
				return []string{
					"OAUTH_ISSUER=" + e.issuer, "JWKS_URI=" + e.jwks, "PUBLIC_URL=" + e.audience,
					"PII_SALT=loadtest-pii-salt-0123456789abcdef", "HOST=127.0.0.1", "PORT=0",
					"CRM_DB_PATH=" + filepath.Join(e.dir, "crm.sqlite"),
					"RATE_LIMIT_PER_MIN=1000000", "RATE_LIMIT_PER_IP_PER_MIN=1000000",
				}
			},
			announced: func(line string) (string, bool) {
				// "starter: ready mcp=<url> listen=<host:port>"
				if !strings.HasPrefix(line, "starter: ready ") {
					return "", false
				}
				for _, f := range strings.Fields(line) {
					if a, ok := strings.CutPrefix(f, "listen="); ok {
						return a, true
					}
				}
				return "", false
			},
		},
	}
}

// kindNames returns the known server names, sorted.
func kindNames() []string {
	var names []string
	for n := range kinds() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// A spec names a server to run: a kind and its modifiers, written
// "gosdk:json,stateless,gogc=400".
type spec struct {
	name string // as written
	kind kind
	// base is set for "kind@base": the server built from the -base
	// checkout instead of this one.
	base bool
	mods []string // "json", "stateless"
	gogc string   // "gogc=N": this server's GOGC instead of -gogc
	// memlimit is "gomemlimit=N": this server's GOMEMLIMIT (such as
	// "40MiB"); default none.
	memlimit string
	// godebug is "godebug=K=V": this server's GODEBUG (one setting; the
	// modifier may be given more than once).
	godebug []string
	// flags are modifiers starting with "-", passed to the server as
	// arguments ("idgate:-no-audit").
	flags []string
	// env are "env=K=V" modifiers: variables set in the server's
	// environment after its kind's own ("starter:env=STATELESS=true").
	env []string
	// protocol is "protocol=V": the MCP protocol version the load
	// generator speaks to this server (loadgen.Config.ProtocolVersion);
	// default loadgen's.
	protocol string
}

func parseSpec(s string) (spec, error) {
	base, mods, _ := strings.Cut(s, ":")
	base, fromBase := strings.CutSuffix(base, "@base")
	k, ok := kinds()[base]
	if !ok {
		return spec{}, fmt.Errorf("unknown server %q (known: %s, each also as name@base)", base, strings.Join(kindNames(), ", "))
	}
	sp := spec{name: s, kind: k, base: fromBase}
	if mods != "" {
		for _, m := range strings.Split(mods, ",") {
			if strings.HasPrefix(m, "-") {
				sp.flags = append(sp.flags, m)
				continue
			}
			if v, ok := strings.CutPrefix(m, "gomemlimit="); ok {
				if v != "off" && (v == "" || v[0] < '0' || v[0] > '9') {
					return spec{}, fmt.Errorf("server %q: gomemlimit= takes a size such as 40MiB", s)
				}
				sp.memlimit = v
				continue
			}
			if v, ok := strings.CutPrefix(m, "env="); ok {
				if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
					return spec{}, fmt.Errorf("server %q: env= takes a variable such as STATELESS=true", s)
				}
				sp.env = append(sp.env, v)
				continue
			}
			if v, ok := strings.CutPrefix(m, "godebug="); ok {
				if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
					return spec{}, fmt.Errorf("server %q: godebug= takes a setting such as gcshrinkstackoff=1", s)
				}
				sp.godebug = append(sp.godebug, v)
				continue
			}
			if v, ok := strings.CutPrefix(m, "protocol="); ok {
				if !isProtocolVersion(v) {
					return spec{}, fmt.Errorf("server %q: protocol= takes a version such as 2026-07-28", s)
				}
				sp.protocol = v
				continue
			}
			if v, ok := strings.CutPrefix(m, "gogc="); ok {
				if v == "" || strings.Trim(v, "0123456789") != "" && v != "off" {
					return spec{}, fmt.Errorf("server %q: gogc= takes a number or off", s)
				}
				sp.gogc = v
				continue
			}
			switch m {
			case "json", "stateless":
				if !k.mcp {
					return spec{}, fmt.Errorf("server %q: %q applies to MCP servers only", s, m)
				}
				sp.mods = append(sp.mods, m)
			default:
				return spec{}, fmt.Errorf("server %q: unknown modifier %q (json, stateless, gogc=N, gomemlimit=N, godebug=K=V, env=K=V, protocol=V, -flag)", s, m)
			}
		}
	}
	return sp, nil
}

// isProtocolVersion reports whether v has the form of an MCP protocol
// version, a date: YYYY-MM-DD.
func isProtocolVersion(v string) bool {
	if len(v) != len("2026-07-28") {
		return false
	}
	for i := 0; i < len(v); i++ {
		if i == 4 || i == 7 {
			if v[i] != '-' {
				return false
			}
		} else if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// process is a started server.
type process struct {
	spec
	cmd    *exec.Cmd
	addr   string
	pid    int
	stderr string // path of its stderr log
}

// build compiles the binaries of specs into dir and returns them by
// binKey. Servers named "kind@base" are built in baseDir, a checkout of
// another commit.
func build(ctx context.Context, specs []spec, dir, baseDir string) (map[string]string, error) {
	bins := map[string]string{}
	for _, sp := range specs {
		if _, ok := bins[sp.binKey()]; ok {
			continue
		}
		bin := filepath.Join(dir, filepath.Base(sp.kind.pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, modulePath+"/"+sp.kind.pkg)
		if sp.base {
			if baseDir == "" {
				return nil, fmt.Errorf("server %q: -base names no checkout to build it from", sp.name)
			}
			bin += "-base"
			cmd = exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+sp.kind.pkg)
			cmd.Dir = baseDir
		}
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build %s: %w", sp.binKey(), err)
		}
		bins[sp.binKey()] = bin
	}
	return bins, nil
}

// runtimeEnv returns the Go runtime's variables for the server of sp: its
// GOGC (sp's own, else gogc), GOMAXPROCS, GOMEMLIMIT when set, and GODEBUG
// when sp sets any, after the harness's own (godebug) so that sp's win.
// They go after the harness's environment: exec keeps the last value of a
// variable.
func runtimeEnv(sp spec, gogc, gomaxprocs, godebug string) []string {
	if sp.gogc != "" {
		gogc = sp.gogc
	}
	env := []string{"GOGC=" + gogc, "GOMAXPROCS=" + gomaxprocs}
	if sp.memlimit != "" {
		env = append(env, "GOMEMLIMIT="+sp.memlimit)
	}
	if len(sp.godebug) > 0 {
		settings := sp.godebug
		if godebug != "" {
			settings = append([]string{godebug}, settings...)
		}
		env = append(env, "GODEBUG="+strings.Join(settings, ","))
	}
	return env
}

// serverEnv returns the variables the server of sp gets beyond the
// harness's and the runtime's: its kind's own, then its env= modifiers,
// which win (exec keeps the last value of a variable).
func serverEnv(sp spec, e *env) []string {
	var out []string
	if sp.kind.environ != nil {
		out = append(out, sp.kind.environ(e)...)
	}
	return append(out, sp.env...)
}

// binKey names the binary sp runs: its package, and "@base" when built
// from the -base checkout.
func (sp spec) binKey() string {
	if sp.base {
		return sp.kind.pkg + "@base"
	}
	return sp.kind.pkg
}

// start runs the server of sp with the given GC settings and waits (at
// most 30 seconds) for it to announce its address.
func start(sp spec, bin string, e *env, dir string, gogc, gomaxprocs string, keepLogs bool) (*process, error) {
	args := sp.kind.args(e)
	for _, m := range sp.mods {
		args = append(args, "-"+m)
	}
	args = append(args, sp.flags...)
	args = append(args, e.extra[sp.name]...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), runtimeEnv(sp, gogc, gomaxprocs, os.Getenv("GODEBUG"))...)
	cmd.Env = append(cmd.Env, serverEnv(sp, e)...)
	cmd.Dir = e.dir // no stray .env file is read
	logPath := filepath.Join(dir, strings.NewReplacer(":", "_", ",", "_").Replace(sp.name)+".stderr")
	if sp.kind.quiet && !keepLogs {
		logPath = os.DevNull
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", sp.name, err)
	}
	p := &process{spec: sp, cmd: cmd, pid: cmd.Process.Pid, stderr: logPath}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		announced := sp.kind.announced
		if announced == nil {
			announced = func(line string) (string, bool) { return strings.CutPrefix(line, serve.Announce) }
		}
		for sc.Scan() {
			if a, ok := announced(sc.Text()); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
	}()
	select {
	case p.addr = <-addr:
		return p, nil
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s did not announce its address within 30s (see %s)", sp.name, logPath)
	}
}

// stop terminates the server (SIGTERM, then SIGKILL after 5 seconds).
func (p *process) stop() {
	if p.cmd.Process == nil {
		return
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// alive reports an error if the server has exited.
func (p *process) alive() error {
	if err := p.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		return errors.Join(fmt.Errorf("%s has exited (see %s)", p.name, p.stderr), err)
	}
	return nil
}
