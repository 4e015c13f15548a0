package audit_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
)

// serve starts a test server for a.Middleware(h).
func serve(t *testing.T, a *audit.Auditor, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(a.Middleware(h))
	t.Cleanup(srv.Close)
	return srv
}

// do sends a request without following redirects and returns the response
// with its body read.
func do(t *testing.T, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

var generatedID = regexp.MustCompile(`^[A-Z2-7]{26}$`)

// opaqueToken is shaped like an opaque access token.
const opaqueToken = "ab_7Kq2xVnR9sLmT4wYz8PcD1fGhJ3uE6"

func TestMiddlewareRequestID(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, audit.RequestID(r.Context()))
	}))
	valid128 := strings.Repeat("a", 128)
	for _, tc := range []struct {
		name   string
		header []string // X-Request-Id values sent
		auth   string   // the Authorization header sent, if any
		want   string   // the id kept; "" means a generated one
	}{
		{name: "simple", header: []string{"abc-123"}, want: "abc-123"},
		{name: "every allowed character", header: []string{"AZaz09._:/+=-"}, want: "AZaz09._:/+=-"},
		{name: "uuid", header: []string{"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}, want: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{name: "128 characters", header: []string{valid128}, want: valid128},
		{name: "first of two", header: []string{"first", "second"}, want: "first"},
		{name: "absent"},
		{name: "empty", header: []string{""}},
		{name: "129 characters", header: []string{valid128 + "a"}},
		{name: "space", header: []string{"a b"}},
		{name: "quote", header: []string{`a"b`}},
		{name: "angle bracket", header: []string{"<script>"}},
		{name: "non-ASCII", header: []string{"ïd"}},
		{name: "a JWT", header: []string{testJWT}},
		// An opaque token sent as the id too: validRequestID cannot tell
		// it from an id, the Authorization header can.
		{name: "the opaque token", header: []string{opaqueToken}, auth: "Bearer " + opaqueToken},
		{name: "a piece of the token", header: []string{opaqueToken[4:24]}, auth: "Bearer " + opaqueToken},
		{name: "the token, another scheme", header: []string{"dXNlcjpwYXNzd29yZA=="}, auth: "Basic dXNlcjpwYXNzd29yZA=="},
		{name: "short, inside the token", header: []string{"ab"}, auth: "Bearer " + opaqueToken, want: "ab"},
		{name: "an id beside a token", header: []string{"req-42"}, auth: "Bearer " + opaqueToken, want: "req-42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != nil {
				h[audit.RequestIDHeader] = tc.header
			}
			if tc.auth != "" {
				h.Set("Authorization", tc.auth)
			}
			resp, body := do(t, http.MethodGet, srv.URL+"/x", h)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			got := resp.Header.Get(audit.RequestIDHeader)
			if tc.want != "" {
				require.Equal(t, tc.want, got)
			} else {
				require.Regexp(t, generatedID, got)
			}
			require.Equal(t, got, body, "the handler sees the echoed id")
			require.Equal(t, got, sink.next(t)["request_id"], "the event carries the echoed id")
		})
	}

	t.Run("generated ids differ", func(t *testing.T) {
		r1, _ := do(t, http.MethodGet, srv.URL, nil)
		r2, _ := do(t, http.MethodGet, srv.URL, nil)
		sink.next(t)
		sink.next(t)
		require.NotEqual(t, r1.Header.Get(audit.RequestIDHeader), r2.Header.Get(audit.RequestIDHeader))
	})
}

func TestMiddlewareKeepsRequestIDFromContext(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	inner := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, audit.RequestID(r.Context()))
	}))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(audit.WithRequestID(r.Context(), "from-outer-layer")))
	})
	srv := httptest.NewServer(outer)
	defer srv.Close()
	resp, body := do(t, http.MethodGet, srv.URL, http.Header{audit.RequestIDHeader: {"from-client"}})
	require.Equal(t, "from-outer-layer", resp.Header.Get(audit.RequestIDHeader))
	require.Equal(t, "from-outer-layer", body)
	require.Equal(t, "from-outer-layer", sink.next(t)["request_id"])
}

