package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/internal/loadtest/loadgen"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in           string
		wantMods     []string
		wantProtocol string
		wantErr      string
	}{
		{in: "idgate"},
		{in: "idgate:json", wantMods: []string{"json"}},
		{in: "gosdk:json,stateless", wantMods: []string{"json", "stateless"}},
		{in: "floor:json", wantErr: "applies to MCP servers only"},
		{in: "floor:gogc=400"},
		{in: "idgate:json,gogc=off", wantMods: []string{"json"}},
		{in: "idgate:gogc=lots", wantErr: "gogc= takes a number"},
		{in: "starter:gogc=off,gomemlimit=40MiB"},
		{in: "idgate:-no-audit,-no-ratelimit"},
		{in: "starter:gomemlimit=MiB", wantErr: "gomemlimit= takes a size"},
		{in: "idgate:fast", wantErr: "unknown modifier"},
		{in: "nginx", wantErr: "unknown server"},
		{in: "idgate@base:json", wantMods: []string{"json"}},
		{in: "idgate:godebug=gcshrinkstackoff=1,godebug=madvdontneed=1"},
		{in: "idgate:godebug=gcshrinkstackoff", wantErr: "godebug= takes a setting"},
		{in: "nginx@base", wantErr: "unknown server"},
		{in: "starter:env=STATELESS=true,gogc=200"},
		{in: "starter:env=STATELESS", wantErr: "env= takes a variable"},
		{in: "idgate:stateless,protocol=2026-07-28", wantMods: []string{"stateless"}, wantProtocol: "2026-07-28"},
		{in: "idgate:protocol=2026-7-28", wantErr: "protocol= takes a version"},
		{in: "idgate:protocol=2026-07-28x", wantErr: "protocol= takes a version"},
		{in: "idgate:protocol=latest", wantErr: "protocol= takes a version"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sp, err := parseSpec(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.in, sp.name)
			require.Equal(t, tt.wantMods, sp.mods)
			require.Equal(t, tt.wantProtocol, sp.protocol)
			require.Equal(t, strings.Contains(tt.in, "@base"), sp.base)
		})
	}
}

// A server's runtime variables: its own GOGC over the harness's, its
// GOMEMLIMIT, and its GODEBUG settings after the harness's GODEBUG.
func TestRuntimeEnv(t *testing.T) {
	for _, tt := range []struct {
		spec, godebug string
		want          []string
	}{
		{"idgate", "", []string{"GOGC=100", "GOMAXPROCS=2"}},
		{"idgate", "gctrace=1", []string{"GOGC=100", "GOMAXPROCS=2"}},
		{"idgate:gogc=400,gomemlimit=1GiB", "", []string{"GOGC=400", "GOMAXPROCS=2", "GOMEMLIMIT=1GiB"}},
		{"idgate:godebug=gcshrinkstackoff=1,godebug=madvdontneed=1", "", []string{"GOGC=100", "GOMAXPROCS=2", "GODEBUG=gcshrinkstackoff=1,madvdontneed=1"}},
		{"idgate:godebug=gcshrinkstackoff=1", "gctrace=1", []string{"GOGC=100", "GOMAXPROCS=2", "GODEBUG=gctrace=1,gcshrinkstackoff=1"}},
	} {
		sp, err := parseSpec(tt.spec)
		require.NoError(t, err)
		require.Equal(t, tt.want, runtimeEnv(sp, "100", "2", tt.godebug), tt.spec)
	}
}

// Modifiers in -servers are glued back on the server before them.
func TestIsModifier(t *testing.T) {
	for _, m := range []string{"json", "stateless", "gogc=200", "gomemlimit=40MiB", "godebug=gctrace=1", "env=STATELESS=true", "protocol=2026-07-28", "-no-audit"} {
		require.True(t, isModifier(m), m)
	}
	for _, s := range []string{"idgate", "starter@base", "floor", "gosdk-noauth"} {
		require.False(t, isModifier(s), s)
	}
}

// A server's own variables: its kind's, then its env= modifiers, which
// exec lets win.
func TestServerEnv(t *testing.T) {
	e := &env{issuer: "http://issuer", jwks: "http://issuer/jwks", audience: "http://mcp", dir: t.TempDir()}
	sp, err := parseSpec("starter:env=STATELESS=true,env=RATE_LIMIT_PER_MIN=5")
	require.NoError(t, err)
	got := serverEnv(sp, e)
	require.Contains(t, got, "OAUTH_ISSUER=http://issuer")
	require.Equal(t, []string{"STATELESS=true", "RATE_LIMIT_PER_MIN=5"}, got[len(got)-2:])
	require.Less(t, slices.Index(got, "RATE_LIMIT_PER_MIN=1000000"), slices.Index(got, "RATE_LIMIT_PER_MIN=5"))
	sp, err = parseSpec("idgate:env=X=1")
	require.NoError(t, err)
	require.Equal(t, []string{"X=1"}, serverEnv(sp, e))
}

