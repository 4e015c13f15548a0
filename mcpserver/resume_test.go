package mcpserver_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// resumedText is what the "interrupted" tool answers, after closing its
// stream: a client sees it only by resuming the stream.
const resumedText = "answered after the stream closed"

// withEventStore gives the test server a memory event store and the
// public tool "interrupted", which closes its SSE stream before answering.
func withEventStore(c *mcpserver.Config) { c.EventStore = mcp.NewMemoryEventStore(nil) }

func addInterruptedTool(srv *mcpserver.Server) {
	mcpserver.AddTool(srv, &mcp.Tool{Name: "interrupted", Description: "closes its stream, then answers"}, scopes.Public(),
		func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
			if req.Extra != nil && req.Extra.CloseSSEStream != nil {
				req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: time.Millisecond})
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: resumedText}}}, nil, nil
		})
}

// sseEvent is one server-sent event of a raw response body.
type sseEvent struct {
	name, id, retry, data string
}

// parseSSE splits a text/event-stream body into its events.
func parseSSE(body string) []sseEvent {
	var events []sseEvent
	for _, block := range strings.Split(body, "\n\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		var e sseEvent
		for _, line := range strings.Split(block, "\n") {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				e.name = value
			case "id":
				e.id = value
			case "retry":
				e.retry = value
			case "data":
				e.data += value
			}
		}
		events = append(events, e)
	}
	return events
}

// sessionAt opens a raw stateful session for token speaking protocol
// version and returns its id.
func (e *env) sessionAt(token, version string) string {
	e.t.Helper()
	init := strings.Replace(initializeBody, "2025-06-18", version, 1)
	r := e.do(http.MethodPost, "/mcp", init, bearer(token)...)
	require.Equal(e.t, http.StatusOK, r.Status, r.Body)
	sid := r.Header.Get("Mcp-Session-Id")
	require.NotEmpty(e.t, sid)
	r = e.do(http.MethodPost, "/mcp", initializedMsg, with(bearer(token), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", version})...)
	require.Equal(e.t, http.StatusAccepted, r.Status, r.Body)
	return sid
}

// With Config.EventStore, a POST stream opens with a priming event; a tool
// that closes the stream mid-call leaves its answer in the store, and the
// session's user gets it by resuming with GET and Last-Event-ID. The GET
// is bound to the session's user like every request (SPEC 23): another
// user's token on the session is refused, and a Last-Event-ID of another
// session replays nothing.
func TestResumableStreams(t *testing.T) {
	const version = "2025-11-25" // priming events and resumption: 2025-11-25 to 2026-07-28
	e := newEnv(t, withEventStore)
	addInterruptedTool(e.srv)
	aliceSID := e.sessionAt(e.alice, version)
	bobSID := e.sessionAt(e.bob, version)
	proto := []string{"Mcp-Protocol-Version", version}

	r := e.do(http.MethodPost, "/mcp", callBody(2, "interrupted"), with(bearer(e.alice), proto, []string{"Mcp-Session-Id", aliceSID})...)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Equal(t, "text/event-stream", r.Header.Get("Content-Type"))
	events := parseSSE(r.Body)
	require.Len(t, events, 2, "a priming event, then the close event: %q", r.Body)
	require.NotEmpty(t, events[0].id, "the priming event carries an event id")
	require.Empty(t, events[0].data, "the priming event carries no message")
	require.Equal(t, "1", events[1].retry, "the close event sets the reconnection delay (ms)")
	require.NotContains(t, r.Body, resumedText, "the stream closed before the answer")
	lastID := events[0].id

	tests := []struct {
		name       string
		headers    []string
		wantStatus int
	}{
		{"bob on alice's session", with(bearer(e.bob), []string{"Mcp-Session-Id", aliceSID}), http.StatusForbidden},
		{"bob on his own session, alice's event id", with(bearer(e.bob), []string{"Mcp-Session-Id", bobSID}), http.StatusBadRequest},
		{"no session", bearer(e.alice), http.StatusBadRequest},
		{"no token", []string{"Mcp-Session-Id", aliceSID}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodGet, "/mcp", "", with(tc.headers, proto, []string{"Accept", "text/event-stream", "Last-Event-ID", lastID})...)
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
			require.NotContains(t, r.Body, resumedText)
		})
	}

	t.Run("alice resumes and gets the answer", func(t *testing.T) {
		r := e.do(http.MethodGet, "/mcp", "", with(bearer(e.alice), proto,
			[]string{"Mcp-Session-Id", aliceSID, "Accept", "text/event-stream", "Last-Event-ID", lastID})...)
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		events := parseSSE(r.Body)
		require.Len(t, events, 1, "%q", r.Body)
		require.NotEmpty(t, events[0].id)
		require.NotEqual(t, lastID, events[0].id)
		require.Contains(t, events[0].data, `"id":2`)
		require.Contains(t, events[0].data, resumedText)
	})

	// The refused attempts are audited as such.
	e.http.Close() // waits for every request to finish, and so to be audited
	var reasons []string
	for _, ev := range e.logs.events(t) {
		if ev["http_method"] == http.MethodGet {
			reasons = append(reasons, stringOr(ev["decision"])+"/"+stringOr(ev["reason"]))
		}
	}
	require.Contains(t, reasons, "deny/session_user_mismatch")
	require.Contains(t, reasons, "deny/missing_token")
}

