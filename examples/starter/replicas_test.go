//go:build unix

// The replica test signals processes with SIGTERM, as container platforms
// stop them: it needs a Unix.

package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/internal/interop"
)

// Bounds of the replica test: none is an assertion about speed, each only
// keeps a broken build from hanging the test.
const (
	// replicaStartLimit bounds a replica's start-up.
	replicaStartLimit = time.Minute
	// replicaExitLimit bounds the wait for a replica to exit after SIGTERM:
	// the shutdown deadline, and time to exit.
	replicaExitLimit = shutdownTimeout + 10*time.Second
)

// The replica test's settings.
const (
	// replicaAuditSalt is USER_HASH_SALT, shared by the replicas.
	replicaAuditSalt = "replica-audit-salt-0123456789abcdef"
	// replicaRate is RATE_LIMIT_PER_MIN: a request every six seconds once a
	// user's burst of ten is spent, so that a test sending a few dozen
	// requests sees each refusal where the count puts it.
	replicaRate = 10
)

// TestReplicas runs the starter as two processes on different loopback
// ports, as two replicas behind a load balancer: one PostgreSQL schema,
// one Redis prefix, STATELESS=true, one gateway signing key file, the same
// salts, and as PUBLIC_URL the load balancer in front of them (round
// robin, in the test), against one identitytest issuer. Clients send each
// request to either replica:
//
//   - go-sdk's MCP client, through the load balancer, alternates between
//     them request by request, without sessions: notes written through one
//     are read through the other, also by the TypeScript SDK's client;
//   - two users' notes stay apart, whichever replica serves them;
//   - one user's rate limit is counted once: the request after the budget
//     is refused with 429 by both;
//   - the subject hashes of the audit events are the same on both;
//   - one replica stopped with SIGTERM while notes are being added to it
//     exits 0, and every note it acknowledged with 200 is in PostgreSQL,
//     read through the other.
func TestReplicas(t *testing.T) {
	bin := buildStarter(t)
	databaseURL, db := testPostgres(t)
	redisURL, prefix := testRedis(t)
	iss := identitytest.NewIssuer(t)
	lbListener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	publicURL := "http://" + lbListener.Addr().String() + "/mcp"
	env := []string{
		"OAUTH_ISSUER=" + iss.URL(),
		"JWKS_URI=" + iss.JWKSURL(),
		"PUBLIC_URL=" + publicURL,
		"PII_SALT=" + testSalt,
		"USER_HASH_SALT=" + replicaAuditSalt,
		"DATABASE_URL=" + databaseURL,
		"REDIS_URL=" + redisURL,
		"REDIS_PREFIX=" + prefix,
		"STATELESS=true",
		"GATEWAY_SIGNING_KEY_FILE=" + writeSigningKey(t),
		fmt.Sprintf("RATE_LIMIT_PER_MIN=%d", replicaRate),
		"RATE_LIMIT_PER_IP_PER_MIN=1000000", // every request comes from 127.0.0.1
		"HOST=127.0.0.1",
		"PORT=0",
	}
	a, b := startReplica(t, bin, "a", env), startReplica(t, bin, "b", env)
	serveBalancer(t, lbListener, a, b)
	var tokens []string
	mint := func(user string) string {
		tok := iss.Mint(t, identitytest.Subject(user), identitytest.Audience(publicURL),
			identitytest.Email(user+"@example.com"), identitytest.Scopes(allScopes...))
		tokens = append(tokens, tok)
		return tok
	}
	alice, bob := mint("replica-alice"), mint("replica-bob")

	t.Run("notes written through one replica are read through the other", func(t *testing.T) {
		cs := connectTo(t, publicURL, alice)
		require.Equal(t, "2026-07-28", cs.InitializeResult().ProtocolVersion, "STATELESS speaks 2026-07-28 with go-sdk's client")
		var want []string
		for i := range 4 { // one request each, alternating
			text := fmt.Sprintf("alice's note %d", i)
			require.Equal(t, "Added note: "+text, textOf(t, callTool(t, cs, "addNote", map[string]any{"text": text})))
			want = append([]string{text}, want...) // newest first
		}
		require.Equal(t, want, noteTexts(t, structuredOf(t, callTool(t, cs, "listMyNotes", map[string]any{}))))
		require.Positive(t, a.served.Load(), "replica a served some")
		require.Positive(t, b.served.Load(), "replica b served some")
		for _, r := range []*replica{a, b} {
			require.Equal(t, want, r.listNotes(t, alice), "replica %s", r.name)
		}
	})

	t.Run("the TypeScript SDK's client, through the load balancer", func(t *testing.T) {
		erin := mint("replica-erin")
		servedA, servedB := a.served.Load(), b.served.Load()
		spec, err := json.Marshal(map[string]any{"url": publicURL, "token": erin, "steps": []map[string]any{
			{"op": "call", "name": "addNote", "args": map[string]any{"text": "from TypeScript"}},
			{"op": "call", "name": "listMyNotes"},
			{"op": "call", "name": "addNote", "args": map[string]any{"text": "again from TypeScript"}},
			{"op": "call", "name": "listMyNotes"},
		}})
		require.NoError(t, err)
		res := interop.Run(t, time.Minute, nil, "ts-client.mjs", string(spec))
		require.Zero(t, res.ExitCode, res.String())
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		require.Len(t, lines, 5, res.String())
		var texts []string
		for _, l := range lines {
			var line struct {
				Op     string `json:"op"`
				OK     bool   `json:"ok"`
				Error  string `json:"error"`
				Result struct {
					StructuredContent map[string]any `json:"structuredContent"`
				} `json:"result"`
			}
			require.NoError(t, json.Unmarshal([]byte(l), &line), l)
			require.True(t, line.OK, "%s: %s", line.Op, line.Error)
			if notes, ok := line.Result.StructuredContent["notes"]; ok {
				texts = noteTexts(t, map[string]any{"notes": notes})
			}
		}
		require.Equal(t, []string{"again from TypeScript", "from TypeScript"}, texts)
		require.Greater(t, a.served.Load(), servedA, "replica a served the TypeScript client")
		require.Greater(t, b.served.Load(), servedB, "replica b served the TypeScript client")
	})

	t.Run("two users stay apart", func(t *testing.T) {
		res := b.call(t, bob, "addNote", `{"text":"bob's note"}`)
		require.Equal(t, 200, res.status, res.raw)
		require.Equal(t, []string{"bob's note"}, a.listNotes(t, bob))
		require.NotContains(t, a.listNotes(t, alice), "bob's note")
		res = a.call(t, bob, "crmAttemptCrossUserRead", `{"targetUser":"replica-alice"}`)
		require.Equal(t, 403, res.status, res.raw)
	})

	t.Run("one user's rate limit holds across both", func(t *testing.T) {
		carol, dave := mint("replica-carol"), mint("replica-dave")
		for i := range replicaRate {
			res := []*replica{a, b}[i%2].call(t, carol, "echo", `{"message":"hi"}`)
			require.Equal(t, 200, res.status, "request %d: %s", i+1, res.raw)
		}
		for _, r := range []*replica{a, b} {
			res := r.call(t, carol, "echo", `{"message":"hi"}`)
			require.Equal(t, 429, res.status, "replica %s: %s", r.name, res.raw)
			require.NotEmpty(t, res.header.Get("Retry-After"))
		}
		// Over MCP too: the budget is the same.
		res := doHTTP(t, "POST", a.base+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			append(auth(carol), "Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", "2025-11-25")...)
		require.Equal(t, 429, res.status, res.raw)
		res = b.call(t, dave, "echo", `{"message":"hi"}`)
		require.Equal(t, 200, res.status, "another user's budget is their own: %s", res.raw)
	})

	t.Run("audit subject hashes are the same on every replica", func(t *testing.T) {
		m := hmac.New(sha256.New, []byte(replicaAuditSalt))
		m.Write([]byte("replica-alice"))
		hashed := hex.EncodeToString(m.Sum(nil)[:16])
		for _, r := range []*replica{a, b} {
			require.Contains(t, auditSubjects(t, r.logs.String()), hashed, "replica %s", r.name)
		}
	})

	t.Run("SIGTERM mid-load loses no acknowledged write", func(t *testing.T) {
		acked := a.addNotesUntilStopped(t, mint)
		require.Positive(t, len(acked))
		// Every note a acknowledged is in PostgreSQL, read through b.
		for token, texts := range acked {
			got := b.listNotes(t, token)
			for _, text := range texts {
				require.Contains(t, got, text)
			}
		}
		var stored int
		require.NoError(t, db.QueryRow(context.Background(), "SELECT count(*) FROM notes WHERE text LIKE 'load %'").Scan(&stored))
		total := 0
		for _, texts := range acked {
			total += len(texts)
		}
		require.GreaterOrEqual(t, stored, total)
		t.Logf("%d notes acknowledged by the stopped replica, %d stored (requests cut off by the shutdown may be stored unacknowledged)", total, stored)
	})

	for _, r := range []*replica{a, b} {
		for _, tok := range tokens {
			require.NotContains(t, r.logs.String(), tok, "replica %s logged a token", r.name)
		}
		require.NotContains(t, r.logs.String(), `"replica-alice"`, "replica %s logged a raw subject", r.name)
		require.NotContains(t, r.logs.String(), databaseURL, "replica %s logged DATABASE_URL", r.name)
	}
}

