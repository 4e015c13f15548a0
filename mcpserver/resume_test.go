package mcpserver_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
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
		require.Len(t, events, 2, "%q", r.Body)
		// The GET stream ends with alice's token: it opens with a priming
		// event, whose id resumes from where this GET did.
		require.Equal(t, "prime", events[0].name)
		require.Equal(t, "."+lastID, events[0].id[strings.Index(events[0].id, "."):])
		require.NotEmpty(t, events[1].id)
		require.NotEqual(t, lastID, events[1].id)
		require.Contains(t, events[1].data, `"id":2`)
		require.Contains(t, events[1].data, resumedText)
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

// Without an EventStore (the default), POST streams carry no event ids and
// a GET with a Last-Event-ID of go-sdk's form is refused.
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

// endListen sets Config.EndListenStreamsAtTokenExpiry.
func endListen(c *mcpserver.Config) { c.EndListenStreamsAtTokenExpiry = true }

// outlive sets Config.InsecureStreamsOutliveTokens.
func outlive(c *mcpserver.Config) { c.InsecureStreamsOutliveTokens = true }

// sseReader reads the events of a stream one at a time.
type sseReader struct {
	t    *testing.T
	resp *http.Response
	evs  chan sseEvent
}

// openGET opens the GET stream of session sid with token and reads its
// events as they come; lastEventID, if set, is sent as Last-Event-ID.
func (e *env) openGET(t *testing.T, token, sid, version, lastEventID string) *sseReader {
	req, err := http.NewRequest(http.MethodGet, e.http.URL+"/mcp", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", version)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := e.http.Client().Do(req)
	require.NoError(t, err)
	return readSSE(t, resp)
}

// reopenGET is openGET for a GET stream opened right after the test closed
// the session's previous one: the server may not have seen that stream go
// yet, and go-sdk answers 409 while it holds it, so a 409 is tried again
// (it has no effect) until the server has let the old stream go.
func (e *env) reopenGET(t *testing.T, token, sid, version, lastEventID string) *sseReader {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := e.openGET(t, token, sid, version, lastEventID)
		if s.resp.StatusCode != http.StatusConflict || time.Now().After(deadline) {
			return s
		}
		s.resp.Body.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

// readSSE reads the events of resp's stream as they come.
func readSSE(t *testing.T, resp *http.Response) *sseReader {
	t.Cleanup(func() { resp.Body.Close() }) // should the stream not end
	s := &sseReader{t: t, resp: resp, evs: make(chan sseEvent, 16)}
	go func() {
		defer close(s.evs)
		br := bufio.NewReader(resp.Body)
		var block strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line != "\n" {
				block.WriteString(line)
				continue
			}
			if evs := parseSSE(block.String()); len(evs) == 1 && evs[0] != (sseEvent{}) {
				s.evs <- evs[0] // not a comment
			}
			block.Reset()
		}
	}()
	return s
}

// next returns the stream's next event, failing the test if none comes
// within d or the stream ends.
func (s *sseReader) next(d time.Duration) sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.evs:
		require.True(s.t, ok, "the stream ended")
		return ev
	case <-time.After(d):
		s.t.Fatal("no event")
	}
	return sseEvent{}
}

