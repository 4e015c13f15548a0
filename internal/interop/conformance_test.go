package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/internal/interop"
	"github.com/idgate/idgate/internal/interop/everything"
	"github.com/idgate/idgate/mcpserver"
)

// serverScenarios are the server scenarios of the conformance suite
// (@modelcontextprotocol/conformance 0.1.13, "npx conformance list
// --server"), which the test runs with --suite all. The test fails if the
// suite runs any other set, so a version bump cannot silently drop one.
func serverScenarios() []string {
	return []string{
		"completion-complete",
		"dns-rebinding-protection",
		"elicitation-sep1034-defaults",
		"elicitation-sep1330-enums",
		"json-schema-2020-12", // pending: not in the active suite
		"logging-set-level",
		"ping",
		"prompts-get-embedded-resource",
		"prompts-get-simple",
		"prompts-get-with-args",
		"prompts-get-with-image",
		"prompts-list",
		"resources-list",
		"resources-read-binary",
		"resources-read-text",
		"resources-subscribe",
		"resources-templates-read",
		"resources-unsubscribe",
		"server-initialize",
		"server-sse-multiple-streams",
		"server-sse-polling", // pending: not in the active suite
		"tools-call-audio",
		"tools-call-elicitation",
		"tools-call-embedded-resource",
		"tools-call-error",
		"tools-call-image",
		"tools-call-mixed-content",
		"tools-call-sampling",
		"tools-call-simple-text",
		"tools-call-with-logging",
		"tools-call-with-progress",
		"tools-list",
	}
}

// pendingScenarios are the scenarios the suite leaves out of its default,
// "active", suite.
func pendingScenarios() []string { return []string{"json-schema-2020-12", "server-sse-polling"} }

// expectedConformanceFailures lists the scenarios allowed to fail, each
// with the reason. A scenario fails when any of its checks is a FAILURE or
// a WARNING (the suite's own baseline rule). Every scenario of the active
// suite passes.
func expectedConformanceFailures() map[string]string {
	return map[string]string{
		"server-sse-polling": "a harness bug: the scenario's raw requests declare protocol 2025-03-26, to which go-sdk " +
			"(like the TypeScript and Python SDKs) rightly sends no priming event and no retry field, since SEP-1699 " +
			"belongs to 2025-11-25; fixed upstream by modelcontextprotocol/conformance#366, released in 0.2.0 alphas " +
			"only. The server has resumable streams (Config.EventStore, test_reconnection): with that one fix " +
			"applied, the scenario passes (subtest \"server-sse-polling with the harness fix\")",
	}
}

// conformanceCheck is one check of a scenario's checks.json.
type conformanceCheck struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Status       string `json:"status"` // SUCCESS, FAILURE, WARNING or INFO
	ErrorMessage string `json:"errorMessage"`
}

