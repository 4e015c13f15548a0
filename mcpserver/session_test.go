package mcpserver_test

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// SPEC 23: a session is bound to its user; another user's valid token with
// that session id is refused, on every method. go-sdk enforces this from
// auth.TokenInfo.UserID, which idgate sets to issuer|subject.
func TestSessionBoundToUser(t *testing.T) {
	e := newEnv(t)
	sid := e.session(e.alice)
	proto := []string{"Mcp-Protocol-Version", "2025-06-18"}
	tests := []struct {
		name       string
		method     string
		body       string
		token      string
		wantStatus int
	}{
		{"bob POSTs on alice's session", http.MethodPost, callBody(2, "whoami"), e.bob, http.StatusForbidden},
		{"bob GETs alice's stream", http.MethodGet, "", e.bob, http.StatusForbidden},
		{"bob DELETEs alice's session", http.MethodDelete, "", e.bob, http.StatusForbidden},
		{"another alice token is alice", http.MethodPost, callBody(3, "whoami"),
			e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read")), http.StatusOK},
		{"alice herself", http.MethodPost, callBody(4, "whoami"), e.alice, http.StatusOK},
		{"unknown session", http.MethodPost, callBody(5, "whoami"), e.alice, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := sid
			if tc.wantStatus == http.StatusNotFound {
				id = "NOSUCHSESSION"
			}
			hdr := with(bearer(tc.token), proto, []string{"Mcp-Session-Id", id})
			if tc.method == http.MethodGet {
				hdr = append(hdr, "Accept", "text/event-stream")
			}
			r := e.do(tc.method, "/mcp", tc.body, hdr...)
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
			if tc.wantStatus == http.StatusOK {
				require.Contains(t, r.Body, `\"subject\":\"alice\"`)
			}
		})
	}
	// Bob's refused DELETE did not close alice's session.
	r := e.do(http.MethodPost, "/mcp", callBody(6, "whoami"), with(bearer(e.alice), proto, []string{"Mcp-Session-Id", sid})...)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
}

// The same attack through go-sdk's own client: bob's client reusing alice's
// session id gets an error.
func TestSessionHijackWithClient(t *testing.T) {
	e := newEnv(t)
	cs, tok := e.connect(e.alice)
	// Same connection, bob's token from now on.
	tok.Store(&e.bob)
	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.Error(t, err)
	// In stateless mode there is no session to hijack: every request is
	// simply its own caller's.
	s := newEnv(t, stateless)
	cs, tok = s.connect(s.alice)
	tok.Store(&s.bob)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.Contains(t, res.Content[0].(*mcp.TextContent).Text, `"subject":"bob"`)
}

// SPEC 24: session ids are random (≥128 bits) and visible ASCII.
func TestSessionIDs(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 20 {
		sid := e.session(e.alice)
		require.False(t, seen[sid], "session ids repeat")
		seen[sid] = true
		for _, c := range []byte(sid) {
			require.True(t, c >= 0x21 && c <= 0x7e, "session id %q is not visible ASCII", sid)
		}
		// go-sdk uses crypto/rand.Text: base32, 5 bits a character.
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(sid)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(sid)*5, 128, "session id %q carries fewer than 128 bits", sid)
		require.GreaterOrEqual(t, len(raw)*8, 128)
	}
}

// IdentityFrom returns the identity of the current POST's token, not the
// one that opened the session: alice refreshes her token with new scopes
// and the tool sees them at once.
func TestIdentityFreshOnEveryRequest(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		first := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read"))
		cs, tok := e.connect(first)
		whoami := func() whoamiOut {
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
			require.NoError(t, err)
			var out whoamiOut
			require.NoError(t, remarshal(res.StructuredContent, &out))
			return out
		}
		require.Equal(t, whoamiOut{Subject: "alice", Scopes: []string{"notes:read"}}, whoami())
		_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "salesWrite", Arguments: map[string]any{}})
		require.ErrorContains(t, err, "insufficient scope")

		refreshed := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:write", "notes:read"))
		tok.Store(&refreshed)
		require.Equal(t, whoamiOut{Subject: "alice", Scopes: []string{"crm:write", "notes:read"}}, whoami())
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "salesWrite", Arguments: map[string]any{"account": "acme", "secret": "s3cret"}})
		require.NoError(t, err)
		require.False(t, res.IsError)
		// tools/list follows the new scopes too.
		list, err := cs.ListTools(context.Background(), nil)
		require.NoError(t, err)
		require.Contains(t, toolNames(list), "salesWrite")
	})
}