// ends reports whether the stream ends within d, its remaining events
// read and discarded.
func (s *sseReader) ends(d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-s.evs:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// TestGETStreamEndsWithItsToken: by default a GET stream lasts no longer
// than the token it was opened with, so that a client whose access has
// ended stops receiving the session's messages; and a token past its exp
// (within the verifier's leeway, which a POST still gets) opens no stream,
// but gets the expired token's challenge, so that the client refreshes
// first. Each stream opens with a priming event whose id, sent back as
// Last-Event-ID with a fresh token, opens the next stream (go-sdk alone
// refuses a Last-Event-ID without an EventStore), under an id of its own.
func TestGETStreamEndsWithItsToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{
		{"direct", nil},
		{"gosdk", []envOption{goSDKTransport}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			const version = "2025-06-18"
			short := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read"), identitytest.ExpiresIn(2*time.Second))
			sid := e.sessionAt(short, version)

			s := e.openGET(t, short, sid, version, "")
			require.Equal(t, http.StatusOK, s.resp.StatusCode)
			prime := s.next(5 * time.Second)
			require.Equal(t, "prime", prime.name)
			require.True(t, strings.HasPrefix(prime.id, "idgate-"), "%+v", prime)
			require.Empty(t, prime.data)
			require.True(t, s.ends(10*time.Second), "the stream outlived its token")

			// Past exp, within the default leeway: a POST is served, a GET
			// stream is not opened.
			r := e.do(http.MethodPost, "/mcp", callBody(7, "whoami"), with(bearer(short), []string{"Mcp-Session-Id", sid, "Mcp-Protocol-Version", version})...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			expired := e.openGET(t, short, sid, version, prime.id)
			require.Equal(t, http.StatusUnauthorized, expired.resp.StatusCode)
			require.Equal(t, `Bearer resource_metadata="`+prmURL+`", scope="`+wantScopes+`", error="invalid_token", error_description="token expired"`,
				expired.resp.Header.Get("WWW-Authenticate"))

			// A fresh token of the same user resumes from the priming id:
			// a new stream, with an id of its own, that delivers the
			// session's messages.
			fresh := e.openGET(t, e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read")), sid, version, prime.id)
			require.Equal(t, http.StatusOK, fresh.resp.StatusCode)
			again := fresh.next(5 * time.Second)
			require.Equal(t, "prime", again.name)
			require.True(t, strings.HasPrefix(again.id, "idgate-"), "%+v", again)
			require.NotEqual(t, prime.id, again.id)
			addListedTool(e.srv, "added")
			msg := fresh.next(5 * time.Second)
			require.Contains(t, msg.data, "notifications/tools/list_changed")

			// Another user's token on the session is refused as before,
			// priming id or not.
			bob := e.openGET(t, e.bob, sid, version, again.id)
			require.Equal(t, http.StatusForbidden, bob.resp.StatusCode)
		})
	}
}

// addListedTool adds a public tool named name, which makes go-sdk notify
// every session that the tool list changed.
func addListedTool(srv *mcpserver.Server, name string) {
	mcpserver.AddTool(srv, &mcp.Tool{Name: name, Description: "added by the test"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
}

// TestGETStreamOutlivesTokenWhenAllowed: with
// Config.InsecureStreamsOutliveTokens a GET stream goes on past its
// token's expiry, as before, and carries no priming event.
func TestGETStreamOutlivesTokenWhenAllowed(t *testing.T) {
	e := newEnv(t, outlive)
	const version = "2025-06-18"
	short := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read"), identitytest.ExpiresIn(time.Second))
	sid := e.sessionAt(short, version)
	s := e.openGET(t, short, sid, version, "")
	require.Equal(t, http.StatusOK, s.resp.StatusCode)
	time.Sleep(2500 * time.Millisecond) // past exp (whole seconds)
	addListedTool(e.srv, "added")
	msg := s.next(5 * time.Second)
	require.Contains(t, msg.data, "notifications/tools/list_changed", "the first event is the message: no priming event")
}

// TestGETStreamResumesWithEventStore: with an EventStore go-sdk numbers
// the GET stream's events itself; a priming id carries the Last-Event-ID
// its stream was opened with, so that a client resuming from it is
// replayed exactly what it missed: nothing twice.
func TestGETStreamResumesWithEventStore(t *testing.T) {
	e := newEnv(t, withEventStore)
	const version = "2025-11-25"
	sid := e.sessionAt(e.alice, version)

	s1 := e.openGET(t, e.alice, sid, version, "")
	p1 := s1.next(5 * time.Second)
	require.Equal(t, "prime", p1.name)
	addListedTool(e.srv, "first")
	m1 := s1.next(5 * time.Second)
	require.Contains(t, m1.data, "notifications/tools/list_changed")
	require.NotEmpty(t, m1.id, "go-sdk's id")
	s1.resp.Body.Close()
	require.True(t, s1.ends(5*time.Second))

	// Resuming from go-sdk's id: nothing missed, a priming id that
	// carries it.
	s2 := e.reopenGET(t, e.alice, sid, version, m1.id)
	require.Equal(t, http.StatusOK, s2.resp.StatusCode)
	p2 := s2.next(5 * time.Second)
	require.Equal(t, "prime", p2.name)
	require.True(t, strings.HasSuffix(p2.id, "."+m1.id), "%q carries %q", p2.id, m1.id)
	s2.resp.Body.Close()
	require.True(t, s2.ends(5*time.Second))

	// A message sent while no stream is open is stored; resuming from
	// the priming id replays it, and only it.
	addListedTool(e.srv, "second")
	time.Sleep(200 * time.Millisecond) // past go-sdk's 10 ms notification delay
	s3 := e.reopenGET(t, e.alice, sid, version, p2.id)
	require.Equal(t, http.StatusOK, s3.resp.StatusCode)
	p3 := s3.next(5 * time.Second)
	require.Equal(t, "prime", p3.name)
	m2 := s3.next(5 * time.Second)
	require.Contains(t, m2.data, "notifications/tools/list_changed")
	require.NotEqual(t, m1.id, m2.id, "the event already delivered is not replayed")
}

// TestListenStreamEndsWithItsToken: at protocol 2026-07-28 the long-lived
// stream is a subscriptions/listen POST; with
// EndListenStreamsAtTokenExpiry it too ends when its token expires.
func TestListenStreamEndsWithItsToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{{"direct", []envOption{stateless}}, {"gosdk", []envOption{stateless, goSDKTransport}}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, append(tc.opts, endListen)...)
			short := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read"), identitytest.ExpiresIn(2*time.Second))
			s := e.openListen(t, short)
			require.Equal(t, http.StatusOK, s.resp.StatusCode)
			require.True(t, s.ends(10*time.Second), "the listen stream outlived its token")
		})
	}
}