// go-sdk's own client resumes by itself: the call whose stream the server
// closed returns the answer.
func TestResumableStreamsWithClient(t *testing.T) {
	e := newEnv(t, withEventStore)
	addInterruptedTool(e.srv)
	tok := &atomic.Pointer[string]{}
	tok.Store(&e.alice)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             e.http.URL + "/mcp",
		HTTPClient:           &http.Client{Transport: bearerTransport{token: tok, base: e.http.Client().Transport}},
		DisableStandaloneSSE: true, // MaxRetries left at its default: the client reconnects
	}, nil)
	require.NoError(t, err)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "interrupted", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.Equal(t, resumedText, res.Content[0].(*mcp.TextContent).Text)
	require.NoError(t, cs.Close())
	e.http.Close() // waits for every request to finish, and so to be audited
	resumed := false
	for _, ev := range e.logs.events(t) {
		resumed = resumed || (ev["http_method"] == http.MethodGet && ev["status"] == float64(http.StatusOK) && ev["decision"] == "allow")
	}
	require.True(t, resumed, "the answer came on a resumed GET stream")
}

// Without an EventStore (the default), streams carry no event ids and a
// GET with Last-Event-ID is refused.
func TestStreamsNotResumableByDefault(t *testing.T) {
	const version = "2025-11-25"
	e := newEnv(t)
	addInterruptedTool(e.srv)
	sid := e.sessionAt(e.alice, version)
	hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", version, "Mcp-Session-Id", sid})
	r := e.do(http.MethodPost, "/mcp", callBody(2, "whoami"), hdr...)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	for _, ev := range parseSSE(r.Body) {
		require.Empty(t, ev.id, "no event ids without a store: %q", r.Body)
	}
	r = e.do(http.MethodGet, "/mcp", "", with(hdr, []string{"Accept", "text/event-stream", "Last-Event-ID", "abc_0"})...)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Body)
}

// endStreams sets Config.EndStreamsAtTokenExpiry.
func endStreams(c *mcpserver.Config) { c.EndStreamsAtTokenExpiry = true }