// TestRequestIDNearest: RequestID reads the id nearest in the context: the
// Middleware's, or one put by WithRequestID inside it.
func TestRequestIDNearest(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := httptest.NewServer(a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		io.WriteString(w, audit.RequestID(ctx)+" "+audit.RequestID(audit.WithRequestID(ctx, "inner")))
	})))
	defer srv.Close()
	_, body := do(t, http.MethodGet, srv.URL, http.Header{audit.RequestIDHeader: {"from-client"}})
	require.Equal(t, "from-client inner", body)
	require.Equal(t, "from-client", sink.next(t)["request_id"])
}

func TestRequestIDWithoutMiddleware(t *testing.T) {
	require.Equal(t, "", audit.RequestID(context.Background()))
	require.Equal(t, "r1", audit.RequestID(audit.WithRequestID(context.Background(), "r1")))
}

func TestMiddlewareDecisionAndReason(t *testing.T) {
	type layer func(w http.ResponseWriter, r *http.Request)
	status := func(code int, challenge ...string) layer {
		return func(w http.ResponseWriter, r *http.Request) {
			for _, c := range challenge {
				w.Header().Add("WWW-Authenticate", c)
			}
			w.WriteHeader(code)
		}
	}
	for _, tc := range []struct {
		name         string
		handler      layer
		wantStatus   int
		wantDecision string
		wantReason   string // "" means no attribute
	}{
		{"body without WriteHeader", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }, 200, "allow", ""},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, 200, "allow", ""},
		{"201", status(201), 201, "allow", ""},
		{"204", status(204), 204, "allow", ""},
		{"302", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, 302, "allow", ""},
		{"103 then 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
		}, 200, "allow", ""},
		{"second WriteHeader ignored", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusInternalServerError) //nolint:staticcheck // superfluous on purpose
		}, 202, "allow", ""},
		{"400 invalid_request", status(400, `Bearer error="invalid_request", error_description="token sent twice"`), 400, "deny", "invalid_request"},
		{"400 without challenge", status(400), 400, "deny", ""},
		{"401 without token", status(401, `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="notes"`), 401, "deny", "missing_token"},
		{"401 invalid_token", status(401, `Bearer resource_metadata="https://x/", error="invalid_token", error_description="token expired, sign in again"`), 401, "deny", "invalid_token"},
		{"401 unquoted, lower-case scheme", status(401, `bearer error=invalid_token`), 401, "deny", "invalid_token"},
		{"401 escaped quotes before error", status(401, `Bearer realm="a \"quoted\", realm", error="invalid_token"`), 401, "deny", "invalid_token"},
		{"401 Basic challenge", status(401, `Basic realm="x"`), 401, "deny", ""},
		{"401 Basic then Bearer", status(401, `Basic realm="x"`, `Bearer error="invalid_token"`), 401, "deny", "invalid_token"},
		{"401 unknown error code", status(401, `Bearer error="<script>"`), 401, "deny", ""},
		{"403 insufficient_scope", status(403, `Bearer error="insufficient_scope", scope="crm:read crm:write"`), 403, "deny", "insufficient_scope"},
		{"403 without token is not missing_token", status(403, `Bearer scope="a"`), 403, "deny", ""},
		{"403 without challenge", status(403), 403, "deny", ""},
		{"404", status(404), 404, "deny", ""},
		{"405", status(405), 405, "deny", ""},
		{"429", status(429), 429, "rate_limited", "rate_limited"},
		{"500", status(500), 500, "error", ""},
		{"503", status(503), 503, "error", ""},
		{"a layer's decision wins", func(w http.ResponseWriter, r *http.Request) {
			audit.EntryFrom(r.Context()).SetDecision(audit.Deny, "origin")
			w.WriteHeader(http.StatusForbidden)
		}, 403, "deny", "origin"},
		{"a layer's decision stops reason derivation", func(w http.ResponseWriter, r *http.Request) {
			audit.EntryFrom(r.Context()).SetDecision(audit.Allow, "")
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
		}, 401, "allow", ""},
		{"the last decision wins", func(w http.ResponseWriter, r *http.Request) {
			audit.EntryFrom(r.Context()).SetDecision(audit.Allow, "")
			audit.EntryFrom(r.Context()).SetDecision(audit.RateLimited, "rate_limited")
			w.WriteHeader(http.StatusTooManyRequests)
		}, 429, "rate_limited", "rate_limited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, sink := newAuditor(t, audit.Config{})
			srv := serve(t, a, http.HandlerFunc(tc.handler))
			resp, _ := do(t, http.MethodPost, srv.URL+"/mcp?access_token="+testJWT, http.Header{audit.RequestIDHeader: {"rid"}})
			require.Equal(t, tc.wantStatus, resp.StatusCode)
			line := <-sink.lines
			require.NotContains(t, string(line), testJWT, "the query string is never written")
			want := map[string]any{
				"level": "INFO", "msg": "audit", "request_id": "rid", "http_method": "POST", "path": "/mcp",
				"decision": tc.wantDecision, "status": float64(tc.wantStatus),
			}
			if tc.wantReason != "" {
				want["reason"] = tc.wantReason
			}
			require.Equal(t, want, eventFields(t, decodeLine(t, line)))
		})
	}
}