// refreshingToken returns alice's token (crm:read) as a client that
// refreshes ahead of expiry holds it: tokens of 1.5 s, a new one every
// 100 ms, so that the token held has 0.4 s left or more (exp is in whole
// seconds). The refreshing stops with the test.
func (e *env) refreshingToken(t *testing.T) *atomic.Pointer[string] {
	mint := func() string {
		return e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read"), identitytest.ExpiresIn(1500*time.Millisecond))
	}
	tok := &atomic.Pointer[string]{}
	first := mint()
	tok.Store(&first)
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				s := mint()
				tok.Store(&s)
			}
		}
	}()
	return tok
}

// countingTransport counts the GET requests a client makes.
type countingTransport struct {
	base http.RoundTripper
	gets *atomic.Int32
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.gets.Add(1)
	}
	return c.base.RoundTrip(r)
}

// TestGoSDKClientSurvivesTokenRefreshes: a go-sdk client with its
// standalone stream on, whose token is refreshed before it expires, keeps
// its session over many token lifetimes, though the server ends its GET
// stream at each expiry: the client counts a stream that ends without a
// new event id as a retry without progress and fails the session after
// MaxRetries+1 of them (six by default), and each stream's priming event
// is that progress. Messages
// still reach the client on its latest stream.
func TestGoSDKClientSurvivesTokenRefreshes(t *testing.T) {
	e := newEnv(t)
	tok := e.refreshingToken(t)
	gets := &atomic.Int32{}
	changed := make(chan struct{}, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   e.http.URL + "/mcp",
		HTTPClient: &http.Client{Transport: countingTransport{gets: gets, base: bearerTransport{token: tok, base: e.http.Client().Transport}}},
		MaxRetries: 2,
	}, nil)
	require.NoError(t, err)
	defer cs.Close()
	// go-sdk reconnects about a second after a stream ends, and a stream
	// lasts until its token's exp (whole seconds, 0.4 to 1.5 s here): 10 s
	// are four or five streams, past the third end, which fails the
	// session (MaxRetries 2) when streams carry no event ids.
	time.Sleep(10 * time.Second)
	_, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "salesRead", Arguments: map[string]any{}})
	require.NoError(t, err, "the session broke while its client kept a valid token")
	require.GreaterOrEqual(t, gets.Load(), int32(4), "the server ended the client's stream at each token's expiry")

	// The latest stream delivers: go-sdk reconnects about a second after
	// a stream ends, so the notification is sent until one arrives.
	for i := 0; ; i++ {
		addListedTool(e.srv, "added"+strconv.Itoa(i))
		select {
		case <-changed:
			return
		case <-time.After(500 * time.Millisecond):
			require.Less(t, i, 10, "no notification reached the client's stream")
		}
	}
}

// openListen opens a 2026-07-28 subscriptions/listen stream with token,
// subscribed to tools/list changes, and reads its events as they come.
func (e *env) openListen(t *testing.T, token string) *sseReader {
	body := `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"_meta":` + newMeta + `,"notifications":{"toolsListChanged":true}}}`
	req, err := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "subscriptions/listen")
	resp, err := e.http.Client().Do(req)
	require.NoError(t, err)
	return readSSE(t, resp)
}