// identity.FromContext in a tool gives the identity of this very call's
// token too, as IdentityFrom(req) does, not that of the request that
// opened the session (whose context a stateful session's handlers run
// in): code that takes the caller from the context, as proxy.Transport
// does, must not act for an earlier token, with its scopes, after the
// user's token changed.
func TestContextIdentityIsTheCallers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{
		{"stateful", nil},
		{"stateful-gosdk", []envOption{goSDKTransport}},
		{"stateful-json", []envOption{func(c *mcpserver.Config) { c.JSONResponse = true }}},
		{"stateless", []envOption{stateless}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "ctxwho", Description: "who am I, by the context"}, scopes.Public(),
				func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, whoamiOut, error) {
					id, ok := identity.FromContext(ctx)
					switch ti := auth.TokenInfoFromContext(ctx); {
					case !ok:
						return nil, whoamiOut{Subject: "none"}, nil
					case id != mcpserver.IdentityFrom(req):
						return nil, whoamiOut{Subject: "another identity than the call's: " + id.Scopes.String()}, nil
					case ti == nil:
						// go-sdk's own accessor, which tool code may use.
						return nil, whoamiOut{Subject: "no auth.TokenInfo in the context"}, nil
					case ti != req.Extra.TokenInfo:
						return nil, whoamiOut{Subject: "another auth.TokenInfo than the call's: " + strings.Join(ti.Scopes, " ")}, nil
					}
					return nil, whoamiOut{Subject: id.Subject, Scopes: id.Scopes.List()}, nil
				})
			cs, tok := e.connect(e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read")))
			who := func() whoamiOut {
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ctxwho", Arguments: map[string]any{}})
				require.NoError(t, err)
				var out whoamiOut
				require.NoError(t, remarshal(res.StructuredContent, &out))
				return out
			}
			require.Equal(t, whoamiOut{Subject: "alice", Scopes: []string{"notes:read"}}, who())
			narrower := e.iss.Mint(t, identitytest.Subject("alice"))
			tok.Store(&narrower)
			require.Equal(t, whoamiOut{Subject: "alice"}, who())
			wider := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:write", "notes:read"))
			tok.Store(&wider)
			require.Equal(t, whoamiOut{Subject: "alice", Scopes: []string{"crm:write", "notes:read"}}, who())
		})
	}
}

// TestShutdownClosesSessions: Shutdown closes every session, which would
// otherwise keep its goroutines and idle timer for SessionTimeout after
// the HTTP server is gone, and refuses new ones (503), whichever keeps
// the session table: idgate (direct) or go-sdk (the other modes).
func TestShutdownClosesSessions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{
		{"direct", nil},
		{"gosdk", []envOption{goSDKTransport}},
		{"json", []envOption{func(c *mcpserver.Config) { c.JSONResponse = true }}},
		{"eventstore", []envOption{withEventStore}},
		{"getsessionid", []envOption{func(c *mcpserver.Config) {
			c.ServerOptions = &mcp.ServerOptions{GetSessionID: func() string { return "s-" + rand.Text() }}
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			e.session(e.alice) // the first session starts what every server runs once
			e.http.Client().CloseIdleConnections()
			before := runtime.NumGoroutine()
			var sids []string
			for range 10 {
				sids = append(sids, e.session(e.alice))
			}
			e.http.Client().CloseIdleConnections()
			if tc.name == "direct" {
				require.Greater(t, runtime.NumGoroutine(), before+10, "each session runs goroutines")
			}

			require.NoError(t, e.srv.Shutdown(context.Background()))
			require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before }, 5*time.Second, 20*time.Millisecond,
				"goroutines: %d before the sessions, %d after Shutdown", before, runtime.NumGoroutine())
			for _, sid := range sids {
				r := e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":9,"method":"ping"}`,
					with(bearer(e.alice), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18"})...)
				require.Equal(t, http.StatusNotFound, r.Status, r.Body)
			}
			r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(e.alice)...)
			require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Body)
			require.Empty(t, r.Header.Get("Mcp-Session-Id"))
			require.Empty(t, slices.Collect(e.srv.MCPServer().Sessions()), "a session was opened after Shutdown")
		})
	}
}