// buildStarter builds the starter's binary once for the test (with -race
// when the test runs with it).
func buildStarter(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the starter's binary")
	bin := filepath.Join(t.TempDir(), "starter")
	args := append(append([]string{"build"}, starterBuildFlags...), "-o", bin, ".")
	out, err := exec.Command(goTool, args...).CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// writeSigningKey writes a new P-256 private key to a PEM file: the
// GATEWAY_SIGNING_KEY_FILE every replica shares.
func writeSigningKey(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "gateway-key.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	return path
}

// replica is one starter process.
type replica struct {
	name string
	cmd  *exec.Cmd
	// addr is where it listens (127.0.0.1:port); base is http://addr.
	addr, base string
	// logs is its stderr.
	logs *syncBuffer
	// exited receives what cmd.Wait returns.
	exited chan error
	// served counts the requests the load balancer sent it.
	served atomic.Int64
}

// startReplica starts the binary as replica name with env (and nothing
// else: no .env, no inherited variable) and returns once it printed its
// ready line. It is stopped with SIGTERM when the test ends.
func startReplica(t *testing.T, bin, name string, env []string) *replica {
	t.Helper()
	r := &replica{name: name, logs: &syncBuffer{}, exited: make(chan error, 1)}
	r.cmd = exec.Command(bin)
	r.cmd.Dir = t.TempDir()
	r.cmd.Env = env
	r.cmd.Stderr = r.logs
	pr, pw := io.Pipe()
	r.cmd.Stdout = pw
	require.NoError(t, r.cmd.Start())
	go func() {
		err := r.cmd.Wait()
		pw.Close()
		r.exited <- err
	}()
	t.Cleanup(func() { r.stop(t) })

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "starter: ready "); ok {
				for _, f := range strings.Fields(rest) {
					if v, ok := strings.CutPrefix(f, "listen="); ok {
						ready <- v
					}
				}
			}
		}
		close(ready)
	}()
	select {
	case addr, ok := <-ready:
		require.True(t, ok, "replica %s ended before it was ready:\n%s", name, r.logs)
		r.addr, r.base = addr, "http://"+addr
	case <-time.After(replicaStartLimit):
		r.cmd.Process.Kill()
		t.Fatalf("replica %s not ready after %v:\n%s", name, replicaStartLimit, r.logs)
	}
	return r
}

