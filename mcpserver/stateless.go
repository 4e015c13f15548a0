package mcpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The direct transport of a stateless server.
//
// For every POST, go-sdk's stateless handler reads and decodes the body to
// build a session for it alone, connects that session to a transport of
// its own, and has the transport decode the body again: four decodes
// before the server's own two, each through a fresh 32 KiB buffer (a
// stateless tools/call allocated ~310 KB, four times a stateful one). For
// a plain call (as the stateful direct transport defines it: tools/call,
// tools/list or ping, one message, an integer or plain string id, params
// without _meta, a protocol version before 2026-07-28) idgate does what
// that handler does with what the step-up check has already read: it
// connects a session for the request alone, with the state go-sdk gives
// it (initialized at the request's protocol version, log level "info"), to
// a connection that hands the server the call and takes back the messages
// for it, and writes them as go-sdk's stream would. With
// Config.JSONResponse the answer is the response alone, as
// application/json, and what the handler sends in the call's context is
// refused, as go-sdk's transport refuses it (it sends such messages on
// the standalone stream, which a stateless session never has). A
// tools/call of protocol 2026-07-28 is answered the same way when go-sdk
// would accept it as it comes (sep2575.go). Everything else (GET, DELETE,
// initialize, notifications, batches, custom methods, what go-sdk refuses
// or answers differently at 2026-07-28) goes to go-sdk's handler,
// untouched.
//
// As on go-sdk's stateless transport, the server cannot send the client a
// request (an elicitation, a sampling request) on such a session, and a
// message the handler sends outside the call's context, or after its
// response, has no stream to go to; each is refused with the error
// go-sdk's transport returns.
// TestStatelessDirectMatchesGoSDK holds the two to the same answers on
// the wire.

// errRejected is go-sdk's jsonrpc2.ErrRejected (internal to go-sdk): the
// same code, so errors.Is matches either.
var errRejected = &jsonrpc.Error{Code: -32005, Message: "rejected by transport"}

// errNotConnected is go-sdk's error for a message to a stream no request
// is reading.
var errNotConnected = errors.New("stream not connected or already closed")

// statelessTransport answers, for the sessions of the stateless direct
// path, which protocol versions they support: those of go-sdk's stateless
// transport.
var statelessTransport = &mcp.StreamableServerTransport{Stateless: true}

// statelessDirect serves the MCP endpoint of a stateless server: plain
// calls directly, everything else on go-sdk's handler.
type statelessDirect struct {
	srv *mcp.Server
	// versions are the protocol versions the server accepts in
	// Mcp-Protocol-Version.
	versions []string
	// slow is go-sdk's handler (behind bindSession when authentication is
	// on, which puts the caller's auth.TokenInfo where go-sdk reads it).
	slow http.Handler
	// tokenInfo returns the auth.TokenInfo of a request's caller (nil
	// without authentication).
	tokenInfo func(r *http.Request) *auth.TokenInfo

	// calls maps the *mcp.RequestExtra of each call answered directly to
	// its *directCall, for the receiving middleware (relate).
	calls sync.Map
	// answered counts the calls answered directly (tests read it).
	answered atomic.Uint64
	// fast dispatches tools/call to the server's method handler.
	fast *dispatcher
	// json answers calls with application/json (Config.JSONResponse).
	json bool
	// impl is the server's name, which 2026-07-28 results carry.
	impl *mcp.Implementation
	// toolHeaders reports whether a tool binds arguments to Mcp-Param-*
	// headers, and whether idgate knows the tool (see newCall).
	toolHeaders func(name string) (bound, known bool)
}

// newStatelessDirect returns the stateless direct transport of srv, with
// sdk (go-sdk's stateless handler) for everything it does not answer,
// dispatching tools/call through fast. impl is the server's name; authOn
// says whether requests reach it with an identity; json whether calls are
// answered with application/json, as go-sdk's handler answers them with
// JSONResponse; toolHeaders is Server.toolHeaders.
func newStatelessDirect(srv *mcp.Server, impl *mcp.Implementation, opts *mcp.ServerOptions, sdk http.Handler, authOn, json bool, fast *dispatcher, toolHeaders func(string) (bool, bool)) *statelessDirect {
	t := &statelessDirect{srv: srv, impl: impl, slow: sdk, versions: serverVersions(opts), fast: fast, json: json, toolHeaders: toolHeaders}
	t.tokenInfo = func(*http.Request) *auth.TokenInfo { return nil }
	if authOn {
		t.slow = bindSession(sdk)
		t.tokenInfo = func(r *http.Request) *auth.TokenInfo {
			ti, err := passThroughAs(r.Context(), "")
			if err != nil {
				return nil
			}
			return ti
		}
	}
	return t
}