func TestMiddlewareEntry(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := audit.EntryFrom(r.Context())
		e.SetIdentity("alice", "https://issuer.example/", "cli")
		e.SetMCP("tools/call", "notes.add")
		e.SetArgs(map[string]string{"title": "hi"})
		e.SetDecision(audit.Allow, "")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	do(t, http.MethodPost, srv.URL+"/mcp", http.Header{audit.RequestIDHeader: {"rid"}})
	require.Equal(t, map[string]any{
		"level": "INFO", "msg": "audit", "request_id": "rid", "http_method": "POST", "path": "/mcp",
		"sub": a.HashSubject("alice"), "iss": "https://issuer.example/", "client_id": "cli",
		"mcp_method": "tools/call", "tool": "notes.add", "args": map[string]any{"title": "hi"},
		"decision": "allow", "status": 200.0,
	}, eventFields(t, sink.next(t)))
}

// Entry.Status tells a layer how the handlers it wrapped ended the
// request: 0 before anything was sent (and 1xx does not count), the status
// written, 200 for a body without one; the event agrees.
func TestEntryStatus(t *testing.T) {
	for _, tt := range []struct {
		name  string
		write func(http.ResponseWriter)
		want  int
	}{
		{"nothing", func(http.ResponseWriter) {}, 0},
		{"status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot) }, http.StatusTeapot},
		{"informational then status", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
		}, http.StatusNotFound},
		{"body", func(w http.ResponseWriter) { io.WriteString(w, "x") }, http.StatusOK},
		{"flush", func(w http.ResponseWriter) { http.NewResponseController(w).Flush() }, http.StatusOK},
		// 101 is a final status (net/http writes no other after it), as a
		// WebSocket library sends it before it hijacks the connection.
		{"switching protocols", func(w http.ResponseWriter) {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "test")
			w.WriteHeader(http.StatusSwitchingProtocols)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}, http.StatusSwitchingProtocols},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, sink := newAuditor(t, audit.Config{})
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.Zero(t, audit.EntryFrom(r.Context()).Status(), "before the handler wrote")
				tt.write(w)
			})
			got := make(chan int, 1) // a hijacked response may end before the handler
			srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner.ServeHTTP(w, r)
				got <- audit.EntryFrom(r.Context()).Status()
			}))
			do(t, http.MethodGet, srv.URL+"/", nil)
			require.Equal(t, tt.want, <-got)
			wantEvent := float64(tt.want)
			if tt.want == 0 {
				wantEvent = 200 // net/http sends 200 for a handler that wrote nothing
			}
			require.Equal(t, wantEvent, eventFields(t, sink.next(t))["status"])
		})
	}
}