// stop sends SIGTERM, unless the process already ended, and waits for it
// to exit (killing it past replicaExitLimit).
func (r *replica) stop(t *testing.T) {
	if r.cmd.ProcessState != nil {
		return
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return // already gone
	}
	select {
	case <-r.exited:
	case <-time.After(replicaExitLimit):
		r.cmd.Process.Kill()
		t.Errorf("replica %s did not exit after SIGTERM:\n%s", r.name, r.logs)
	}
}

// call calls tool over REST on this replica with token.
func (r *replica) call(t *testing.T, token, tool, body string) response {
	t.Helper()
	return doHTTP(t, "POST", r.base+"/tools/"+tool, body, auth(token)...)
}

// listNotes returns the texts of the token's user's notes, newest first,
// read through this replica.
func (r *replica) listNotes(t *testing.T, token string) []string {
	t.Helper()
	res := r.call(t, token, "listMyNotes", "")
	require.Equal(t, 200, res.status, res.raw)
	return noteTexts(t, res.body["data"].(map[string]any))
}

// noteTexts returns the texts of a listMyNotes answer's notes.
func noteTexts(t *testing.T, answer map[string]any) []string {
	t.Helper()
	notes, ok := answer["notes"].([]any)
	require.True(t, ok, "%v", answer)
	texts := []string{}
	for _, n := range notes {
		texts = append(texts, n.(map[string]any)["text"].(string))
	}
	return texts
}