// relate returns ctx with the call req came by, when it came by the direct
// path, so that what the handler sends in that context goes on the call's
// stream.
func (t *statelessDirect) relate(ctx context.Context, req mcp.Request) context.Context {
	return relateCall(&t.calls, ctx, req)
}

func (t *statelessDirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// go-sdk's checks before it reads the body, in its order; whatever
	// would fail one goes its way to be refused there.
	version := r.Header.Get(headerProtocolVersion)
	if r.Method != http.MethodPost ||
		version != "" && !slices.Contains(t.versions, version) ||
		baseMediaType(r.Header.Get("Content-Type")) != "application/json" {
		t.slow.ServeHTTP(w, r)
		return
	}
	if jsonOK, streamOK := accepts(r.Header.Values("Accept")); !jsonOK || !streamOK ||
		len(r.Header.Values(headerLastEventID)) != 0 {
		t.slow.ServeHTTP(w, r)
		return
	}
	if version == "" {
		version = protocolVersionDefault
	}
	if version >= protocolVersionNew && (version != protocolVersionNew || !t.fast.on()) {
		t.slow.ServeHTTP(w, r)
		return
	}
	// Behind the step-up check the body is already read and scanned, into
	// a pooled buffer reused once the request is done: the call's params,
	// which the server may hold on to, are copied out of it.
	var one [1]peeked
	pb, _, msgs, batch, ok, read := scanBody(w, r, one[:0], func(err error) string { return fmt.Sprintf("failed to read body: %v", err) })
	if !read {
		return
	}
	if ok && !batch {
		m := &msgs[0]
		if version == protocolVersionNew {
			if pb != nil {
				m.params = bytes.Clone(m.params)
			}
			if req, params, init, ok := t.newCall(m, r.Header, version); ok {
				t.direct(w, r, req, version, &newProtocolCall{params: params, init: init})
				return
			}
			if req, list, init, ok := newList(m, r.Header, version); ok {
				t.direct(w, r, req, version, &newProtocolCall{list: list, init: init})
				return
			}
			if req, discover, init, ok := newDiscover(m, r.Header, version); ok {
				t.direct(w, r, req, version, &newProtocolCall{discover: discover, init: init})
				return
			}
		} else if req, ok := directRequest(m); ok {
			if pb != nil {
				req.Params = bytes.Clone(req.Params)
			}
			t.direct(w, r, req, version, nil)
			return
		}
	}
	t.slow.ServeHTTP(w, r)
}

// newProtocolCall is what newCall makes of a 2026-07-28 tools/call
// (params), newList of a tools/list (list), or newDiscover of a
// server/discover (discover).
type newProtocolCall struct {
	params   *mcp.CallToolParamsRaw
	list     *mcp.ListToolsParams
	discover *mcp.DiscoverParams
	init     *mcp.InitializeParams
}