// TestMiddlewareSwitchingProtocols: a protocol switch (101, then the
// connection hijacked, as a WebSocket library does) is audited as the
// 101 it was, and allowed.
func TestMiddlewareSwitchingProtocols(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "test")
		w.WriteHeader(http.StatusSwitchingProtocols)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	}))
	resp, _ := do(t, http.MethodGet, srv.URL+"/", nil)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	ev := eventFields(t, sink.next(t))
	require.Equal(t, float64(http.StatusSwitchingProtocols), ev["status"])
	require.Equal(t, "allow", ev["decision"])
}

func TestEntryNilSafe(t *testing.T) {
	e := audit.EntryFrom(context.Background())
	require.Nil(t, e)
	require.NotPanics(t, func() {
		e.SetIdentity("a", "b", "c")
		e.SetMCP("m", "t")
		e.SetDecision(audit.Deny, "r")
		e.SetArgs(1)
		e.SetOutcome(audit.Outcome{MCPMethod: "m", Decision: audit.Deny})
	})
	require.Zero(t, e.Status())
	d, reason := e.Decision()
	require.Empty(t, d)
	require.Empty(t, reason)
}

// ContextWithEntry carries a request's entry into another context: what is
// recorded there goes to that request's event.
func TestContextWithEntry(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := audit.EntryFrom(r.Context())
		require.NotNil(t, e)
		opener := audit.WithRequestID(context.Background(), "opener-1")
		other := audit.ContextWithEntry(opener, e) // as a session's handler context
		require.Same(t, e, audit.EntryFrom(other))
		require.Equal(t, "req-7", audit.RequestID(other), "the id of the request the entry belongs to")
		require.Equal(t, "opener-1", audit.RequestID(audit.ContextWithEntry(opener, &audit.Entry{})), "an entry of no request leaves the id")
		audit.EntryFrom(other).SetDecision(audit.Deny, "from_elsewhere")
		require.Nil(t, audit.EntryFrom(context.Background()))
	}))
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/mcp", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "req-7")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	ev := eventFields(t, sink.next(t))
	require.Equal(t, "deny", ev["decision"])
	require.Equal(t, "from_elsewhere", ev["reason"])
}

// SetOutcome: the first operation refused or failed stands, with its
// method, tool and arguments; allowed ones replace each other; operations
// running concurrently cannot mix two outcomes in one event.
func TestEntrySetOutcome(t *testing.T) {
	allowed := func(tool string) audit.Outcome {
		return audit.Outcome{MCPMethod: "tools/call", Tool: tool, Args: map[string]any{"t": tool}, Decision: audit.Allow}
	}
	refused := audit.Outcome{MCPMethod: "tools/call", Tool: "nope", Decision: audit.Deny, Reason: "unknown_tool"}
	failed := audit.Outcome{MCPMethod: "tools/call", Tool: "fail", Decision: audit.Error, Reason: "tool_error"}
	for _, tc := range []struct {
		name string
		run  []audit.Outcome
		want map[string]any // the event's mcp_method, tool, args, decision, reason
	}{
		{"one", []audit.Outcome{allowed("a")}, map[string]any{"mcp_method": "tools/call", "tool": "a", "args": map[string]any{"t": "a"}, "decision": "allow"}},
		{"allowed: the last", []audit.Outcome{allowed("a"), allowed("b")}, map[string]any{"mcp_method": "tools/call", "tool": "b", "args": map[string]any{"t": "b"}, "decision": "allow"}},
		{"refused, then allowed", []audit.Outcome{refused, allowed("b")}, map[string]any{"mcp_method": "tools/call", "tool": "nope", "decision": "deny", "reason": "unknown_tool"}},
		{"allowed, then failed", []audit.Outcome{allowed("a"), failed}, map[string]any{"mcp_method": "tools/call", "tool": "fail", "decision": "error", "reason": "tool_error"}},
		{"failed, then refused", []audit.Outcome{failed, refused, allowed("c")}, map[string]any{"mcp_method": "tools/call", "tool": "fail", "decision": "error", "reason": "tool_error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, sink := newAuditor(t, audit.Config{})
			srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e := audit.EntryFrom(r.Context())
				e.SetMCP("batch", "first") // what a layer before saw
				e.SetDecision(audit.Allow, "")
				for _, o := range tc.run {
					e.SetOutcome(o)
				}
			}))
			do(t, http.MethodPost, srv.URL+"/mcp", nil)
			ev := eventFields(t, sink.next(t))
			got := map[string]any{}
			for _, k := range []string{"mcp_method", "tool", "args", "decision", "reason"} {
				if v, ok := ev[k]; ok {
					got[k] = v
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
	t.Run("concurrent", func(t *testing.T) {
		a, sink := newAuditor(t, audit.Config{})
		srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e := audit.EntryFrom(r.Context())
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					if i == 25 {
						e.SetOutcome(refused)
						return
					}
					e.SetOutcome(allowed(strconv.Itoa(i)))
				})
			}
			wg.Wait()
		}))
		for range 20 {
			do(t, http.MethodPost, srv.URL+"/mcp", nil)
			ev := eventFields(t, sink.next(t))
			require.Equal(t, "deny", ev["decision"])
			require.Equal(t, "nope", ev["tool"], "the refused call's tool, not another's")
			require.NotContains(t, ev, "args")
		}
	})
}