// TestShutdownStateless: after Shutdown a stateless server serves no
// request (503), on either transport: each request is a session of its
// own, and one (a 2026-07-28 subscriptions/listen) may last as long as
// its client keeps it open, with nothing left to close it.
func TestShutdownStateless(t *testing.T) {
	for _, tc := range bothTransports {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, append([]envOption{stateless}, tc.opts...)...)
			call := func() rawResponse {
				return e.do(http.MethodPost, "/mcp", callBody(1, "whoami"), with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})...)
			}
			r := call()
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.NoError(t, e.srv.Shutdown(context.Background()))
			r = call()
			require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Body)
			require.NotContains(t, r.Body, "whoami")
		})
	}
}

// TestSessionsPerUserBounded: a user holds at most MaxSessionsPerUser
// sessions; opening one more closes their oldest (404 from then on, as for
// a session that timed out), and another user's sessions are not touched.
func TestSessionsPerUserBounded(t *testing.T) {
	e := newEnv(t, func(c *mcpserver.Config) { c.MaxSessionsPerUser = 3 })
	ping := func(token, sid string) int {
		return e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":9,"method":"ping"}`,
			with(bearer(token), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18"})...).Status
	}
	bobs := e.session(e.bob)
	var alices []string
	for range 5 {
		alices = append(alices, e.session(e.alice))
	}
	require.Eventually(t, func() bool {
		return ping(e.alice, alices[0]) == http.StatusNotFound && ping(e.alice, alices[1]) == http.StatusNotFound
	}, 5*time.Second, 10*time.Millisecond, "alice's two oldest sessions are closed")
	for _, sid := range alices[2:] {
		require.Equal(t, http.StatusOK, ping(e.alice, sid))
	}
	require.Equal(t, http.StatusOK, ping(e.bob, bobs), "bob's session is his own")

	// A request that opens no session (a 2026-07-28 client's discover,
	// which go-sdk's client sends first on every connect) closes none.
	r0 := e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":`+newMeta+`}}`,
		with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "server/discover"})...)
	require.Empty(t, r0.Header.Get("Mcp-Session-Id"), "the discover opened no session")
	time.Sleep(100 * time.Millisecond) // an eviction would close in the background
	for _, sid := range alices[2:] {
		require.Equal(t, http.StatusOK, ping(e.alice, sid), "a request that opened no session closed one")
	}

	// A session its user deletes makes room without closing another.
	r := e.do(http.MethodDelete, "/mcp", "", with(bearer(e.alice), []string{"Mcp-Session-Id", alices[2], "Mcp-Protocol-Version", "2025-06-18"})...)
	require.Equal(t, http.StatusNoContent, r.Status)
	alices = append(alices, e.session(e.alice))
	for _, sid := range alices[3:] {
		require.Equal(t, http.StatusOK, ping(e.alice, sid))
	}
}

// TestEvictedStuckSessionLeaves: a session evicted by MaxSessionsPerUser
// leaves the table at once, even while a handler of it never returns
// (closing it waits for that handler): its user gets 404 on it as soon as
// the session that evicted it is open, and it no longer holds one of the
// user's places.
func TestEvictedStuckSessionLeaves(t *testing.T) {
	e := newEnv(t, func(c *mcpserver.Config) { c.MaxSessionsPerUser = 1 })
	started, release := make(chan struct{}), make(chan struct{})
	mcpserver.AddTool(e.srv, newTool("stuck"), scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
			close(started)
			<-release // ignores its context: it returns when the test ends
			return nil, summaryOut{}, nil
		})
	t.Cleanup(func() { close(release) })
	ping := func(sid string) int {
		return e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":9,"method":"ping"}`,
			with(bearer(e.alice), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-06-18"})...).Status
	}
	first := e.session(e.alice)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", strings.NewReader(callBody(1, "stuck")))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+e.alice)
		req.Header.Set("Mcp-Session-Id", first)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		if resp, err := e.http.Client().Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-started

	second := e.session(e.alice) // evicts first
	require.Equal(t, http.StatusNotFound, ping(first), "the evicted session is still served")
	require.Equal(t, http.StatusOK, ping(second))
	third := e.session(e.alice) // evicts second: first holds no place
	require.Equal(t, http.StatusNotFound, ping(second))
	require.Equal(t, http.StatusOK, ping(third))
}