// TestConformanceSuite runs every server scenario of the official MCP
// conformance suite (the active suite and the pending scenarios) against
// the everything server built with mcpserver, stateful. The suite cannot
// send a token, so a reverse proxy in front adds one with
// every scope the tools need: each scenario goes through the whole idgate
// chain (audit, Origin policy, JWT verification, rate limits, step-up)
// before go-sdk. The dns-rebinding-protection scenario checks idgate's
// Origin policy (SPEC 25): the suite sends Origin and Host of another site
// and expects a 4xx, then its own and expects a 2xx. The server-sse-polling
// scenario checks resumable streams (Config.EventStore): it runs a second
// time with its harness bug fixed, and must pass then.
func TestConformanceSuite(t *testing.T) {
	interop.Setup(t)

	// The proxy is what the suite talks to, so its URL is PublicURL: the
	// audience of the token and the origin the Origin policy allows.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	publicURL := "http://" + ln.Addr().String() + "/mcp"

	iss := identitytest.NewIssuer(t, identitytest.WithAudience(publicURL))
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{publicURL}})
	require.NoError(t, err)
	auditLog := &lockedBuffer{}
	aud, err := audit.New(audit.Config{
		Logger:     slog.New(slog.NewJSONHandler(auditLog, nil)),
		SubjectKey: []byte("interop-test-subject-key-32bytes"),
	})
	require.NoError(t, err)
	serverLog := &lockedBuffer{}
	srv, err := everything.New(mcpserver.Config{
		Name:                 "idgate-everything",
		Version:              "1.0.0",
		PublicURL:            publicURL,
		AuthorizationServers: []string{iss.URL()},
		Verifier:             v,
		Audit:                aud,
		Logger:               slog.New(slog.NewTextHandler(serverLog, nil)),
	})
	require.NoError(t, err)
	backend := httptest.NewServer(srv.Handler())
	t.Cleanup(backend.Close)

	token := iss.Mint(t, identitytest.Subject("conformance"), identitytest.Scopes(everything.Scopes()...))
	exchanges := &lockedBuffer{}
	proxy := httptest.NewUnstartedServer(recordExchanges(tokenProxy(t, backend.URL, token), exchanges))
	proxy.Listener.Close()
	proxy.Listener = ln
	proxy.Start()
	t.Cleanup(proxy.Close)
	t.Cleanup(func() {
		if t.Failed() {
			// The audit trail says which requests reached the server,
			// with their status and duration (it holds no token).
			t.Logf("server log:\n%s\naudit log:\n%s\nexchanges through the proxy:\n%s", serverLog, auditLog, exchanges)
		}
	})

	out := t.TempDir()
	baseline := filepath.Join(t.TempDir(), "expected-failures.yml")
	require.NoError(t, os.WriteFile(baseline, expectedFailuresYAML(), 0o644))
	start := time.Now()
	res := interop.Run(t, 3*time.Minute, nil, "conformance", "server", "--url", publicURL,
		"--suite", "all", "--expected-failures", baseline, "-o", out)
	elapsed := time.Since(start)

	results := readConformanceResults(t, out)
	require.ElementsMatch(t, serverScenarios(), mapsKeys(results), "the scenarios the suite ran\n%s", res)

	expected := expectedConformanceFailures()
	passed := map[string]bool{}
	checks := 0
	for _, scenario := range serverScenarios() {
		t.Run(scenario, func(t *testing.T) {
			var failures []string
			var successes int
			for _, c := range results[scenario] {
				switch c.Status {
				case "SUCCESS":
					successes++
				case "FAILURE", "WARNING":
					failures = append(failures, c.Status+" "+c.Name+": "+c.ErrorMessage)
				}
			}
			ok := len(failures) == 0 && successes > 0
			if reason, isExpected := expected[scenario]; isExpected {
				require.False(t, ok, "%s passes now: remove it from the expected failures (%s)", scenario, reason)
				t.Logf("expected failure: %s\n%s", reason, strings.Join(failures, "\n"))
				return
			}
			require.Empty(t, failures, "scenario %s", scenario)
			require.Positive(t, successes, "scenario %s has no successful check", scenario)
			passed[scenario] = true
			checks += successes
		})
	}
	// The suite's own verdict against the same baseline.
	require.Zero(t, res.ExitCode, "the suite's verdict\n%s", res)

	active := 0
	for _, s := range serverScenarios() {
		if !slices.Contains(pendingScenarios(), s) && passed[s] {
			active++
		}
	}
	t.Logf("conformance 0.1.13 server scenarios: active suite %d/%d passed; with the pending ones %d/%d (%d checks passed) in %s",
		active, len(serverScenarios())-len(pendingScenarios()), len(passed), len(serverScenarios()), checks, elapsed.Round(time.Second))

	t.Run("server-sse-polling with the harness fix of conformance#366", func(t *testing.T) {
		// The scenario's raw requests declare protocol 2025-03-26, while
		// priming events (SEP-1699) are for 2025-11-25 and later: go-sdk,
		// like the TypeScript and Python SDKs, rightly sends none, so the
		// scenario cannot pass. Upstream fixed the harness to declare
		// 2025-11-25 (modelcontextprotocol/conformance#366, in 0.2.0
		// alphas only). This run applies that one fix in a proxy and
		// requires every check of the scenario, resumption included, to
		// succeed through the whole idgate chain.
		fixed := httptest.NewServer(declare20251125(tokenProxy(t, backend.URL, token)))
		t.Cleanup(fixed.Close)
		out := t.TempDir()
		res := interop.Run(t, time.Minute, nil, "conformance", "server", "--url", fixed.URL+"/mcp",
			"--scenario", "server-sse-polling", "-o", out)
		results := readConformanceResults(t, out)
		require.Equal(t, []string{"server-sse-polling"}, mapsKeys(results), "%s", res)
		status := map[string]string{}
		for _, c := range results["server-sse-polling"] {
			require.NotContains(t, []string{"FAILURE", "WARNING"}, c.Status, "%s: %s", c.Name, c.ErrorMessage)
			if c.Status == "SUCCESS" {
				status[c.ID] = c.Status
			}
		}
		require.Equal(t, map[string]string{
			"server-sse-priming-event":     "SUCCESS",
			"server-sse-retry-field":       "SUCCESS",
			"server-sse-disconnect-resume": "SUCCESS",
		}, status, "priming event, retry field, and the answer on the stream resumed with Last-Event-ID")
		require.Zero(t, res.ExitCode, "the suite's verdict\n%s", res)
		t.Logf("server-sse-polling with the fix of conformance#366: passed (%d checks)", len(status))
	})

	// The whole chain ran: the scenarios' requests were audited and
	// authenticated (none got a 401), the rebinding attempt was refused by
	// the Origin policy, and the token the proxy added never reached a log.
	events := auditLog.String()
	require.NotContains(t, events, `"status":401`)
	require.Contains(t, events, `"mcp_method":"tools/call","tool":"test_simple_text","decision":"allow","status":200`)
	require.Contains(t, events, `"decision":"deny","reason":"origin","status":403`)
	require.NotContains(t, events, token)
	require.NotContains(t, serverLog.String(), token)
}