// Bounds of the load addNotesUntilStopped puts on a replica.
const (
	// loadWorkers is how many clients add notes at once.
	loadWorkers = 4
	// loadPerUser is how many notes each load user adds: well within
	// replicaRate, so that the load is never refused for its rate and the
	// user can still list the notes afterwards.
	loadPerUser = 5
	// loadMaxRequests bounds the requests of the whole load.
	loadMaxRequests = 400
	// loadBeforeSignal is how many notes the replica acknowledges before
	// it gets SIGTERM.
	loadBeforeSignal = 20
	// heldAtSignal is how many note requests are held in flight, the
	// replica waiting for their bodies, when it gets SIGTERM.
	heldAtSignal = 2
)

// addNotesUntilStopped has loadWorkers clients add notes on r over REST,
// each request for the next load user (loadPerUser each, tokens from
// mint), and keeps adding until r refuses connections. Once r acknowledged
// loadBeforeSignal notes, heldAtSignal more requests are held in flight
// (r has started them and waits for their bodies), r gets SIGTERM, and
// when r no longer accepts connections the held bodies are sent: r must
// still answer them 200. It checks that r exits 0, which it does only when
// its shutdown finished every request in flight within shutdownTimeout,
// and returns the texts of the notes acknowledged with 200, by token.
func (r *replica) addNotesUntilStopped(t *testing.T, mint func(user string) string) map[string][]string {
	t.Helper()
	users := make([]string, loadMaxRequests/loadPerUser)
	for i := range users {
		users[i] = mint(fmt.Sprintf("replica-load-%d", i))
	}
	var (
		next      atomic.Int64
		mu        sync.Mutex
		acked     = map[string][]string{}
		ackCount  int
		signal    = make(chan struct{})
		signalled sync.Once
		failures  = make([]error, loadWorkers)
		wg        sync.WaitGroup
	)
	client := &http.Client{Timeout: replicaExitLimit}
	for w := range loadWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= loadMaxRequests {
					failures[w] = errors.New("the replica still accepted requests after the whole load")
					return
				}
				tok, text := users[i/loadPerUser], fmt.Sprintf("load %d", i)
				ok, err := addNote(client, r.base, tok, text)
				if err != nil {
					return // stopped: connection refused or cut
				}
				if !ok {
					failures[w] = fmt.Errorf("note %d refused while the replica was up", i)
					return
				}
				mu.Lock()
				acked[tok] = append(acked[tok], text)
				ackCount++
				if ackCount == loadBeforeSignal {
					signalled.Do(func() { close(signal) })
				}
				mu.Unlock()
			}
		})
	}

	select {
	case <-signal:
	case err := <-r.exited:
		t.Fatalf("replica %s exited under load: %v\n%s", r.name, err, r.logs)
	}
	held := make([]*heldNote, heldAtSignal)
	for i := range held {
		held[i] = r.holdNote(t, mint(fmt.Sprintf("replica-held-%d", i)), fmt.Sprintf("load held %d", i))
	}
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	start := time.Now()
	r.waitRefusing(t)
	for _, h := range held {
		close(h.release)
	}
	for _, h := range held {
		require.NoError(t, <-h.done, "a request in flight at SIGTERM is answered 200")
		mu.Lock()
		acked[h.token] = append(acked[h.token], h.text)
		mu.Unlock()
	}
	select {
	case err := <-r.exited:
		require.NoError(t, err, "replica %s exits 0 after SIGTERM:\n%s", r.name, r.logs)
		t.Logf("replica %s exited %v after SIGTERM", r.name, time.Since(start).Round(time.Millisecond))
	case <-time.After(replicaExitLimit):
		r.cmd.Process.Kill()
		t.Fatalf("replica %s still running %v after SIGTERM:\n%s", r.name, replicaExitLimit, r.logs)
	}
	wg.Wait()
	for _, err := range failures {
		require.NoError(t, err)
	}
	logs := r.logs.String()
	require.Contains(t, logs, "shutting down: finishing requests in flight")
	require.Contains(t, logs, `"msg":"stopped"`)
	require.NotContains(t, logs, "shutdown: closing", "the store and Redis closed cleanly")
	return acked
}