func TestMiddlewareSkips(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{SkipPaths: []string{"/healthz", "/readyz"}})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz/panic" {
			panic("boom")
		}
		fmt.Fprintf(w, "entry=%t", audit.EntryFrom(r.Context()) != nil)
	}))
	for _, tc := range []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{http.MethodGet, "/healthz", 200, "entry=false"},
		{http.MethodGet, "/readyz", 200, "entry=false"},
		{http.MethodOptions, "/mcp", 200, "entry=true"}, // an entry, written only for an error status
	} {
		resp, body := do(t, tc.method, srv.URL+tc.path, nil)
		require.Equal(t, tc.wantStatus, resp.StatusCode, tc.path)
		require.Equal(t, tc.wantBody, body, tc.path)
		require.Regexp(t, generatedID, resp.Header.Get(audit.RequestIDHeader), "skipped requests still get an id")
	}
	// Not skipped: a sub-path, and then a marker request. Lines arrive in
	// order, so the marker's event coming right after the sub-path's shows
	// that the skipped requests wrote none.
	_, body := do(t, http.MethodGet, srv.URL+"/healthz/x", nil)
	require.Equal(t, "entry=true", body)
	require.Equal(t, "/healthz/x", sink.next(t)["path"])
	do(t, http.MethodGet, srv.URL+"/marker", nil)
	require.Equal(t, "/marker", sink.next(t)["path"])
	require.True(t, sink.empty())
}

func TestMiddlewareSkippedPathStillRecovers(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{SkipPaths: []string{"/healthz"}})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			panic("boom")
		}
	}))
	resp, body := do(t, http.MethodGet, srv.URL+"/healthz", nil)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.JSONEq(t, `{"error":"internal_error"}`, body)
	require.Equal(t, "panic recovered", sink.next(t)["msg"])
	do(t, http.MethodGet, srv.URL+"/marker", nil)
	require.Equal(t, "/marker", sink.next(t)["path"], "no event for the skipped path")
}

func TestMiddlewareFlushAndResponseController(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	release := make(chan struct{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isFlusher := w.(http.Flusher)
		deadlineErr := http.NewResponseController(w).SetWriteDeadline(time.Time{})
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: flusher=%t deadline_err=%v\n\n", isFlusher, deadlineErr)
		w.(http.Flusher).Flush()
		<-release // the client must get the first event before the handler goes on
		fmt.Fprint(w, "data: second\n\n")
		flushErr := http.NewResponseController(w).Flush()
		<-release
		fmt.Fprintf(w, "data: done flush_err=%v\n\n", flushErr)
	}))
	resp, err := http.Get(srv.URL + "/sse")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	br := bufio.NewReader(resp.Body)
	readEvent := func() string {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		_, err = br.ReadString('\n') // the blank line
		require.NoError(t, err)
		return line
	}
	require.Equal(t, "data: flusher=true deadline_err=<nil>\n", readEvent())
	release <- struct{}{}
	require.Equal(t, "data: second\n", readEvent())
	release <- struct{}{}
	require.Equal(t, "data: done flush_err=<nil>\n", readEvent())

	m := eventFields(t, sink.next(t))
	require.Equal(t, "allow", m["decision"])
	require.Equal(t, 200.0, m["status"])
	require.Equal(t, "/sse", m["path"])
}