// expectedFailuresYAML is the suite's --expected-failures baseline for
// expectedConformanceFailures.
func expectedFailuresYAML() []byte {
	b := []byte("server:\n")
	for _, s := range mapsKeys(expectedConformanceFailures()) {
		b = append(b, "  - "+s+"\n"...)
	}
	return b
}

// tokenProxy forwards every request to backend with Authorization: Bearer
// token, keeping the client's Host header (the server's DNS-rebinding check
// reads it).
func tokenProxy(t *testing.T, backend, token string) http.Handler {
	t.Helper()
	target, err := url.Parse(backend)
	require.NoError(t, err)
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		// Streams (SSE) are flushed as they come.
		FlushInterval: -1,
		// A client closing its stream is not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// recordExchanges writes a line to log when a request reaches the proxy
// and another when the proxy is done with it (status, bytes written to
// the client, duration, the first write error), so that a failing run
// shows where a lost answer was lost. Tokens are not logged: the proxy
// adds them after this.
func recordExchanges(next http.Handler, log io.Writer) http.Handler {
	var seq atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := seq.Add(1)
		rpc := ""
		if r.Body != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var m struct {
				Method string          `json:"method"`
				ID     json.RawMessage `json:"id"`
			}
			if json.Unmarshal(body, &m) == nil {
				rpc = m.Method + " id=" + string(m.ID)
			}
		}
		start := time.Now()
		fmt.Fprintf(log, "%s #%d start %s session=%q %s\n", start.Format("15:04:05.000"), n, r.Method, r.Header.Get("Mcp-Session-Id"), rpc)
		cw := &countingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		fmt.Fprintf(log, "%s #%d end %d, %d bytes to the client in %s, write error %v\n",
			time.Now().Format("15:04:05.000"), n, cw.status, cw.n, time.Since(start).Round(time.Microsecond), cw.err)
	})
}

// countingWriter counts what is written through it.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
	err    error
}

func (w *countingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the writer below (the
// reverse proxy flushes streams through it).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// declare20251125 rewrites a declared protocol version of 2025-03-26 to
// 2025-11-25: the fix of modelcontextprotocol/conformance#366 to the
// server-sse-polling scenario, whose session negotiates 2025-11-25 and
// whose raw requests declared 2025-03-26.
func declare20251125(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Protocol-Version") == "2025-03-26" {
			r.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		next.ServeHTTP(w, r)
	})
}

// scenarioDir matches the result directories the suite writes under -o:
// server-<scenario>-<ISO time with ":" and "." replaced by "-">.
var scenarioDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$`)

// readConformanceResults reads the checks of every scenario the suite ran.
func readConformanceResults(t *testing.T, dir string) map[string][]conformanceCheck {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	results := map[string][]conformanceCheck{}
	for _, e := range entries {
		m := scenarioDir.FindStringSubmatch(e.Name())
		require.NotNil(t, m, "unexpected entry %q in the results", e.Name())
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "checks.json"))
		require.NoError(t, err)
		var checks []conformanceCheck
		require.NoError(t, json.Unmarshal(b, &checks), "%s", e.Name())
		require.NotContains(t, results, m[1], "scenario %s ran twice", m[1])
		results[m[1]] = checks
	}
	return results
}

func mapsKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