// TestContextRequestIDIsTheCallers: on a session, audit.RequestID in a
// tool's context is the id of the request that carried the call, not of
// the one that opened the session, so that a backend call made with
// proxy.Config{RequestID: audit.RequestID} joins the right audit event.
func TestContextRequestIDIsTheCallers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{
		{"stateful", nil},
		{"stateful-gosdk", []envOption{goSDKTransport}},
		{"stateful-json", []envOption{func(c *mcpserver.Config) { c.JSONResponse = true }}},
		{"stateless", []envOption{stateless}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "rid", Description: "request id"}, scopes.Public(),
				func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, map[string]string, error) {
					return nil, map[string]string{"rid": audit.RequestID(ctx)}, nil
				})
			hdr := bearer(e.alice)
			if tc.name != "stateless" {
				r := e.do(http.MethodPost, "/mcp", initializeBody, with(hdr, []string{"X-Request-Id", "opener-1"})...)
				require.Equal(t, "opener-1", r.Header.Get("X-Request-Id"))
				hdr = with(hdr, []string{"Mcp-Session-Id", r.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version", "2025-06-18"})
				require.Equal(t, http.StatusAccepted, e.do(http.MethodPost, "/mcp", initializedMsg, hdr...).Status)
			}
			for _, rid := range []string{"call-2", "call-3"} {
				r := e.do(http.MethodPost, "/mcp", callBody(2, "rid"), with(hdr, []string{"X-Request-Id", rid})...)
				require.Equal(t, rid, r.Header.Get("X-Request-Id"))
				require.Contains(t, r.Body, `"structuredContent":{"rid":"`+rid+`"}`)
			}
		})
	}
}

// A tool sees the caller as go-sdk's TokenInfo gives it, on either
// transport: UserID is issuer|subject, Scopes the token's, and the token
// of this very call (another token of the same user on the same session
// shows its own scopes).
func TestTokenInfoOfCall(t *testing.T) {
	direct, plain := transportPair(t)
	for _, e := range []*env{direct, plain} {
		addTokenInfoTool(e.srv)
		checkTokenInfo(t, e, "Mcp-Session-Id", e.session(e.alice), "Mcp-Protocol-Version", "2025-06-18")
	}
	n, _, _ := mcpserver.DirectCalls(direct.srv)
	require.NotZero(t, n, "the direct transport answered none of the calls")
}

// addTokenInfoTool adds the public tool "tokeninfo", which answers with
// the UserID and Scopes of its call's TokenInfo.
func addTokenInfoTool(srv *mcpserver.Server) {
	mcpserver.AddTool(srv, newTool("tokeninfo"), scopes.Public(),
		func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, tokenInfoOut, error) {
			ti := req.Extra.TokenInfo
			return nil, tokenInfoOut{UserID: ti.UserID, Scopes: ti.Scopes}, nil
		})
}

// checkTokenInfo calls "tokeninfo" on e with headers, first with alice's
// token, then with another token of alice's with other scopes, and
// requires each call to see its own token's scopes and alice's user key.
// It returns the second token.
func checkTokenInfo(t *testing.T, e *env, headers ...string) (other string) {
	t.Helper()
	other = e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read", "notes:write"))
	for i, tc := range []struct {
		token  string
		scopes string
	}{{e.alice, `["crm:read","crm:write","notes:read"]`}, {other, `["notes:read","notes:write"]`}} {
		r := e.do(http.MethodPost, "/mcp", callBody(10+i, "tokeninfo"), with(bearer(tc.token), headers)...)
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		require.Contains(t, r.Body, `"structuredContent":{"scopes":`+tc.scopes+`,"userID":"`+e.iss.URL()+`|alice"}`)
	}
	return other
}

type tokenInfoOut struct {
	UserID string   `json:"userID"`
	Scopes []string `json:"scopes"`
}

// TestShutdownWaitsForEvictedSessionCall: Shutdown returns only once the
// calls of every session have returned, those of a session that
// MaxSessionsPerUser evicted (out of the table, still closing) included:
// with a call of such a session still running, Shutdown ends with its
// context's error instead of reporting every session closed.
func TestShutdownWaitsForEvictedSessionCall(t *testing.T) {
	e := newEnv(t, func(c *mcpserver.Config) { c.MaxSessionsPerUser = 1 })
	started, release := make(chan struct{}), make(chan struct{})
	mcpserver.AddTool(e.srv, newTool("stuck"), scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, summaryOut, error) {
			close(started)
			<-release
			return nil, summaryOut{}, nil
		})
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	first := e.session(e.alice)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", strings.NewReader(callBody(1, "stuck")))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+e.alice)
		req.Header.Set("Mcp-Session-Id", first)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		if resp, err := e.http.Client().Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-started
	e.session(e.alice) // evicts first, whose call still runs

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, e.srv.Shutdown(ctx), context.DeadlineExceeded,
		"Shutdown reported every session closed while an evicted session's call still ran")
	released = true
	close(release)
	require.NoError(t, e.srv.Shutdown(context.Background()))
}