// direct serves a plain call on a session of its own, as go-sdk's
// stateless handler would: the session is initialized at the request's
// protocol version, and closed once the call is answered.
//
// A tools/call is dispatched to the server's method handler here
// (dispatcher) when it may be, rather than read by the session: its
// handler's context derives from the request's, without its cancellation,
// as go-sdk's would, and the session ends once the handler has returned,
// as go-sdk's ServerSession.Close waits for it.
//
// A 2026-07-28 tools/call, tools/list or server/discover (nc not nil) is
// always dispatched: its session is
// given the initialize params its _meta carries, and nothing else, as
// go-sdk's session is; its stream cannot be closed early; its result
// names the server, and a protocol error is answered with its own status
// (see sep2575.go).
func (t *statelessDirect) direct(w http.ResponseWriter, r *http.Request, req *jsonrpc.Request, version string, nc *newProtocolCall) {
	c := &directCall{wake: make(chan struct{}, 1), json: t.json}
	extra := &mcp.RequestExtra{TokenInfo: t.tokenInfo(r), Header: r.Header, CloseSSEStream: c.closeStream}
	req.Extra = extra
	state := &mcp.ServerSessionState{
		InitializeParams:  &mcp.InitializeParams{ProtocolVersion: version},
		InitializedParams: &mcp.InitializedParams{},
		LogLevel:          "info",
	}
	var params *mcp.CallToolParamsRaw
	switch {
	case nc != nil:
		params, c.own = nc.params, true
		state = &mcp.ServerSessionState{InitializeParams: nc.init}
		extra.CloseSSEStream = func(mcp.CloseSSEStreamArgs) {}
		c.serverInfo = t.impl
	case req.Method == "tools/call" && t.fast.on():
		params, c.own = callParams(req.Params)
	}
	conn := &statelessConn{req: req, call: c, done: make(chan struct{})}
	if c.own {
		conn.read = true // the session reads nothing: the call is dispatched
	} else {
		t.calls.Store(extra, c)
		defer t.calls.Delete(extra)
	}
	ss, err := t.srv.Connect(r.Context(), conn, &mcp.ServerSessionOptions{State: state})
	if err != nil {
		http.Error(w, "failed connection", http.StatusInternalServerError)
		return
	}
	defer ss.Close()
	if t.json {
		// go-sdk's headers for an application/json answer.
		h := w.Header()
		h.Set("Cache-Control", "no-cache, no-transform")
		h.Set("Content-Type", "application/json")
	} else {
		setStreamHeaders(w)
	}
	t.answered.Add(1)
	if !c.own {
		defer c.end()
		writeCallStream(w, r, c, conn.done, version)
		return
	}
	// The handler runs here, in the request's goroutine, and writes the
	// call's stream as it goes (see directTable.direct).
	var ctx context.Context
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(r.Context()))
	c.inline(w, version, r.Context())
	defer c.end() // before ss.Close, also if the handler panics
	var call mcp.Request = &mcp.CallToolRequest{Session: ss, Params: params, Extra: extra}
	switch {
	case nc == nil:
	case nc.list != nil:
		call = &mcp.ListToolsRequest{Session: ss, Params: nc.list, Extra: extra}
	case nc.discover != nil:
		call = &mcp.ServerRequest[*mcp.DiscoverParams]{Session: ss, Params: nc.discover, Extra: extra}
	}
	c.run(newCallContext(ctx, c, r, extra.TokenInfo), t.fast, req.ID, req.Method, call)
}

// statelessConn is the connection of a session the stateless direct path
// opens for one call: it hands the server the call, and takes back the
// response and what the handler sends in the call's context.
type statelessConn struct {
	req  *jsonrpc.Request
	call *directCall

	mu   sync.Mutex
	read bool // the call has been read
	done chan struct{}
	once sync.Once
}

// Connect implements mcp.Transport.
func (c *statelessConn) Connect(context.Context) (mcp.Connection, error) { return c, nil }

// SupportsProtocolVersion implements mcp.ProtocolVersionSupporter as
// go-sdk's stateless transport does.
func (c *statelessConn) SupportsProtocolVersion(v string) bool {
	return statelessTransport.SupportsProtocolVersion(v)
}

// Read implements mcp.Connection: the call, then nothing until the
// session is closed.
func (c *statelessConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	c.mu.Lock()
	first := !c.read
	c.read = true
	c.mu.Unlock()
	if first {
		return c.req, nil
	}
	select {
	case <-c.done:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Write implements mcp.Connection: the call's response, and what its
// handler sends in its context, go on the call's stream; the server's
// requests to the client, and messages outside the call, are refused as
// go-sdk's stateless transport refuses them.
func (c *statelessConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	event, err := c.call.frame(msg)
	if err != nil {
		return err
	}
	switch m := msg.(type) {
	case *jsonrpc.Request:
		if m.IsCall() {
			return fmt.Errorf("%w: stateless servers cannot make requests", errRejected)
		}
		// With JSON answers go-sdk's transport sends every message but
		// the response on the standalone stream, which a stateless
		// session never connects.
		if dc, _ := ctx.Value(directCallKey{}).(*directCall); dc != c.call || c.call.json {
			// go-sdk's transport: no stream but the standalone one, which
			// a stateless session never connects.
			return fmt.Errorf("%w: undelivered message: %v", errRejected, errNotConnected)
		}
		if !c.call.push(event, false) {
			return fmt.Errorf("%w: write to closed stream", errRejected)
		}
		return nil
	case *jsonrpc.Response:
		if c.call.own || m.ID != c.req.ID || !c.call.push(event, true) {
			return fmt.Errorf("%w: write to closed stream", errRejected)
		}
		return nil
	}
	return fmt.Errorf("%w: write to closed stream", errRejected)
}

// Close implements mcp.Connection.
func (c *statelessConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// SessionID implements mcp.Connection: a stateless session has none.
func (c *statelessConn) SessionID() string { return "" }
