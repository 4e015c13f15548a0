package mcpserver_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// openGETStream opens the session's standalone SSE stream and returns the
// data of its events as they come, until the test ends.
func (e *env) openGETStream(sid string) <-chan string {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+"/mcp", nil)
	require.NoError(e.t, err)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	req.Header.Set("Authorization", "Bearer "+e.alice)
	resp, err := e.http.Client().Do(req)
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	data := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		defer close(data)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				data <- d
			}
		}
	}()
	return data
}

// TestCallMessagesAfterItsStreamRefused: what a tool sends in its call's
// context once the call's stream is over (closed by the handler with
// CloseSSEStream, or ended by the response) is refused, as go-sdk's
// transport refuses it ("rejected by transport"), and never reaches the
// session's standalone GET stream: on both transports, the dispatched
// call's as the session's.
func TestCallMessagesAfterItsStreamRefused(t *testing.T) {
	for _, mode := range bothTransports {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			type logged struct {
				ss  *mcp.ServerSession
				ctx context.Context
				err error
			}
			after := make(chan logged, 1)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "closeThenLog", Description: "closes its stream, then logs"}, scopes.Public(),
				func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
					req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{})
					//lint:ignore SA1019 logging is deprecated by 2026-07-28 but served to older clients; it is the simplest message related to a call
					err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "after close"})
					after <- logged{ss: req.Session, ctx: ctx, err: err}
					return nil, summaryOut{Total: 1}, nil
				})
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "keepCtx", Description: "answers, leaving its context to the test"}, scopes.Public(),
				func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
					after <- logged{ss: req.Session, ctx: ctx}
					return nil, summaryOut{Total: 1}, nil
				})
			sid := e.session(e.alice)
			h := []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer " + e.alice}
			r := e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"debug"}}`, h...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			get := e.openGETStream(sid)
			before := mcpserver.DispatchedCalls(e.srv)

			// Closed by the handler.
			r = e.do(http.MethodPost, "/mcp", callBody(3, "closeThenLog"), h...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			assert.NotContains(t, r.Body, "after close")
			closed := <-after
			assert.Error(t, closed.err, "a message for a closed stream is refused")

			// Ended by the response: the handler's context, used after.
			r = e.do(http.MethodPost, "/mcp", callBody(4, "keepCtx"), h...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			answered := <-after
			//lint:ignore SA1019 as above
			err := answered.ss.Log(answered.ctx, &mcp.LoggingMessageParams{Level: "info", Data: "after answer"})
			assert.Error(t, err, "a message for an answered call is refused")

			// A message outside any call goes on the GET stream; nothing
			// came there before it.
			//lint:ignore SA1019 as above
			require.NoError(t, closed.ss.Log(context.Background(), &mcp.LoggingMessageParams{Level: "info", Data: "marker"}))
			timeout := time.After(10 * time.Second)
			for done := false; !done; {
				select {
				case d, ok := <-get:
					require.True(t, ok, "the GET stream ended")
					assert.NotContains(t, d, "after", "a call's message on the standalone stream")
					done = strings.Contains(d, "marker")
				case <-timeout:
					t.Fatal("no marker on the GET stream")
				}
			}
			if mode.opts == nil {
				assert.Equal(t, before+2, mcpserver.DispatchedCalls(e.srv), "the calls were dispatched")
			}
		})
	}
}

// TestCallMessagesAfterClientGoneRefused: once a call's client has gone
// away (its HTTP request's context ended), what the tool then sends in the
// call's context is refused at once, as go-sdk's transport refuses it
// once it has let the request go: an elicitation is not written to the
// dead connection, to wait for an answer that cannot come. On both
// transports.
func TestCallMessagesAfterClientGoneRefused(t *testing.T) {
	for _, mode := range bothTransports {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			gone, served, ready := make(chan struct{}), make(chan struct{}), make(chan struct{})
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Watch") != "" {
					go func() { <-r.Context().Done(); close(gone) }()
					defer close(served)
				}
				e.srv.Handler().ServeHTTP(w, r)
			}))
			t.Cleanup(hs.Close)
			started, elicited := make(chan struct{}), make(chan error, 1)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "askLate", Description: "asks once its client is gone"}, scopes.Public(),
				func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
					close(started)
					<-ready
					ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
					defer cancel()
					_, err := req.Session.Elicit(ectx, &mcp.ElicitParams{
						Message:         "still there?",
						RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{}},
					})
					elicited <- err
					return nil, summaryOut{Total: 1}, nil
				})
			// A session whose client can answer elicitations.
			init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"elicitation":{}},"clientInfo":{"name":"raw","version":"1"}}}`
			r := e.do(http.MethodPost, "/mcp", init, bearer(e.alice)...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			sid := r.Header.Get("Mcp-Session-Id")
			h := []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer " + e.alice}
			r = e.do(http.MethodPost, "/mcp", initializedMsg, h...)
			require.Equal(t, http.StatusAccepted, r.Status, r.Body)
			before := mcpserver.DispatchedCalls(e.srv)

			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/mcp", strings.NewReader(callBody(2, "askLate")))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("X-Watch", "1")
			for i := 0; i+1 < len(h); i += 2 {
				req.Header.Set(h[i], h[i+1])
			}
			go func() {
				if resp, err := hs.Client().Do(req); err == nil {
					resp.Body.Close()
				}
			}()
			<-started
			cancel()
			<-gone
			if mode.opts != nil {
				// go-sdk's transport lets the request go once its handler
				// (for the call's stream) has returned.
				<-served
			}
			close(ready)
			err = <-elicited
			require.Error(t, err)
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "the elicitation waited for an answer from a client gone")
			if mode.opts == nil {
				assert.Equal(t, before+1, mcpserver.DispatchedCalls(e.srv), "the call was dispatched")
			}
		})
	}
}