// A server named kind@base is built from the -base checkout: the run
// fails without one or with a directory that holds no checkout, and
// measures it beside this checkout's server otherwise.
func TestRunBase(t *testing.T) {
	o := options{
		servers: "floor,floor@base", pairs: "floor/floor@base",
		rounds: 1, duration: 200 * time.Millisecond, warmup: 100 * time.Millisecond,
		connections: 2, gogc: "100", gomaxprocs: "1", message: loadgen.DefaultMessage,
	}
	captureStderr(t, func() {
		require.ErrorContains(t, run(t.Context(), o, io.Discard), "-base names no checkout")
		o.base = t.TempDir()
		require.ErrorContains(t, run(t.Context(), o, io.Discard), "build internal/loadtest/servers/floor@base")
	})

	root, err := filepath.Abs("../..") // this checkout stands in for another
	require.NoError(t, err)
	o.base = root
	var out bytes.Buffer
	captureStderr(t, func() {
		require.NoError(t, run(t.Context(), o, &out))
	})
	require.Regexp(t, `(?m)^\| floor@base \| [1-9]\d* \|`, out.String())
	require.Regexp(t, `(?m)^\| floor / floor@base \| \*\*[0-9.]+\*\*`, out.String())
}

func TestParsePairs(t *testing.T) {
	specs := func(names ...string) []spec {
		var out []spec
		for _, n := range names {
			sp, err := parseSpec(n)
			require.NoError(t, err)
			out = append(out, sp)
		}
		return out
	}
	tests := []struct {
		name    string
		in      string
		specs   []spec
		want    []pair
		wantErr bool
	}{
		{"default: the first with each other, and go-sdk with and without auth", "", specs("idgate", "idgate-noauth", "gosdk", "gosdk-noauth"),
			[]pair{{"idgate", "idgate-noauth"}, {"idgate", "gosdk"}, {"idgate", "gosdk-noauth"}, {"gosdk", "gosdk-noauth"}}, false},
		{"explicit", "gosdk/floor", specs("gosdk", "floor"), []pair{{"gosdk", "floor"}}, false},
		{"names with commas", "idgate:json,stateless/idgate,floor/idgate", specs("idgate", "idgate:json,stateless", "floor"),
			[]pair{{"idgate:json,stateless", "idgate"}, {"floor", "idgate"}}, false},
		{"separated by semicolons", "idgate:-x/idgate:-x,-y;idgate:-x,-y/idgate", specs("idgate:-x", "idgate:-x,-y", "idgate"),
			[]pair{{"idgate:-x", "idgate:-x,-y"}, {"idgate:-x,-y", "idgate"}}, false},
		{"unknown server", "gosdk/nginx", specs("gosdk", "floor"), nil, true},
		{"not a pair", "gosdk", specs("gosdk", "floor"), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePairs(tt.in, tt.specs)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseServerArgs(t *testing.T) {
	require.Equal(t, map[string][]string{
		"idgate": {"-cpuprofile", "/tmp/a"},
		"gosdk":  {"-json"},
	}, parseServerArgs("idgate=-cpuprofile /tmp/a; gosdk=-json"))
	require.Empty(t, parseServerArgs(""))
}

func TestStarterAnnouncement(t *testing.T) {
	announced := kinds()["starter"].announced
	tests := []struct {
		line, want string
		ok         bool
	}{
		{"starter: ready mcp=https://mcp.example.com/mcp listen=127.0.0.1:40123", "127.0.0.1:40123", true},
		{"starter: ready mcp=http://localhost:3000/mcp listen=127.0.0.1:3000 issuer=http://127.0.0.1:3001", "127.0.0.1:3000", true},
		{"DEV MODE — not for production", "", false},
		{"starter: ready without an address", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := announced(tt.line)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

// With -restart every alternating window runs on a process of its own,
// started for it and stopped after it, and the report says so.
func TestRunRestart(t *testing.T) {
	o := options{
		servers: "floor,floor:gogc=200", pairs: "floor/floor:gogc=200",
		rounds: 2, duration: 300 * time.Millisecond, warmup: 100 * time.Millisecond,
		connections: 2, gogc: "100", gomaxprocs: "1", message: loadgen.DefaultMessage,
		restart: true,
	}
	var out bytes.Buffer
	progress := captureStderr(t, func() {
		require.NoError(t, run(t.Context(), o, &out))
	})

	pids := map[string][]int{}
	for _, m := range regexp.MustCompile(`(?m)^round \d+ (\S+) .* pid (\d+)$`).FindAllStringSubmatch(progress, -1) {
		pid, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		pids[m[1]] = append(pids[m[1]], pid)
	}
	all := map[int]bool{}
	for _, name := range []string{"floor", "floor:gogc=200"} {
		require.Len(t, pids[name], 2, "windows of %s in:\n%s", name, progress)
		for _, pid := range pids[name] {
			require.False(t, all[pid], "pid %d measured twice", pid)
			all[pid] = true
			// Stopped after its window (and reaped: no zombie answers).
			require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "pid %d still running", pid)
		}
	}
	report := out.String()
	require.Contains(t, report, "every window on a freshly started server process")
	row := regexp.MustCompile(`(?m)^\| floor \| (\d+) \|.*\| ([0-9.]+) \+ ([0-9.]+) \| ([0-9.]+) MiB \| 0 \|$`).FindStringSubmatch(report)
	require.NotNil(t, row, report)
	require.NotEqual(t, "0", row[1], "req/s")
	vol, err1 := strconv.ParseFloat(row[2], 64)
	invol, err2 := strconv.ParseFloat(row[3], 64)
	require.NoError(t, errors.Join(err1, err2))
	// A server under load blocks in epoll or on a futex now and then.
	require.Greater(t, vol+invol, 0.0, "context switches per request")
	rss, err := strconv.ParseFloat(row[4], 64)
	require.NoError(t, err)
	require.Greater(t, rss, 1.0, "peak RSS of the fresh processes")
}

// captureStderr runs f with os.Stderr sent to a pipe and returns what was
// written.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() { os.Stderr = saved }()
	f()
	os.Stderr = saved
	require.NoError(t, w.Close())
	return <-done
}