// heldNote is an addNote request held in flight: the replica has read its
// headers and waits for its body, which is sent when release is closed.
type heldNote struct {
	token, text string
	release     chan struct{}
	// done receives nil when the replica answered 200.
	done chan error
}

// holdNote starts an addNote request on r and returns once r's handler is
// reading its body: the request says "Expect: 100-continue", and r's
// server sends "100 Continue" when the handler first reads the body.
func (r *replica) holdNote(t *testing.T, token, text string) *heldNote {
	t.Helper()
	h := &heldNote{token: token, text: text, release: make(chan struct{}), done: make(chan error, 1)}
	body, err := json.Marshal(map[string]string{"text": text})
	require.NoError(t, err)
	reading := make(chan struct{})
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got100Continue: func() { close(reading) }})
	req, err := http.NewRequestWithContext(ctx, "POST", r.base+"/tools/addNote", &heldBody{release: h.release, body: strings.NewReader(string(body))})
	require.NoError(t, err)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: replicaExitLimit}, Timeout: 2 * replicaExitLimit}
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			h.done <- err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		switch {
		case err != nil:
			h.done <- err
		case resp.StatusCode != http.StatusOK:
			h.done <- fmt.Errorf("status %d: %s", resp.StatusCode, b)
		default:
			h.done <- nil
		}
	}()
	select {
	case <-reading:
	case err := <-h.done:
		t.Fatalf("held note ended before the replica read it: %v", err)
	case <-time.After(replicaStartLimit):
		t.Fatalf("replica %s never started reading a held note", r.name)
	}
	return h
}

// heldBody is a request body that yields nothing until release is closed.
type heldBody struct {
	release chan struct{}
	body    io.Reader
}

func (b *heldBody) Read(p []byte) (int, error) {
	<-b.release
	return b.body.Read(p)
}

// waitRefusing returns once r refuses connections: its listener is closed,
// so the shutdown has begun.
func (r *replica) waitRefusing(t *testing.T) {
	t.Helper()
	for range replicaExitLimit / (10 * time.Millisecond) {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("replica %s still accepts connections %v after SIGTERM", r.name, replicaExitLimit)
}

// addNote adds a note over REST: ok reports a 200, err a request that got
// no answer at all.
func addNote(client *http.Client, base, token, text string) (ok bool, err error) {
	body, _ := json.Marshal(map[string]string{"text": text})
	req, err := http.NewRequest("POST", base+"/tools/addNote", strings.NewReader(string(body)))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return false, err // the answer was cut: not acknowledged
	}
	return resp.StatusCode == http.StatusOK, nil
}

// auditSubjects returns the subject hashes of the audit events in logs.
func auditSubjects(t *testing.T, logs string) []string {
	t.Helper()
	var subs []string
	for line := range strings.Lines(logs) {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) != nil || ev["msg"] != "audit" {
			continue
		}
		if s, ok := ev["sub"].(string); ok && !slices.Contains(subs, s) {
			subs = append(subs, s)
		}
	}
	return subs
}

// serveBalancer serves on ln the load balancer in front of the replicas:
// a reverse proxy that sends each request to the next replica in turn,
// keeping the Host the client asked for, and counts them in served. It
// stops when the test ends.
func serveBalancer(t *testing.T, ln net.Listener, replicas ...*replica) {
	var next atomic.Uint64
	srv := &http.Server{
		Handler: &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			r := replicas[(next.Add(1)-1)%uint64(len(replicas))]
			r.served.Add(1)
			pr.SetURL(&url.URL{Scheme: "http", Host: r.addr})
			pr.Out.Host = pr.In.Host
		}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed
	t.Cleanup(func() { srv.Close() })
}

// connectTo opens a go-sdk client session at mcpURL with token.
func connectTo(t *testing.T, mcpURL, token string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "replica-test", Version: "1.0.0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             mcpURL,
		HTTPClient:           &http.Client{Transport: bearer{token: token, base: http.DefaultTransport}},
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { cs.Close() })
	return cs
}