// The panic log line's path, panic value and stack are bounded (a request
// chooses its path; a panic may quote a body), redacted before they are
// cut.
func TestMiddlewarePanicLogBounded(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(strings.Repeat("y", 1010) + testJWT + " " + strings.Repeat("z", 100_000))
	}))
	do(t, http.MethodPost, srv.URL+"/"+strings.Repeat("p", 5000), nil)
	line := <-sink.lines
	require.NotContains(t, string(line), testJWT[:12], "redacted before the cut: no piece of the token")
	p := decodeLine(t, line)
	require.Equal(t, "panic recovered", p["msg"])
	require.Equal(t, strings.Repeat("y", 1010)+"[redacted] zzz…", p["panic"])
	require.Len(t, p["path"], 1<<10+len("…"))
	require.LessOrEqual(t, len(p["stack"].(string)), 32<<10+len("…"))
	sink.next(t) // the event
}

func TestMiddlewarePanic(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.EntryFrom(r.Context()).SetIdentity("alice", "https://issuer.example/", "")
		audit.EntryFrom(r.Context()).SetDecision(audit.Allow, "")
		w.Header().Set("X-Partial", "yes")
		w.Header().Set("Content-Type", "text/event-stream")
		panic("cannot use token " + testJWT)
	}))
	resp, body := do(t, http.MethodPost, srv.URL+"/mcp", http.Header{audit.RequestIDHeader: {"rid"}})
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, "rid", resp.Header.Get(audit.RequestIDHeader))
	require.Empty(t, resp.Header.Get("X-Partial"), "headers of the failed handler are dropped")
	require.JSONEq(t, `{"error":"internal_error"}`, body)
	require.NotContains(t, body, "token")

	panicLine := <-sink.lines
	require.NotContains(t, string(panicLine), testJWT)
	p := decodeLine(t, panicLine)
	require.Equal(t, "ERROR", p["level"])
	require.Equal(t, "panic recovered", p["msg"])
	require.Equal(t, "rid", p["request_id"])
	require.Equal(t, "cannot use token [redacted]", p["panic"])
	require.Contains(t, p["stack"], "audit_test.TestMiddlewarePanic", "the stack names the panicking function")

	require.Equal(t, map[string]any{
		"level": "INFO", "msg": "audit", "request_id": "rid", "http_method": "POST", "path": "/mcp",
		"sub": a.HashSubject("alice"), "iss": "https://issuer.example/",
		"decision": "error", "reason": "panic", "status": 500.0,
	}, eventFields(t, sink.next(t)), "no stack in the event")
}

func TestMiddlewarePanicAfterHeaderAbortsResponse(t *testing.T) {
	for _, tc := range []struct {
		name       string
		value      any
		wantReason string
		wantStatus float64
		wantLog    bool
	}{
		{name: "panic", value: "boom", wantReason: "panic", wantStatus: 200, wantLog: true},
		{name: "ErrAbortHandler", value: http.ErrAbortHandler, wantReason: "aborted", wantStatus: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, sink := newAuditor(t, audit.Config{})
			srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "data: partial\n\n")
				w.(http.Flusher).Flush()
				panic(tc.value)
			}))
			resp, err := http.Get(srv.URL + "/sse")
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			body, err := io.ReadAll(resp.Body)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "a cut-off response must not look whole")
			require.Equal(t, "data: partial\n\n", string(body))
			if tc.wantLog {
				require.Equal(t, "panic recovered", sink.next(t)["msg"])
			}
			m := eventFields(t, sink.next(t))
			require.Equal(t, "audit", m["msg"])
			require.Equal(t, "error", m["decision"])
			require.Equal(t, tc.wantReason, m["reason"])
			require.Equal(t, tc.wantStatus, m["status"])
		})
	}
}