// TestListenStreamsPerUserBounded: a user holds at most
// MaxListenStreamsPerUser subscriptions/listen streams at once; opening
// one more ends their oldest, not another user's, and the others go on
// delivering notifications.
func TestListenStreamsPerUserBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{{"direct", []envOption{stateless}}, {"gosdk", []envOption{stateless, goSDKTransport}}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, append(tc.opts, func(c *mcpserver.Config) { c.MaxListenStreamsPerUser = 2 })...)
			open := func(token string) *sseReader {
				s := e.openListen(t, token)
				require.Equal(t, http.StatusOK, s.resp.StatusCode)
				ack := s.next(5 * time.Second) // the stream is registered
				require.Contains(t, ack.data, "notifications/subscriptions/acknowledged")
				return s
			}
			bob := open(e.bob)
			a1, a2 := open(e.alice), open(e.alice)
			a3 := open(e.alice)
			require.True(t, a1.ends(10*time.Second), "alice's oldest stream was not ended")
			addListedTool(e.srv, "added")
			for _, s := range []*sseReader{a2, a3, bob} {
				require.Contains(t, s.next(5*time.Second).data, "notifications/tools/list_changed")
			}
		})
	}
}

// TestResumedCallStreamEndsWithAnID: a GET that resumes a call's stream
// (Last-Event-ID of go-sdk's form, with an EventStore) is a GET stream:
// it ends with its token. go-sdk writes nothing on a resumed call stream
// until the call sends something, so a stream that ended at its token's
// expiry before the call answered must still give the client an id to
// resume from (the priming event): without one go-sdk's client fails the
// call ("request terminated without response"). Resuming from that id
// with a fresh token gets the answer.
func TestResumedCallStreamEndsWithAnID(t *testing.T) {
	const version = "2025-11-25"
	e := newEnv(t, withEventStore)
	release := make(chan struct{})
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "slow", Description: "closes its stream, answers when released"}, scopes.Public(),
		func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
			req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: time.Millisecond})
			select {
			case <-release:
			case <-ctx.Done():
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: resumedText}}}, nil, nil
		})
	sid := e.sessionAt(e.alice, version)
	r := e.do(http.MethodPost, "/mcp", callBody(2, "slow"), with(bearer(e.alice), []string{"Mcp-Protocol-Version", version, "Mcp-Session-Id", sid})...)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	events := parseSSE(r.Body)
	require.NotEmpty(t, events, "%q", r.Body)
	callID := events[0].id
	require.NotEmpty(t, callID, "go-sdk's priming event: %q", r.Body)

	short := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("notes:read"), identitytest.ExpiresIn(2*time.Second))
	s := e.openGET(t, short, sid, version, callID)
	require.Equal(t, http.StatusOK, s.resp.StatusCode)
	var got []sseEvent
	for ev := range s.evs { // until the stream ends, at the token's expiry
		got = append(got, ev)
	}
	require.NotEmpty(t, got, "the stream ended with nothing to resume from")
	prime := got[len(got)-1]
	require.Equal(t, "prime", prime.name)
	require.True(t, strings.HasPrefix(prime.id, "idgate-") && strings.HasSuffix(prime.id, "."+callID), "%+v", prime)

	close(release)
	fresh := e.openGET(t, e.alice, sid, version, prime.id)
	require.Equal(t, http.StatusOK, fresh.resp.StatusCode)
	for {
		ev := fresh.next(5 * time.Second)
		if ev.name == "prime" {
			continue
		}
		require.Contains(t, ev.data, `"id":2`)
		require.Contains(t, ev.data, resumedText)
		break
	}
}

// TestGoSDKClientCallOutlastsItsTokens: go-sdk's client resumes a call
// whose stream the tool closed with GET streams; the call lasts longer
// than the client's tokens (refreshed ahead of expiry), so the first
// resumed stream ends with its token before the answer. Without an id
// on that stream the client fails the call ("request terminated without
// response"); with the priming id it resumes again and gets the answer.
func TestGoSDKClientCallOutlastsItsTokens(t *testing.T) {
	e := newEnv(t, withEventStore)
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "long", Description: "closes its stream, answers after 4 s"}, scopes.Public(),
		func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
			req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: time.Millisecond})
			select {
			case <-time.After(4 * time.Second): // past the 1.5 s tokens' exp
			case <-ctx.Done():
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: resumedText}}}, nil, nil
		})
	tok := e.refreshingToken(t)
	gets := &atomic.Int32{}
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             e.http.URL + "/mcp",
		HTTPClient:           &http.Client{Transport: countingTransport{gets: gets, base: bearerTransport{token: tok, base: e.http.Client().Transport}}},
		DisableStandaloneSSE: true, // every GET resumes the call
	}, nil)
	require.NoError(t, err)
	defer cs.Close()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "long", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.Equal(t, resumedText, res.Content[0].(*mcp.TextContent).Text)
	require.GreaterOrEqual(t, gets.Load(), int32(2), "a resumed stream ended with its token before the answer")
}
