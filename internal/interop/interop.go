// Package interop runs third-party MCP clients from npm — the TypeScript SDK
// client, the MCP Inspector CLI and the official conformance suite — against
// servers that idgate's tests start over real HTTP.
//
// The npm packages are pinned by testdata/package-lock.json. The first test
// that needs them runs "npm ci" once (under a file lock, since go test runs
// packages in parallel); a machine without Node.js fails the test with a clear
// message rather than skipping it.
package interop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Dir returns the absolute path of the npm project (testdata).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Setup makes sure node is installed and the pinned npm packages are present,
// running "npm ci" once if they are not. It fails t when that is impossible.
func Setup(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("interop tests need Node.js 20+ on PATH (apt-get install nodejs npm): %v", err)
	}
	dir := Dir()
	lock, err := os.OpenFile(filepath.Join(dir, ".npm-ci.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("interop: open lock: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("interop: lock: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if installed(dir) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("interop: npm ci in %s: %v\n%s", dir, err, out)
	}
}

func installed(dir string) bool {
	for _, p := range []string{
		"node_modules/@modelcontextprotocol/sdk/package.json",
		"node_modules/@modelcontextprotocol/client/package.json",
		"node_modules/@modelcontextprotocol/inspector/package.json",
		"node_modules/@modelcontextprotocol/conformance/package.json",
	} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return false
		}
	}
	return true
}

// Result is what a client process did.
type Result struct {
	// Stdout and Stderr are everything the process wrote.
	Stdout, Stderr string
	// ExitCode is the process's exit status (0 on success).
	ExitCode int
}

// Run runs an npm-installed program (a file under testdata, such as
// "ts-client.mjs", run with node; or a bin such as "inspector") with args and
// extra environment, and returns its output. It fails t only when the process
// cannot be started or outlives timeout; a non-zero exit is reported in the
// result for the caller to judge.
func Run(t testing.TB, timeout time.Duration, env []string, program string, args ...string) Result {
	t.Helper()
	Setup(t)
	dir := Dir()
	var cmd *exec.Cmd
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if filepath.Ext(program) == ".mjs" || filepath.Ext(program) == ".js" {
		cmd = exec.CommandContext(ctx, "node", append([]string{filepath.Join(dir, program)}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", program), args...)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("interop: %s %v timed out after %s\nstdout:\n%s\nstderr:\n%s", program, redactTokens(args), timeout, stdout.String(), stderr.String())
	}
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			res.ExitCode = ee.ExitCode()
		} else {
			t.Fatalf("interop: start %s: %v", program, err)
		}
	}
	return res
}

// redactTokens returns args with every JWT-looking part (three base64url
// segments, the first starting with "eyJ") replaced by "[redacted]": the
// arguments of a client may carry a bearer token, which must not reach a
// test log.
func redactTokens(args []string) []string {
	jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = jwt.ReplaceAllString(a, "[redacted]")
	}
	return out
}

// String formats the result for a failure message.
func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.ExitCode, r.Stdout, r.Stderr)
}