func TestMiddlewareAbortBeforeHeader(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	_, err := http.Get(srv.URL + "/x")
	require.Error(t, err, "the connection is closed without a response")
	m := eventFields(t, sink.next(t))
	require.Regexp(t, generatedID, m["request_id"])
	delete(m, "request_id")
	require.Equal(t, map[string]any{
		"level": "INFO", "msg": "audit", "http_method": "GET", "path": "/x",
		"decision": "error", "reason": "aborted", "status": 0.0,
	}, m)
}

func TestMiddlewareConcurrentEntry(t *testing.T) {
	const (
		requests   = 8
		goroutines = 8
		rounds     = 50
	)
	a, sink := newAuditor(t, audit.Config{})
	var late sync.WaitGroup
	// answered is closed once every client has its response, and so once
	// every event has been written (Middleware writes it before the
	// response goes out).
	answered := make(chan struct{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := audit.EntryFrom(r.Context())
		set := func(g int) {
			e.SetIdentity(fmt.Sprintf("user-%d", g), "iss", "cli")
			e.SetMCP("tools/call", fmt.Sprintf("tool-%d", g))
			e.SetArgs(g)
			e.SetDecision(audit.Allow, "")
		}
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for range rounds {
					set(g)
				}
			})
		}
		wg.Wait()
		// Handler goroutines that outlive the request. One races with the
		// event being written (with the values the event may hold either
		// way); the other calls only once the event is written, and its
		// calls must be ignored.
		late.Go(func() {
			for range rounds {
				set(0)
			}
		})
		late.Go(func() {
			<-answered
			for range rounds {
				e.SetIdentity("late", "late", "late")
				e.SetDecision(audit.Deny, "late")
			}
		})
	}))
	var clients sync.WaitGroup
	errs := make(chan error, requests)
	for range requests {
		clients.Go(func() {
			resp, err := http.Get(srv.URL + "/mcp")
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		})
	}
	clients.Wait()
	close(answered)
	late.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	subs := map[any]bool{}
	for g := range goroutines {
		subs[a.HashSubject(fmt.Sprintf("user-%d", g))] = true
	}
	for range requests {
		m := sink.next(t)
		require.True(t, subs[m["sub"]], "sub %v is one a goroutine set", m["sub"])
		require.Regexp(t, `^tool-[0-7]$`, m["tool"])
		require.Equal(t, "allow", m["decision"])
		require.NotContains(t, m, "reason")
	}
	require.True(t, sink.empty())
}

func TestMiddlewareNeverWritesAToken(t *testing.T) {
	// SPEC 26: a token a client sends anywhere in the request (header,
	// query, path, request id) never reaches the audit log.
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	resp, _ := do(t, http.MethodGet, srv.URL+"/t/"+testJWT+"?access_token="+testJWT, http.Header{
		"Authorization":       {"Bearer " + testJWT},
		audit.RequestIDHeader: {testJWT},
	})
	require.NotEqual(t, testJWT, resp.Header.Get(audit.RequestIDHeader), "a token is not echoed as the request id")
	line := <-sink.lines
	require.NotContains(t, string(line), testJWT)
	require.NotContains(t, string(line), strings.Split(testJWT, ".")[2], "not even the signature")
	m := decodeLine(t, line)
	require.Equal(t, "/t/[redacted]", m["path"])
	require.Equal(t, "invalid_token", m["reason"])
}