// TestGETStreamEndsWithItsToken: with EndStreamsAtTokenExpiry a GET stream
// lasts no longer than the
// token it was opened with, so that a client whose access has ended stops
// receiving the session's messages; and a token past its exp (within the
// verifier's leeway, which a POST still gets) opens no stream, but gets
// the expired token's challenge, so that the client refreshes first.
func TestGETStreamEndsWithItsToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{
		{"direct", nil},
		{"gosdk", []envOption{goSDKTransport}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, append(tc.opts, endStreams)...)
			const version = "2025-06-18"
			short := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read"), identitytest.ExpiresIn(2*time.Second))
			sid := e.sessionAt(short, version)
			get := func(token string) *http.Response {
				req, err := http.NewRequest(http.MethodGet, e.http.URL+"/mcp", nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Accept", "text/event-stream")
				req.Header.Set("Mcp-Session-Id", sid)
				req.Header.Set("Mcp-Protocol-Version", version)
				resp, err := e.http.Client().Do(req)
				require.NoError(t, err)
				return resp
			}

			resp := get(short)
			t.Cleanup(func() { resp.Body.Close() }) // should the stream not end
			require.Equal(t, http.StatusOK, resp.StatusCode)
			ended := make(chan struct{})
			go func() {
				_, _ = io.Copy(io.Discard, resp.Body)
				close(ended)
			}()
			select {
			case <-ended:
			case <-time.After(10 * time.Second):
				t.Fatal("the stream outlived its token")
			}

			// Past exp, within the default leeway: a POST is served, a GET
			// stream is not opened.
			r := e.do(http.MethodPost, "/mcp", callBody(7, "whoami"), with(bearer(short), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", version})...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			expired := get(short)
			expired.Body.Close()
			require.Equal(t, http.StatusUnauthorized, expired.StatusCode)
			require.Equal(t, `Bearer resource_metadata="`+prmURL+`", scope="`+wantScopes+`", error="invalid_token", error_description="token expired"`,
				expired.Header.Get("WWW-Authenticate"))

			// A fresh token of the same user opens a stream again.
			fresh := get(e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read")))
			fresh.Body.Close()
			require.Equal(t, http.StatusOK, fresh.StatusCode)
		})
	}
}

// TestListenStreamEndsWithItsToken: at protocol 2026-07-28 the long-lived
// stream is a subscriptions/listen POST; it too ends when its token
// expires.
func TestListenStreamEndsWithItsToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{{"direct", []envOption{stateless}}, {"gosdk", []envOption{stateless, goSDKTransport}}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, append(tc.opts, endStreams)...)
			short := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read"), identitytest.ExpiresIn(2*time.Second))
			body := `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"_meta":` + newMeta + `,"notifications":{"toolsListChanged":true}}}`
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.http.URL+"/mcp", strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+short)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
			req.Header.Set("Mcp-Method", "subscriptions/listen")
			resp, err := e.http.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			start := time.Now()
			_, _ = io.Copy(io.Discard, resp.Body)
			require.Less(t, time.Since(start), 10*time.Second, "the listen stream outlived its token")
			require.NoError(t, ctx.Err(), "ended by the server, not by the test's deadline")
		})
	}
}

// TestGoSDKClientSurvivesTokenRefreshes: by default (no
// EndStreamsAtTokenExpiry) a go-sdk client with its standalone stream on,
// whose token is refreshed before it expires, keeps its session over many
// token lifetimes. Were the server to end the stream at each expiry, the
// client would count each reconnect as a retry without progress (no event
// ids without an EventStore) and fail the session after the sixth.
func TestGoSDKClientSurvivesTokenRefreshes(t *testing.T) {
	e := newEnv(t)
	mint := func() string {
		return e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read"), identitytest.ExpiresIn(time.Second))
	}
	tok := &atomic.Pointer[string]{}
	first := mint()
	tok.Store(&first)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a client refreshing ahead of expiry
		for {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
				s := mint()
				tok.Store(&s)
			}
		}
	}()
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   e.http.URL + "/mcp",
		HTTPClient: &http.Client{Transport: bearerTransport{token: tok, base: e.http.Client().Transport}},
	}, nil)
	require.NoError(t, err)
	defer cs.Close()
	time.Sleep(9 * time.Second) // eight token lifetimes (exp is in whole seconds)
	_, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "salesRead", Arguments: map[string]any{}})
	require.NoError(t, err, "the session broke while its client kept a valid token")
}
