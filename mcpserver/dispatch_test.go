package mcpserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// errReleased is what the tool "wait" reports when released.
var errReleased = errors.New("released")

// addWaitTool adds the tool "wait", which reports that it started and
// then waits for its context to end or release (at most a minute), and
// reports which.
func addWaitTool(srv *mcpserver.Server, started chan<- struct{}, release <-chan struct{}, ended chan<- error) {
	mcpserver.AddTool(srv, &mcp.Tool{Name: "wait", Description: "waits for its context"}, scopes.Public(),
		func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
			started <- struct{}{}
			select {
			case <-ctx.Done():
				ended <- ctx.Err()
			case <-release:
				ended <- errReleased
			case <-time.After(time.Minute):
				ended <- errors.New("neither cancelled nor released")
			}
			return nil, summaryOut{Total: 1}, nil
		})
}

// TestDispatchedCallCancelled: the context of a tool whose call was
// dispatched ends when the client cancels the call (notifications/cancelled,
// which go-sdk's client sends when the caller's context ends); on both
// transports.
func TestDispatchedCallCancelled(t *testing.T) {
	for _, mode := range bothTransports {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			started, ended := make(chan struct{}, 1), make(chan error, 1)
			addWaitTool(e.srv, started, nil, ended)
			cs, _ := e.connect(e.alice)
			before := mcpserver.DispatchedCalls(e.srv)

			// The client cancels.
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "wait", Arguments: map[string]any{}})
				done <- err
			}()
			<-started
			cancel()
			require.ErrorIs(t, <-done, context.Canceled)
			require.ErrorIs(t, <-ended, context.Canceled, "the tool's context ends with the client's cancellation")

			if mode.opts == nil {
				assert.Equal(t, before+1, mcpserver.DispatchedCalls(e.srv), "the call was dispatched")
			}
		})
	}
}