// An Entry kept after its request (mcpserver hands it to go-sdk, which
// keeps it with the session) does not keep the request's ResponseWriter,
// and with it net/http's per-request state, alive; a write through the
// writer a handler kept fails instead of reaching the next response.
func TestMiddlewareEntryDoesNotRetainResponseWriter(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	var (
		kept    *audit.Entry
		keptW   http.ResponseWriter
		written weak.Pointer[httptest.ResponseRecorder]
	)
	func() {
		rec := httptest.NewRecorder()
		written = weak.Make(rec)
		a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			kept, keptW = audit.EntryFrom(r.Context()), w
			io.WriteString(w, "ok")
		})).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mcp", nil))
		require.Equal(t, "ok", rec.Body.String())
	}()
	sink.next(t)

	n, err := keptW.Write([]byte("late"))
	require.Error(t, err)
	require.Zero(t, n)
	for i := 0; i < 5 && written.Value() != nil; i++ {
		runtime.GC()
	}
	require.Nil(t, written.Value(), "the recorder is still reachable from the kept Entry")
	kept.SetArgs("after the event") // still safe to call: a no-op
	runtime.KeepAlive(kept)
	runtime.KeepAlive(keptW)
}

// headerWriter is a ResponseWriter that keeps nothing but its header map.
type headerWriter struct{ h http.Header }

func (w headerWriter) Header() http.Header         { return w.h }
func (w headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w headerWriter) WriteHeader(int)             {}

// TestMiddlewareAllocations: the per-request state, its context node and
// the request passed on take two allocations, and a recorded event through
// JSONHandler none (a request that brings its own id, so that none is
// generated).
func TestMiddlewareAllocations(t *testing.T) {
	a, err := audit.New(audit.Config{Logger: slog.New(audit.NewJSONHandler(io.Discard, nil)), SubjectKey: []byte(testKey)})
	require.NoError(t, err)
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set(audit.RequestIDHeader, "req-1")
	w := headerWriter{h: http.Header{audit.RequestIDHeader: nil}}
	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	require.Equal(t, 2.0, allocs)
}

// A panic value that quotes the request (its headers, or the request
// itself) carries the caller's credential; an opaque token is not shaped
// like a JWT, yet the panic log line must not hold it either.
func TestMiddlewarePanicRedactsOpaqueCredential(t *testing.T) {
	const opaque = "opq_7hG2kLm9PqR4sT8vW1xY3zA5bC6dE0fH"
	for _, tc := range []struct {
		name   string
		header string
		value  func(*http.Request) any
	}{
		{"headers", "Bearer " + opaque, func(r *http.Request) any { return r.Header }},
		{"request", "Bearer " + opaque, func(r *http.Request) any { return fmt.Sprintf("unexpected request %+v", r) }},
		{"odd scheme casing and blanks", "bEaReR   " + opaque + " ", func(r *http.Request) any { return r.Header }},
		{"basic", "Basic " + opaque, func(r *http.Request) any { return r.Header }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, sink := newAuditor(t, audit.Config{})
			srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				panic(tc.value(r))
			}))
			resp, _ := do(t, http.MethodPost, srv.URL+"/mcp", http.Header{"Authorization": {tc.header}})
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			line := <-sink.lines
			p := decodeLine(t, line)
			require.Equal(t, "panic recovered", p["msg"])
			require.Contains(t, p["panic"], "Authorization", "the panic value is logged")
			require.NotContains(t, string(line), opaque)
			require.NotContains(t, string(line), opaque[:16], "no piece of it either")
			sink.next(t) // the event
		})
	}
}

// TestMiddlewareRecordsRefusedPreflight: an OPTIONS request answered with
// an error status (a CORS preflight refused) is recorded, with the
// decision the handler set; one answered 2xx is not.
func TestMiddlewareRecordsRefusedPreflight(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	srv := serve(t, a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refused" {
			audit.EntryFrom(r.Context()).SetDecision(audit.Deny, "origin")
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	do(t, http.MethodOptions, srv.URL+"/allowed", nil)
	do(t, http.MethodOptions, srv.URL+"/refused", nil)
	ev := sink.next(t)
	require.Equal(t, "/refused", ev["path"], "the allowed preflight wrote no event")
	require.Equal(t, http.MethodOptions, ev["http_method"])
	require.Equal(t, float64(http.StatusForbidden), ev["status"])
	require.Equal(t, [2]any{"deny", "origin"}, [2]any{ev["decision"], ev["reason"]})
	require.True(t, sink.empty())
}