// TestCallIDInFlightAfterClientGone: a call whose client went away is
// still in flight on its session until its handler answers, as under
// go-sdk: the same id again is refused as a duplicate (400), not handed
// to the session to go unanswered. The call is handed to the session
// (program middleware wraps idgate's, so none is dispatched). On both
// transports.
func TestCallIDInFlightAfterClientGone(t *testing.T) {
	for _, mode := range bothTransports {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			e.srv.MCPServer().AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
				return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
					return next(ctx, method, req)
				}
			})
			served := make(chan struct{})
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Watch") != "" {
					defer close(served)
				}
				e.srv.Handler().ServeHTTP(w, r)
			}))
			t.Cleanup(hs.Close)
			started, release, ended := make(chan struct{}, 1), make(chan struct{}), make(chan error, 1)
			addWaitTool(e.srv, started, release, ended)
			defer func() {
				close(release)
				<-ended
			}()
			sid := e.session(e.alice)
			h := []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18", "Authorization", "Bearer " + e.alice}
			post := func(ctx context.Context, body string, watch bool) (*http.Response, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, hs.URL+"/mcp", strings.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				if watch {
					req.Header.Set("X-Watch", "1")
				}
				for i := 0; i+1 < len(h); i += 2 {
					req.Header.Set(h[i], h[i+1])
				}
				return hs.Client().Do(req)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				if resp, err := post(ctx, callBody(5, "wait"), true); err == nil {
					resp.Body.Close()
				}
			}()
			<-started
			cancel()
			<-served // the server has let the request go

			// The same id, while the first call runs.
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := post(ctx, callBody(5, "whoami"), false)
			require.NoError(t, err, "no answer to a call reusing an id in flight")
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err, "no answer to a call reusing an id in flight")
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
			assert.Contains(t, string(b), "duplicate in-flight request ID 5")
			assert.Zero(t, mcpserver.DispatchedCalls(e.srv))
		})
	}
}