// TestDispatchedCallOutlivesRequest: a dispatched call whose client goes
// away runs on, as go-sdk's do on a stateful server (its context is the
// session's, not the request's), the session serves the next call, and
// its end (DELETE) waits for the call to return, as go-sdk's
// ServerSession.Close does, without cancelling it.
func TestDispatchedCallOutlivesRequest(t *testing.T) {
	for _, mode := range bothTransports {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			started, release, ended := make(chan struct{}, 1), make(chan struct{}), make(chan error, 1)
			addWaitTool(e.srv, started, release, ended)
			sid := e.session(e.alice)
			before := mcpserver.DispatchedCalls(e.srv)
			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.http.URL+"/mcp",
				strings.NewReader(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"wait","arguments":{}}}`))
			require.NoError(t, err)
			for k, v := range map[string]string{
				"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
				"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18", "Authorization": "Bearer " + e.alice,
			} {
				req.Header.Set(k, v)
			}
			go func() {
				if resp, err := e.http.Client().Do(req); err == nil {
					resp.Body.Close()
				}
			}()
			<-started
			cancel()
			select {
			case err := <-ended:
				t.Fatalf("the tool's context ended with its HTTP request: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
			// The session still answers, and its end ends the call.
			r := e.do(http.MethodPost, "/mcp", callBody(6, "whoami"),
				"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer "+e.alice)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			assert.Contains(t, r.Body, `"subject":"alice"`)
			deleted := make(chan rawResponse, 1)
			go func() {
				deleted <- e.do(http.MethodDelete, "/mcp", "", "Mcp-Session-Id", sid, "Authorization", "Bearer "+e.alice)
			}()
			select {
			case r := <-deleted:
				t.Fatalf("DELETE answered before the call returned: %d %s", r.Status, r.Body)
			case err := <-ended:
				t.Fatalf("the tool's context ended with its session: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
			close(release)
			require.ErrorIs(t, <-ended, errReleased)
			r = <-deleted
			require.Equal(t, http.StatusNoContent, r.Status, r.Body)
			if mode.opts == nil {
				assert.Equal(t, before+2, mcpserver.DispatchedCalls(e.srv))
			}
		})
	}
}

// TestDispatchKeepsProgramMiddleware: receiving middleware a program adds
// to the go-sdk server wraps idgate's, and sees every tools/call: added
// before serving, no call is dispatched past it; added after some were,
// none is from the next message that goes through a session (here the
// next session's initialize) on. Stateful and stateless.
func TestDispatchKeepsProgramMiddleware(t *testing.T) {
	counting := func(n *atomic.Int64) mcp.Middleware {
		return func(next mcp.MethodHandler) mcp.MethodHandler {
			return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
				if method == "tools/call" {
					n.Add(1)
				}
				return next(ctx, method, req)
			}
		}
	}
	call := func(t *testing.T, cs *mcp.ClientSession) {
		t.Helper()
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
		require.NoError(t, err)
		require.False(t, res.IsError)
	}

	// Raw calls to a stateless server, which the stateless direct path
	// answers (go-sdk's client speaks 2026-07-28 to such a server, which
	// go-sdk's handler serves).
	rawCall := func(t *testing.T, e *env, body string) {
		t.Helper()
		a := exchangeStateless(e.with(t), directCase{body: body})
		require.Equal(t, http.StatusOK, a.Status, a.Body)
		require.Contains(t, a.Body, `"subject":"alice"`)
	}

	t.Run("before serving", func(t *testing.T) {
		e := newEnv(t)
		var seen atomic.Int64
		e.srv.MCPServer().AddReceivingMiddleware(counting(&seen))
		cs, _ := e.connect(e.alice)
		for range 3 {
			call(t, cs)
		}
		assert.EqualValues(t, 3, seen.Load())
		assert.Zero(t, mcpserver.DispatchedCalls(e.srv))
		assert.False(t, mcpserver.DispatchOn(e.srv))
	})

	t.Run("stateless, before serving", func(t *testing.T) {
		e := newEnv(t, stateless)
		var seen atomic.Int64
		e.srv.MCPServer().AddReceivingMiddleware(counting(&seen))
		for i := range 3 {
			rawCall(t, e, callBody(i+1, "whoami"))
		}
		assert.EqualValues(t, 3, seen.Load())
		assert.Zero(t, mcpserver.DispatchedCalls(e.srv))
		assert.False(t, mcpserver.DispatchOn(e.srv))
	})

	t.Run("after serving", func(t *testing.T) {
		e := newEnv(t)
		first, _ := e.connect(e.alice)
		call(t, first)
		require.EqualValues(t, 1, mcpserver.DispatchedCalls(e.srv))
		var seen atomic.Int64
		e.srv.MCPServer().AddReceivingMiddleware(counting(&seen))
		second, _ := e.connect(e.alice)
		call(t, first)
		call(t, second)
		assert.EqualValues(t, 2, seen.Load())
		assert.EqualValues(t, 1, mcpserver.DispatchedCalls(e.srv))
		assert.False(t, mcpserver.DispatchOn(e.srv))
	})

	t.Run("stateless, after serving", func(t *testing.T) {
		e := newEnv(t, stateless)
		warmDispatch(t, e)
		rawCall(t, e, callBody(1, "whoami"))
		require.EqualValues(t, 1, mcpserver.DispatchedCalls(e.srv))
		var seen atomic.Int64
		e.srv.MCPServer().AddReceivingMiddleware(counting(&seen))
		// A message that goes through a session: a ping.
		exchangeStateless(e.with(t), directCase{body: `{"jsonrpc":"2.0","id":2,"method":"ping"}`})
		rawCall(t, e, callBody(3, "whoami"))
		assert.EqualValues(t, 1, seen.Load())
		assert.EqualValues(t, 1, mcpserver.DispatchedCalls(e.srv))
		assert.False(t, mcpserver.DispatchOn(e.srv))
	})
}

// TestDispatchedCallStreams: what a dispatched call's handler sends in its
// context reaches the client while the handler runs, not with its
// response: the tool here logs, then waits until the client has the log
// message before it answers. On both transports, through go-sdk's client.
func TestDispatchedCallStreams(t *testing.T) {
	for _, mode := range bothTransports {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			got := make(chan struct{}, 1)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "stream", Description: "logs, then waits for the client to have it"}, scopes.Public(),
				func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
					//lint:ignore SA1019 logging is deprecated by 2026-07-28 but served to older clients; it is the simplest message related to a call
					if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "first"}); err != nil {
						return nil, summaryOut{}, err
					}
					select {
					case <-got:
						return nil, summaryOut{Total: 1}, nil
					case <-time.After(5 * time.Second):
						return nil, summaryOut{}, errors.New("the client did not get the log message while the call ran")
					}
				})
			client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, &mcp.ClientOptions{
				//lint:ignore SA1019 as above
				LoggingMessageHandler: func(context.Context, *mcp.LoggingMessageRequest) { got <- struct{}{} },
			})
			cs := e.connectWith(client, e.alice)
			//lint:ignore SA1019 as above
			require.NoError(t, cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "debug"}))
			before := mcpserver.DispatchedCalls(e.srv)
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "stream", Arguments: map[string]any{}})
			require.NoError(t, err)
			require.False(t, res.IsError, "%+v", res.Content)
			if mode.opts == nil {
				assert.Equal(t, before+1, mcpserver.DispatchedCalls(e.srv), "the call was dispatched")
			}
		})
	}
}

// TestDispatchedCallPanics: a tool that panics in a dispatched call ends
// that call's request (the audit middleware recovers the panic, logs it
// and aborts the response), not the process, and leaves its session
// usable and closable: the call is no longer counted as running, and its
// id may be used again.
func TestDispatchedCallPanics(t *testing.T) {
	e := newEnv(t, func(c *mcpserver.Config) { c.RateLimit.Disabled = true })
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "boom", Description: "panics"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
			panic("boom")
		})
	sid := e.session(e.alice)
	h := []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer " + e.alice}
	req, err := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", strings.NewReader(callBody(9, "boom")))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	if resp, err := e.http.Client().Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.NotContains(t, string(b), `"result"`, "no answer from a call that panicked")
	}
	require.EqualValues(t, 1, mcpserver.DispatchedCalls(e.srv))
	// The audit middleware recovered it: logged with its stack, the
	// request's event says so.
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), `"msg":"panic recovered"`) }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		for _, ev := range e.logs.events(t) {
			if ev["tool"] == "boom" && ev["decision"] == "error" && ev["reason"] == "panic" {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the call's audit event")
	// The same id again, on the same session.
	r := e.do(http.MethodPost, "/mcp", callBody(9, "whoami"), h...)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Contains(t, r.Body, `"subject":"alice"`)
	// The session closes: nothing is left running.
	deleted := make(chan rawResponse, 1)
	go func() { deleted <- e.do(http.MethodDelete, "/mcp", "", h...) }()
	select {
	case r := <-deleted:
		require.Equal(t, http.StatusNoContent, r.Status, r.Body)
	case <-time.After(5 * time.Second):
		t.Fatal("DELETE waits for a call that panicked")
	}
}

// TestStatelessDispatchedCallPanics: the same on a stateless server: the
// panic is recovered and logged, and the server answers the next call.
func TestStatelessDispatchedCallPanics(t *testing.T) {
	e := newEnv(t, stateless)
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "boom", Description: "panics"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
			panic("boom")
		})
	warmDispatch(t, e)
	a := exchangeStateless(e.with(t), directCase{body: callBody(2, "boom")})
	assert.NotContains(t, a.Body, `"result"`, "no answer from a call that panicked")
	require.EqualValues(t, 1, mcpserver.DispatchedCalls(e.srv))
	require.Eventually(t, func() bool { return strings.Contains(e.logs.String(), `"msg":"panic recovered"`) }, 5*time.Second, 10*time.Millisecond)
	a = exchangeStateless(e.with(t), directCase{body: callBody(3, "whoami")})
	require.Equal(t, http.StatusOK, a.Status, a.Body)
	assert.Contains(t, a.Body, `"subject":"alice"`)
}

// TestHandlerPanicOnGoSDKGoroutine: a tool that panics in a goroutine of
// go-sdk's (a stateless server's first call, before any message has gone
// go-sdk's way; go-sdk's transport; JSON answers on sessions) gets the
// client JSON-RPC's internal error and ends neither the process nor the
// server: the panic is logged redacted and audited, and the next call is
// answered. Without idgate's recovery the test binary dies.
func TestHandlerPanicOnGoSDKGoroutine(t *testing.T) {
	for _, mode := range []struct {
		name     string
		stateful bool
		opts     []envOption
	}{
		{"stateless, first call", false, []envOption{stateless}},
		{"stateless JSON, first call", false, []envOption{stateless, jsonResponse}},
		{"go-sdk transport", true, []envOption{goSDKTransport}},
		{"stateful JSON", true, []envOption{jsonResponse}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "boom", Description: "panics"}, scopes.Public(),
				func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
					panic("boom with " + e.alice + " " + strings.Repeat("x", 5000))
				})
			var h []string
			if mode.stateful {
				h = []string{"Mcp-Session-Id", e.session(e.alice)}
			}
			h = append(h, "Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer "+e.alice)
			r := e.do(http.MethodPost, "/mcp", callBody(2, "boom"), h...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Contains(t, r.Body, `"error":{"code":-32603,"message":"internal error"}`)
			require.NotContains(t, r.Body, "boom with")
			r = e.do(http.MethodPost, "/mcp", callBody(3, "whoami"), h...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Contains(t, r.Body, `"subject":"alice"`)
			logs := e.logs.String()
			require.Contains(t, logs, `"msg":"mcpserver: handler panicked"`)
			require.Contains(t, logs, `boom with [redacted]`)
			require.NotContains(t, logs, e.alice)
			for _, line := range strings.Split(logs, "\n") {
				if !strings.Contains(line, `"msg":"mcpserver: handler panicked"`) {
					continue
				}
				var ev map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &ev))
				require.LessOrEqual(t, len(ev["panic"].(string)), 1<<10+len("…"), "the panic message is bounded")
			}
			found := false
			for _, ev := range e.logs.events(t) {
				if ev["tool"] == "boom" && ev["decision"] == "error" && ev["reason"] == "panic" {
					found = true
				}
			}
			require.True(t, found, "the call's audit event")
		})
	}
}

// TestDispatchedCallLateMessages: messages a dispatched call's handler
// sends from another goroutine while and after it answers are written in
// turn with its response, or refused once the call is over, never written
// after the request is done (run with -race). On both transports, stateful
// and stateless.
func TestDispatchedCallLateMessages(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []envOption
	}{{"direct", nil}, {"gosdk", []envOption{goSDKTransport}}, {"stateless", []envOption{stateless}}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, append(mode.opts, func(c *mcpserver.Config) { c.RateLimit.Disabled = true })...)
			var wg sync.WaitGroup
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "late", Description: "logs from another goroutine"}, scopes.Public(),
				func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range 50 {
							//lint:ignore SA1019 logging is deprecated by 2026-07-28 but served to older clients; it is the simplest message related to a call
							_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "late"})
						}
					}()
					return nil, summaryOut{Total: 1}, nil
				})
			if mode.name == "stateless" {
				warmDispatch(t, e)
			}
			h := []string{"Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer " + e.alice}
			if mode.name != "stateless" {
				// A session, whose client asks for log messages (a
				// stateless session sends them from "info" on).
				h = append(h, "Mcp-Session-Id", e.session(e.alice))
				r := e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":99,"method":"logging/setLevel","params":{"level":"debug"}}`, h...)
				require.Equal(t, http.StatusOK, r.Status, r.Body)
			}
			logged := 0
			for i := range 20 {
				r := e.do(http.MethodPost, "/mcp", callBody(100+i, "late"), h...)
				require.Equal(t, http.StatusOK, r.Status, r.Body)
				require.Contains(t, r.Body, `"total":1`)
				// The response is the stream's last event: nothing after it.
				events := strings.Split(strings.TrimSpace(r.Body), "\n\n")
				require.Contains(t, events[len(events)-1], `"result"`, r.Body)
				logged += strings.Count(r.Body, `"method":"notifications/message"`)
			}
			wg.Wait()
			t.Logf("%d log messages written with the responses", logged)
		})
	}
}
