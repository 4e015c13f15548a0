package mcpserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/internal/reqctx"
)

// The direct transport.
//
// go-sdk's StreamableHTTPHandler decodes a POST four times before the
// server sees it (as a batch, as a message, its method, its _meta), each
// time through a decoder that allocates a fresh 32 KiB buffer: for a plain
// tools/call that is more than half of the server's CPU, most of it
// allocation and garbage collection (docs/benchmarks.md). None of it can be
// configured away, so in the default mode (stateful, SSE answers, no event
// store) idgate keeps the session table itself, as go-sdk's handler
// would, and connects each session to go-sdk's own StreamableServerTransport
// through a Connection that also takes messages from idgate:
//
//   - a plain call (tools/call, tools/list or ping, one message, an
//     integer or plain string id, params without _meta, on an initialized
//     session, with an Mcp-Protocol-Version header of a version before
//     2026-07-28) is read once, by the scanner the step-up check uses
//     (peekMessages), handed to the server as a jsonrpc.Request, and
//     answered on an SSE stream written here: the messages the call's
//     handler sends in its context (progress, logs, elicitation) and then
//     its response, framed as go-sdk frames them;
//   - a call of a method that is not one of go-sdk's standard ones (a
//     custom method, mcp.AddReceivingCustomMethod) is decoded by
//     jsonrpc.DecodeMessage and answered the same way: the session's go-sdk
//     transport cannot be told its server's method table and would refuse
//     it. An unknown method therefore gets the server's JSON-RPC "method
//     not found" where go-sdk's handler answers 400: the one difference by
//     design;
//   - a server/discover (one message) goes to go-sdk's own stateful
//     handler (serveDiscover), which alone can tell its transport the
//     request's protocol version: a 2026-07-28 client's discover, which
//     go-sdk's client sends first to every server, is answered 200 with
//     the versions a stateful server speaks, and opens no session;
//   - everything else (initialize, notifications, the client's responses,
//     batches, GET streams, other standard methods, anything unusual) goes
//     to the session's StreamableServerTransport, which handles it exactly
//     as under go-sdk's handler.
//
// The checks go-sdk's handler makes before its transport are made here
// with the same statuses and messages: Mcp-Protocol-Version, Content-Type,
// Accept, the session and the user bound to it (403 for another user's
// token), the body size; and those its transport reads from a request
// context idgate cannot set (batches after 2025-06-18, protocol 2026-07-28
// on a stateful server), after what it refuses first (a malformed message,
// a standard method without its id or params). TestDirectTransportMatchesGoSDK
// and FuzzDirectTransportMatchesGoSDK hold the two to the same answers on
// the wire (for protocol 2026-07-28 on a stateful server, to both refusing:
// go-sdk checks the method against its server's table first). One more
// difference remains, out of reach of
// go-sdk's public API: a stream served by the session's go-sdk transport
// does not know the request's protocol version, so when a handler closes
// it (CloseSSEStream) no "close" event with a retry delay is written for
// 2025-11-25 clients; without an EventStore (a condition of the direct
// transport) there is nothing to reconnect to anyway.
//
// Request ids: go-sdk refuses a call whose id is already in flight on the
// session; the direct path refuses one already in flight on the direct
// path, and go-sdk's transport one in flight on its own. A client that
// reuses an id across the two while the first call runs confuses only its
// own session, which no other user can reach.

// protocolVersionNew is the first protocol version go-sdk serves only
// statelessly.
const protocolVersionNew = "2026-07-28"

// protocolVersionCloseEvent is the first protocol version whose streams
// end with a "close" event when a handler closes them.
const protocolVersionCloseEvent = "2025-11-25"

// protocolVersionDefault is the version go-sdk assumes when a request
// names none.
const protocolVersionDefault = "2025-03-26"

// protocolVersionNoBatch is the first protocol version without JSON-RPC
// batches.
const protocolVersionNoBatch = "2025-06-18"

const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "Mcp-Protocol-Version"
	headerLastEventID     = "Last-Event-ID"
)

// directTable is the session table of the direct transport; ServeHTTP
// serves the MCP endpoint after idgate's chain.
type directTable struct {
	srv *mcp.Server
	// versions are the protocol versions the server accepts in
	// Mcp-Protocol-Version; legacy those before protocolVersionNew.
	versions, legacy []string
	timeout          time.Duration
	// slow serves a request on its session's go-sdk transport (behind
	// bindSession when authentication is on, which puts the caller's
	// auth.TokenInfo where go-sdk reads it).
	slow http.Handler
	// discover is go-sdk's stateful handler (behind bindSession when
	// authentication is on), which serves server/discover (see
	// servePOST).
	discover http.Handler
	// tokenInfo returns the auth.TokenInfo of a request's caller (nil
	// without authentication), for the calls answered directly on a
	// session bound to user.
	tokenInfo func(r *http.Request, user string) *auth.TokenInfo

	mu       sync.Mutex
	sessions map[string]*directSession
	shut     bool // Server.Shutdown: no session is opened any more
	// byUser lists each user's sessions, oldest first, when maxPerUser
	// (Config.MaxSessionsPerUser) bounds them (> 0).
	byUser     map[string][]*directSession
	maxPerUser int
	// evicted are the sessions maxPerUser evicted that are still closing
	// (waiting for their calls): out of sessions, but Shutdown waits for
	// them as for the others.
	evicted map[*directSession]struct{}

	// calls maps the *mcp.RequestExtra of each call answered directly to
	// its *directCall, for the receiving middleware (relate).
	calls sync.Map
	// answered counts the calls answered directly (tests read it).
	answered atomic.Uint64
	// fast dispatches tools/call to the server's method handler.
	fast *dispatcher
}

// newDirectTable returns the direct transport of srv, dispatching
// tools/call through fast. authOn says whether requests reach it with an
// identity. discover is go-sdk's stateful handler of srv, configured as
// the direct transport is, for server/discover.
func newDirectTable(srv *mcp.Server, opts *mcp.ServerOptions, timeout time.Duration, authOn bool, fast *dispatcher, discover http.Handler) *directTable {
	t := &directTable{srv: srv, timeout: timeout, sessions: make(map[string]*directSession), byUser: make(map[string][]*directSession), fast: fast, discover: discover}
	t.versions = serverVersions(opts)
	for _, v := range t.versions {
		if v < protocolVersionNew {
			t.legacy = append(t.legacy, v)
		}
	}
	var slow http.Handler = http.HandlerFunc(t.serveSlow)
	t.tokenInfo = func(*http.Request, string) *auth.TokenInfo { return nil }
	if authOn {
		slow = bindSession(slow)
		t.discover = bindSession(discover)
		t.tokenInfo = func(r *http.Request, user string) *auth.TokenInfo {
			ti, err := passThroughAs(r.Context(), user)
			if err != nil {
				return nil
			}
			return ti
		}
	}
	t.slow = slow
	return t
}

// serverVersions returns the protocol versions a server with opts
// speaks: go-sdk's, narrowed by opts.SupportedProtocolVersions.
func serverVersions(opts *mcp.ServerOptions) []string {
	versions := mcp.SupportedProtocolVersions()
	if opts != nil && len(opts.SupportedProtocolVersions) > 0 {
		versions = slices.DeleteFunc(versions, func(v string) bool {
			return !slices.Contains(opts.SupportedProtocolVersions, v)
		})
	}
	return versions
}

// directSession is one session of the table.
type directSession struct {
	id   string
	user string // userKey of the identity that opened it; "" without auth
	t    *mcp.StreamableServerTransport
	conn *directConn
	ss   *mcp.ServerSession
	// base is the context of the request that opened the session, without
	// its cancellation: the one go-sdk's connection derives its handlers'
	// contexts from.
	base context.Context
	// ready is set once the server has the session's initialize params:
	// before that go-sdk refuses calls, and they all go its way.
	ready atomic.Bool

	timeout time.Duration
	timerMu sync.Mutex
	refs    int
	timer   *time.Timer
}

// sessionKey is the context key of the *directSession a slow request is
// for.
type sessionKey struct{}

func (t *directTable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// go-sdk's handler: a version given must be one the server speaks (or
	// a newer one, refused below for calls).
	if v := r.Header.Get(headerProtocolVersion); v != "" && v < protocolVersionNew && !slices.Contains(t.versions, v) {
		http.Error(w, fmt.Sprintf("Bad Request: Unsupported protocol version (supported versions: %s)", strings.Join(t.versions, ",")), http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodPost:
		t.servePOST(w, r)
	case http.MethodGet:
		if _, streamOK := accepts(r.Header.Values("Accept")); !streamOK {
			http.Error(w, "Accept must contain 'text/event-stream' for GET requests", http.StatusBadRequest)
			return
		}
		if r.Header.Get(headerSessionID) == "" {
			http.Error(w, "Bad Request: GET requires an Mcp-Session-Id header", http.StatusBadRequest)
			return
		}
		if s := t.lookup(w, r); s != nil {
			t.toSlow(w, r, s)
		}
	case http.MethodDelete:
		if r.Header.Get(headerSessionID) == "" {
			http.Error(w, "Bad Request: DELETE requires an Mcp-Session-Id header", http.StatusBadRequest)
			return
		}
		if s := t.lookup(w, r); s != nil {
			s.close()
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	}
}

// lookup returns the session the request names, or nil having answered
// 404 (unknown) or 403 (bound to another user), as go-sdk does.
func (t *directTable) lookup(w http.ResponseWriter, r *http.Request) *directSession {
	t.mu.Lock()
	s := t.sessions[r.Header.Get(headerSessionID)]
	t.mu.Unlock()
	if s == nil {
		http.Error(w, "session not found", http.StatusNotFound)
		return nil
	}
	if s.user != "" {
		id, _ := identity.FromContext(r.Context())
		if id == nil || !isUser(id, s.user) {
			http.Error(w, "session user mismatch", http.StatusForbidden)
			return nil
		}
	}
	return s
}

// isUser reports whether userKey(id) == key, without building it.
func isUser(id *identity.Identity, key string) bool {
	return len(key) == len(id.Issuer)+1+len(id.Subject) &&
		strings.HasPrefix(key, id.Issuer) && key[len(id.Issuer)] == '|' && strings.HasSuffix(key, id.Subject)
}

// toSlow serves r on s's go-sdk transport.
func (t *directTable) toSlow(w http.ResponseWriter, r *http.Request, s *directSession) {
	t.slow.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
}

func (t *directTable) serveSlow(w http.ResponseWriter, r *http.Request) {
	r.Context().Value(sessionKey{}).(*directSession).t.ServeHTTP(w, r)
}

func (t *directTable) servePOST(w http.ResponseWriter, r *http.Request) {
	if baseMediaType(r.Header.Get("Content-Type")) != "application/json" {
		http.Error(w, "Content-Type must be 'application/json'", http.StatusUnsupportedMediaType)
		return
	}
	if jsonOK, streamOK := accepts(r.Header.Values("Accept")); !jsonOK || !streamOK {
		http.Error(w, "Accept must contain both 'application/json' and 'text/event-stream'", http.StatusBadRequest)
		return
	}
	var s *directSession
	if r.Header.Get(headerSessionID) != "" {
		if s = t.lookup(w, r); s == nil {
			return
		}
		s.startPOST()
		defer s.endPOST()
	}
	// Behind the step-up check the body is already read and scanned, into
	// a pooled buffer that is reused once the request is done: what
	// outlives the request (the call's params, a custom call's body) is
	// copied out of it.
	var one [1]peeked
	pb, body, msgs, batch, ok, read := scanBody(w, r, one[:0], func(error) string { return "failed to read body" })
	if !read {
		return
	}
	if ok && !batch && methodIs(msgs[0].method, "server/discover") {
		t.serveDiscover(w, r, s)
		return
	}
	version := r.Header.Get(headerProtocolVersion)
	if ok && !t.versionAllows(w, msgs, batch, version) {
		return
	}
	if s == nil {
		t.open(w, r)
		return
	}
	if ok && !batch && version < protocolVersionNew && len(r.Header.Values(headerLastEventID)) == 0 && s.isReady() {
		if req, ok := directRequest(&msgs[0]); ok && version != "" {
			if pb != nil {
				req.Params = bytes.Clone(req.Params)
			}
			t.direct(w, r, s, req, version)
			return
		}
		if customMethod(&msgs[0]) {
			if pb != nil {
				body = bytes.Clone(body)
			}
			t.custom(w, r, s, body, version)
			return
		}
	}
	t.toSlow(w, r, s)
}

// serveDiscover serves a server/discover (one message) on go-sdk's own
// stateful handler: go-sdk's transport checks such a request against the
// Mcp-Protocol-Version header, which it reads from a context value only
// go-sdk's handler sets (a session's transport, without it, refuses a
// 2026-07-28 client's discover with -32020); go-sdk's handler answers it
// with the versions a stateful server speaks. The handler serves it on a
// session of its own, which it closes at once: a discover initializes no
// session on a stateful server (go-sdk's Server.discover). A discover on
// a session (s not nil; its user checked) is served the same way, without
// the session's id: its answer does not depend on the session (unless
// ServerOptions.SetCacheable reads it), and go-sdk's handler would not
// find the session in its own table. After Server.Shutdown it is refused
// as a session would be (503).
func (t *directTable) serveDiscover(w http.ResponseWriter, r *http.Request, s *directSession) {
	t.mu.Lock()
	shut := t.shut
	t.mu.Unlock()
	if shut {
		http.Error(w, "Service Unavailable: the server is shutting down", http.StatusServiceUnavailable)
		return
	}
	if s != nil {
		r = r.Clone(r.Context())
		r.Header.Del(headerSessionID)
	}
	t.discover.ServeHTTP(w, r)
}

// scanBody returns r's body, scanned (msgs, batch and ok are what
// peekMessages made of it): the one the step-up check read into a pooled
// buffer and scanned, when it did and nothing has read it since (pooled is
// that buffer, reused once the request is done); else the body read here
// (pooled is nil, and r.Body reads it again for go-sdk's handler) and
// scanned into scratch. read is false when it answered a body it could
// not read as go-sdk's handler does: 413 over the limit, else 400 with
// readError's message. (Separate results, not a struct: escape analysis
// then keeps scratch on the caller's stack.)
func scanBody(w http.ResponseWriter, r *http.Request, scratch []peeked, readError func(error) string) (pooled *pooledBody, body []byte, msgs []peeked, batch, ok, read bool) {
	if pb, _ := r.Body.(*pooledBody); pb != nil {
		if msgs, batch, ok, scanned := pb.scan(); scanned {
			return pb, pb.buf, msgs, batch, ok, true
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("request body exceeds %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge)
			return nil, nil, nil, false, false, false
		}
		http.Error(w, readError(err), http.StatusBadRequest)
		return nil, nil, nil, false, false, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	msgs, batch, ok = peekMessages(body, scratch)
	if !ok && tooDeep(body, peekMaxDepth) {
		// As the scope check refuses it (admitStepUp), where it did not
		// run: with InsecureDisableAuth.
		audit.EntryFrom(r.Context()).SetDecision(audit.Deny, "nested_too_deep")
		writeError(w, http.StatusBadRequest, "request nested too deeply")
		return nil, nil, nil, false, false, false
	}
	return nil, body, msgs, batch, ok, true
}

// standardMethods are the methods go-sdk's server knows itself (v1.8.0's
// serverMethodInfos). Its transport checks a message's method against
// these when, as under the direct transport, it is not told its server's
// own table; a method added with mcp.AddReceivingCustomMethod would be
// refused there (400), so messages with any other method are served
// directly (custom).
var standardMethods = map[string]methodFlags{
	"completion/complete": 0, "server/discover": paramsOptional, "initialize": 0, "ping": paramsOptional,
	"prompts/list": paramsOptional, "prompts/get": 0, "tools/list": paramsOptional, "tools/call": 0,
	"resources/list": paramsOptional, "resources/templates/list": paramsOptional, "resources/read": 0,
	"logging/setLevel": 0, "resources/subscribe": 0, "subscriptions/listen": 0, "resources/unsubscribe": 0,
	"notifications/cancelled":          isNotification | paramsOptional,
	"notifications/initialized":        isNotification | paramsOptional,
	"notifications/roots/list_changed": isNotification | paramsOptional,
	"notifications/progress":           isNotification,
}

// methodFlags are what go-sdk's transport checks of a standard method.
type methodFlags uint8

const (
	isNotification methodFlags = 1 << iota // sent without an id
	paramsOptional                         // may come without params
)

// customMethod reports whether m names a method go-sdk's server does not
// know itself: a custom method, or an unknown one.
func customMethod(m *peeked) bool {
	name, ok := stringValue(m.method)
	if !ok {
		return false
	}
	_, std := standardMethods[name]
	return !std
}

// refusedAsRequest reports whether go-sdk's transport refuses m, a message
// with a standard method, before anything else (its checkRequest): an id
// on a notification, none on a request, or params missing where required.
func refusedAsRequest(m *peeked) bool {
	name, ok := stringValue(m.method)
	if !ok {
		return false
	}
	flags, std := standardMethods[name]
	if !std {
		return false
	}
	isCall := m.id != nil && !bytes.Equal(m.id, []byte("null"))
	return flags&isNotification != 0 == isCall || flags&paramsOptional == 0 && m.params == nil
}

// sdkDecodes reports whether go-sdk's transport decodes every message of
// a body peekMessages read, as jsonrpc.DecodeMessage does (an invalid
// version tag, id or method is refused as a malformed payload before
// anything else).
func sdkDecodes(msgs []peeked) bool {
	for i := range msgs {
		if _, err := jsonrpc.DecodeMessage(msgs[i].raw); err != nil {
			return false
		}
	}
	return true
}

// custom serves a call whose method is not a standard one (custom
// methods are requests; anything else goes go-sdk's way, which refuses
// it): decoded as go-sdk decodes it (a body go-sdk would refuse as
// malformed goes its way) and answered as direct answers plain calls. The
// server dispatches it: a custom method runs, an unknown one gets the
// server's JSON-RPC "method not found" error (go-sdk's handler refuses it
// earlier, with 400).
func (t *directTable) custom(w http.ResponseWriter, r *http.Request, s *directSession, body []byte, version string) {
	msg, err := jsonrpc.DecodeMessage(body)
	req, ok := msg.(*jsonrpc.Request)
	if err != nil || !ok || !req.IsCall() {
		t.toSlow(w, r, s)
		return
	}
	if version == "" {
		version = protocolVersionDefault
	}
	t.direct(w, r, s, req, version)
}

// versionAllows makes the checks of go-sdk's transport that depend on the
// request's protocol version, which it reads from a context value of its
// own, out of idgate's reach: no batch from 2025-06-18 on, and no call in
// protocol 2026-07-28 (by header or by _meta) on a stateful server but
// server/discover. It reports whether the request goes on, having
// answered it otherwise.
func (t *directTable) versionAllows(w http.ResponseWriter, msgs []peeked, batch bool, version string) bool {
	effective := version
	if effective == "" {
		effective = protocolVersionDefault
	}
	if batch && effective >= protocolVersionNoBatch {
		if !sdkDecodes(msgs) {
			return true // go-sdk refuses it as malformed first
		}
		http.Error(w, fmt.Sprintf("JSON-RPC batching is not supported in %s and later (request version: %s)", protocolVersionNoBatch, effective), http.StatusBadRequest)
		return false
	}
	for i := range msgs {
		m := &msgs[i]
		if m.method == nil {
			continue
		}
		isCall := m.id != nil && !bytes.Equal(m.id, []byte("null"))
		if !(isCall && effective >= protocolVersionNew) && metaProtocolVersion(m.params) == "" {
			continue
		}
		if methodIs(m.method, "server/discover") {
			continue
		}
		if !sdkDecodes(msgs) {
			return true // go-sdk refuses it as malformed first
		}
		for j := range msgs[:i+1] {
			if refusedAsRequest(&msgs[j]) {
				return true // go-sdk refuses this one first, as it does there
			}
		}
		data, _ := json.Marshal(mcp.UnsupportedProtocolVersionData{Supported: t.legacy, Requested: effective})
		var id jsonrpc.ID
		if isCall {
			id, _ = parseID(m.id)
		}
		writeJSONRPCError(w, http.StatusBadRequest, id, &jsonrpc.Error{
			Code:    mcp.CodeUnsupportedProtocolVersion,
			Message: fmt.Sprintf("protocol version %q is not supported by this server", effective),
			Data:    data,
		})
		return false
	}
	return true
}

// open creates a session for a POST without Mcp-Session-Id and serves the
// POST on it, as go-sdk's handler does; a session whose initialization
// failed is closed at once.
func (t *directTable) open(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	shut := t.shut
	t.mu.Unlock()
	if shut {
		http.Error(w, "Service Unavailable: the server is shutting down", http.StatusServiceUnavailable)
		return
	}
	s := &directSession{id: rand.Text(), timeout: t.timeout, base: context.WithoutCancel(r.Context())}
	if id, ok := identity.FromContext(r.Context()); ok {
		s.user = userKey(id)
	}
	s.t = &mcp.StreamableServerTransport{SessionID: s.id}
	s.conn = newDirectConn(s.t, func() { t.closed(s) })
	ss, err := t.srv.Connect(r.Context(), s.conn, nil)
	if err != nil {
		s.conn.Close() // ends the pump, if the transport was connected
		http.Error(w, "failed connection", http.StatusInternalServerError)
		return
	}
	s.ss = ss
	if s.timeout > 0 {
		s.timer = time.AfterFunc(s.timeout, s.close)
	}
	t.mu.Lock()
	if t.shut {
		// Shutdown began since the check above: it did not see this one.
		t.mu.Unlock()
		s.close()
		http.Error(w, "Service Unavailable: the server is shutting down", http.StatusServiceUnavailable)
		return
	}
	t.sessions[s.id] = s
	t.mu.Unlock()
	defer func() {
		if ss.InitializeParams() == nil {
			ss.Close()
			return
		}
		// Counted against its user's bound only once initialized: a
		// request that opens no session (server/discover, say) closes
		// none of theirs.
		t.mu.Lock()
		var evicted *directSession
		if t.sessions[s.id] == s {
			evicted = t.addForUser(s)
		}
		if evicted != nil && t.sessions[evicted.id] == evicted {
			// Out of the table now, not once closed: closing waits for
			// its handlers, which may never return, and until then the
			// session would still be served, past its user's bound.
			// Shutdown still waits for it (evicted, until closed).
			delete(t.sessions, evicted.id)
			if t.evicted == nil {
				t.evicted = make(map[*directSession]struct{})
			}
			t.evicted[evicted] = struct{}{}
		}
		t.mu.Unlock()
		if evicted != nil {
			go evicted.close() // waits for its calls: not in this request
		}
	}()
	s.startPOST()
	defer s.endPOST()
	t.toSlow(w, r, s)
}

// shutdown refuses new sessions and returns those open, and those evicted
// that are still closing, for Server.Shutdown to close (closing one twice
// is harmless) and wait for. A session being opened meanwhile is closed by
// open, which checks again as it registers it.
func (t *directTable) shutdown() []*directSession {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shut = true
	open := make([]*directSession, 0, len(t.sessions)+len(t.evicted))
	for _, s := range t.sessions {
		open = append(open, s)
	}
	for s := range t.evicted {
		open = append(open, s)
	}
	return open
}

// close ends the session as go-sdk's ServerSession.Close does: once the
// calls it is handling have returned, dispatched ones included.
func (s *directSession) close() {
	s.conn.drain()
	s.ss.Close()
}

// closed forgets s once its connection is closed.
func (t *directTable) closed(s *directSession) {
	s.stopTimer()
	t.mu.Lock()
	if t.sessions[s.id] == s {
		delete(t.sessions, s.id)
	}
	delete(t.evicted, s)
	t.removeForUser(s)
	t.mu.Unlock()
}

// addForUser lists s among its user's sessions and returns the user's
// oldest session when that makes one more than maxPerUser, no longer
// listed, for the caller to take out of the table and close. t.mu must be
// held.
func (t *directTable) addForUser(s *directSession) (evicted *directSession) {
	if t.maxPerUser <= 0 || s.user == "" {
		return nil
	}
	list := t.byUser[s.user]
	if len(list) >= t.maxPerUser {
		evicted = list[0]
		list = slices.Delete(list, 0, 1)
	}
	t.byUser[s.user] = append(list, s)
	return evicted
}

// removeForUser unlists s from its user's sessions. t.mu must be held.
func (t *directTable) removeForUser(s *directSession) {
	list := t.byUser[s.user]
	if i := slices.Index(list, s); i >= 0 {
		list = slices.Delete(list, i, i+1)
		if len(list) == 0 {
			delete(t.byUser, s.user)
		} else {
			t.byUser[s.user] = list
		}
	}
}

// isReady reports whether the server has s's initialize params.
func (s *directSession) isReady() bool {
	if s.ready.Load() {
		return true
	}
	if s.ss.InitializeParams() == nil {
		return false
	}
	s.ready.Store(true)
	return true
}

// startPOST pauses the idle timeout while a POST is served.
func (s *directSession) startPOST() { s.countPOST(1) }

// endPOST restarts the idle timeout when no POST is being served.
func (s *directSession) endPOST() { s.countPOST(-1) }

// countPOST counts the POSTs being served, stopping the idle timer at the
// first and restarting it after the last.
func (s *directSession) countPOST(d int) {
	if s.timeout <= 0 {
		return
	}
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	if s.timer == nil {
		return // stopped for good: the session is closed
	}
	s.refs += d
	switch {
	case d > 0 && s.refs == 1:
		s.timer.Stop()
	case d < 0 && s.refs == 0:
		s.timer.Reset(s.timeout)
	}
}

func (s *directSession) stopTimer() {
	s.timerMu.Lock()
	defer s.timerMu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// directRequest returns the request m is when it is a plain call the
// direct path answers: method tools/call (with params), tools/list or ping
// (params optional), "jsonrpc":"2.0", an id that is an integer of at most
// 15 digits or a string of plain ASCII without escapes, params an object
// without _meta. Anything else goes go-sdk's way.
func directRequest(m *peeked) (*jsonrpc.Request, bool) {
	if string(m.version) != `"2.0"` || m.id == nil {
		return nil, false
	}
	var method string
	switch string(m.method) {
	case `"tools/call"`:
		method = "tools/call"
		if m.params == nil {
			return nil, false
		}
	case `"tools/list"`:
		method = "tools/list"
	case `"ping"`:
		method = "ping"
	default:
		return nil, false
	}
	id, ok := plainID(m.id)
	if !ok {
		return nil, false
	}
	if m.params != nil && (m.params[0] != '{' || hasKey(m.params, "_meta")) {
		return nil, false
	}
	return &jsonrpc.Request{ID: id, Method: method, Params: json.RawMessage(m.params)}, true
}

// plainID parses an id the direct path takes: what go-sdk's decoder makes
// of it (a number as a float64 converted to int64, a string as it is).
func plainID(raw []byte) (jsonrpc.ID, bool) {
	switch {
	case len(raw) >= 2 && raw[0] == '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') >= 0 || !plainASCII(inner) {
			return jsonrpc.ID{}, false
		}
		id, err := jsonrpc.MakeID(string(inner))
		return id, err == nil
	case len(raw) > 0 && len(raw) <= 16:
		digits := raw
		if digits[0] == '-' {
			digits = digits[1:]
		}
		if len(digits) == 0 || len(digits) > 15 || (len(digits) > 1 && digits[0] == '0') {
			return jsonrpc.ID{}, false
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return jsonrpc.ID{}, false
			}
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return jsonrpc.ID{}, false
		}
		id, err := jsonrpc.MakeID(float64(n))
		return id, err == nil
	}
	return jsonrpc.ID{}, false
}

// parseID decodes any raw id as go-sdk does.
func parseID(raw []byte) (jsonrpc.ID, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return jsonrpc.ID{}, err
	}
	return jsonrpc.MakeID(v)
}

// hasKey reports whether the JSON object obj has the member key (compared
// after unescaping, as go-sdk's decoder compares).
func hasKey(obj []byte, key string) bool {
	p := jsonPeeker{b: obj}
	found := false
	if !p.object(func(k, _ []byte) {
		if keyIs(k, key) {
			found = true
		}
	}) {
		return true // not a valid object: say yes, so it goes go-sdk's way
	}
	return found
}

// metaProtocolVersion returns params._meta["io.modelcontextprotocol/protocolVersion"]
// when it is a non-empty string.
func metaProtocolVersion(params []byte) string {
	if len(params) == 0 || params[0] != '{' {
		return ""
	}
	var meta []byte
	p := jsonPeeker{b: params}
	p.object(func(k, v []byte) {
		if keyIs(k, "_meta") {
			meta = v
		}
	})
	if len(meta) == 0 || meta[0] != '{' {
		return ""
	}
	var version string
	q := jsonPeeker{b: meta}
	q.object(func(k, v []byte) {
		if keyIs(k, mcp.MetaKeyProtocolVersion) {
			version, _ = stringValue(v)
		}
	})
	return version
}

// directCallKey is the context key under which the receiving middleware
// puts the *directCall of a call answered directly.
type directCallKey struct{}

// callContext is the context a call dispatched in its request's goroutine
// runs in: the session's (or a stateless call's own), with the call
// (directCallKey), and the audit entry and request id of the HTTP request
// that carried it, so that audit.EntryFrom and audit.RequestID in the
// handler give that request's, not those of the request that opened the
// session. One node for all, as one context.WithValue was for the call
// alone.
type callContext struct {
	context.Context
	call  *directCall
	entry *audit.Entry
	req   context.Context // r's, asked for the request id only when a handler wants it
	ti    *auth.TokenInfo // the call's, for go-sdk's auth.TokenInfoFromContext
}

// newCallContext returns the context of call c, carried by r with ti, in
// ctx.
func newCallContext(ctx context.Context, c *directCall, r *http.Request, ti *auth.TokenInfo) context.Context {
	rctx := r.Context()
	return &callContext{Context: ctx, call: c, entry: audit.EntryFrom(rctx), req: rctx, ti: ti}
}

func (x *callContext) Value(key any) any {
	switch key.(type) {
	case directCallKey:
		return x.call
	case reqctx.EntryKey:
		return x.entry
	case reqctx.RequestIDKey:
		if id := x.req.Value(key); id != nil && id != "" {
			return id
		}
	default:
		if x.ti != nil && isSDKTokenInfoKey(key) {
			return x.ti
		}
	}
	return x.Context.Value(key)
}

// relate returns ctx with the call req came by, when it came by the direct
// path, so that what the handler sends in that context goes on the call's
// stream.
func (t *directTable) relate(ctx context.Context, req mcp.Request) context.Context {
	return relateCall(&t.calls, ctx, req)
}

// relateCall returns ctx with the *directCall calls maps req's
// RequestExtra to, when there is one.
func relateCall(calls *sync.Map, ctx context.Context, req mcp.Request) context.Context {
	extra := req.GetExtra()
	if extra == nil {
		return ctx
	}
	if c, ok := calls.Load(extra); ok {
		return context.WithValue(ctx, directCallKey{}, c)
	}
	return ctx
}

// direct serves a plain call: the request goes to the server through s's
// connection, and what it sends back for the call is written here as SSE
// events, the response last. The handler may end the stream first
// (req.Extra.CloseSSEStream), as on go-sdk's streams: the response is then
// lost, as there without an EventStore.
//
// A tools/call is dispatched to the server's method handler here
// (dispatcher) when it may be, and its handler runs in this goroutine; its
// context derives from the session's (base) as go-sdk's would, and is
// cancelled as go-sdk cancels it: by the client's notifications/cancelled
// (closing the session waits for the call, see directSession.close).
func (t *directTable) direct(w http.ResponseWriter, r *http.Request, s *directSession, req *jsonrpc.Request, version string) {
	c := &directCall{conn: s.conn, wake: make(chan struct{}, 1)}
	extra := &mcp.RequestExtra{TokenInfo: t.tokenInfo(r, s.user), Header: r.Header, CloseSSEStream: c.closeStream}
	req.Extra = extra
	var (
		params *mcp.CallToolParamsRaw
		ctx    context.Context
	)
	if req.Method == "tools/call" && t.fast.on() {
		params, c.own = callParams(req.Params)
	}
	if c.own {
		ctx, c.cancel = context.WithCancel(s.base)
	}
	// register dispatches no call once the session is closing (c.own is
	// then false): go-sdk's connection answers it.
	if !s.conn.register(req.ID, c) {
		writeJSONRPCError(w, http.StatusBadRequest, req.ID, &jsonrpc.Error{
			Code:    jsonrpc.CodeInvalidRequest,
			Message: fmt.Sprintf("duplicate in-flight request ID %v", req.ID.Raw()),
		})
		return
	}
	if !c.own {
		t.calls.Store(extra, c)
	}
	defer func() {
		if !c.own {
			t.calls.Delete(extra)
		}
		s.conn.unregister(c)
	}()
	setStreamHeaders(w)
	if c.own {
		// The handler runs here, in the request's goroutine, whose stack
		// has grown deep enough already (a fresh goroutine grew its stack
		// on every call), and writes the call's stream as it goes.
		t.answered.Add(1)
		c.inline(w, version, r.Context())
		c.run(newCallContext(ctx, c, r, extra.TokenInfo), t.fast, req.ID, "tools/call", &mcp.CallToolRequest{Session: s.ss, Params: params, Extra: extra})
		return
	}
	if !s.conn.deliver(req) {
		return
	}
	t.answered.Add(1)
	writeCallStream(w, r, c, s.conn.done, version)
}

// setStreamHeaders sets the headers of a call's SSE stream, as go-sdk's
// transport sets them.
func setStreamHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("Content-Type", "text/event-stream")
	h.Set("Connection", "keep-alive")
}

// writeCallStream writes what comes for call c as SSE events, its
// response last, until the response, the end of the request, the end of
// the connection (connDone) or the handler closing the stream
// (CloseSSEStream), which from protocol 2025-11-25 on ends with go-sdk's
// "close" event.
func writeCallStream(w http.ResponseWriter, r *http.Request, c *directCall, connDone <-chan struct{}, version string) {
	done := r.Context().Done()
	for {
		select {
		case <-c.wake:
		case <-done:
			return
		case <-connDone:
			return
		}
		events, final, closed, retry := c.take()
		for i, data := range events {
			if _, err := w.Write(data); err != nil {
				return
			}
			if !final || i < len(events)-1 {
				_ = http.NewResponseController(w).Flush()
			}
		}
		if final {
			return
		}
		if closed {
			// go-sdk's stream.close: a "close" event with the retry
			// delay from protocol 2025-11-25 on.
			if version >= protocolVersionCloseEvent && retry > 0 {
				w.Write([]byte("event: close\nretry: " + strconv.FormatInt(retry.Milliseconds(), 10) + "\ndata: \n\n"))
			}
			return
		}
	}
}

// sseEvent encodes msg as go-sdk's transport would write it on a stream
// without event ids: an SSE "message" event whose data is the message's
// JSON, as jsonrpc.EncodeMessage writes it.
func sseEvent(msg jsonrpc.Message) ([]byte, error) {
	const prefix, suffix = "event: message\ndata: ", "\n\n"
	if resp, ok := msg.(*jsonrpc.Response); ok {
		b := make([]byte, 0, len(prefix)+len(`{"jsonrpc":"2.0","id":,"result":}`)+24+len(resp.Result)+len(suffix))
		b = append(b, prefix...)
		if b, ok := appendResult(b, resp); ok {
			return append(b, suffix...), nil
		}
	}
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(prefix)+len(data)+len(suffix))
	b = append(b, prefix...)
	b = append(b, data...)
	return append(b, suffix...), nil
}

// appendResult appends a successful response with an integer or plain
// string id as jsonrpc.EncodeMessage encodes it: the envelope's fields in
// its order around the result, which go-sdk has already encoded (compact,
// no HTML escaping, as its encoder writes it). ok is false for any other
// response, which EncodeMessage then encodes.
func appendResult(b []byte, resp *jsonrpc.Response) (_ []byte, ok bool) {
	if resp.Error != nil || len(resp.Result) == 0 {
		return b, false
	}
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	switch id := resp.ID.Raw().(type) {
	case int64:
		b = strconv.AppendInt(b, id, 10)
	case string:
		for i := 0; i < len(id); i++ {
			if c := id[i]; c < 0x20 || c >= utf8.RuneSelf || c == '\\' || c == '"' {
				return b, false
			}
		}
		b = append(b, '"')
		b = append(b, id...)
		b = append(b, '"')
	default:
		return b, false
	}
	b = append(b, `,"result":`...)
	b = append(b, resp.Result...)
	return append(b, '}'), true
}

// directCall is a call being answered directly: the messages for it, in
// order, until its response, each an SSE event (sseEvent).
type directCall struct {
	conn *directConn
	wake chan struct{}

	mu     sync.Mutex
	events [][]byte
	queued int        // bytes in events
	room   *sync.Cond // on mu: events were taken, or the call ended (see push)
	final  bool       // the response is in events
	gone   bool       // the HTTP request is over
	// closed is set by closeStream, with the retry delay it was given.
	closed bool
	retry  time.Duration

	// own is set for a call dispatched here (dispatcher), not handed to
	// the session: its response comes from run, not from the connection,
	// and cancel cancels its handler's context.
	own    bool
	cancel context.CancelFunc
	// w, when set (inline), is the call's stream, written by push and
	// closeStream as messages come, rather than by writeCallStream;
	// version is the request's protocol version, and reqCtx its context,
	// which ends when its client goes away.
	w       http.ResponseWriter
	version string
	reqCtx  context.Context
	// json: the call is answered with application/json, its response
	// alone (stateless, Config.JSONResponse).
	json bool
	// serverInfo is set for a 2026-07-28 call (stateless, see sep2575.go):
	// its result names the server, and a protocol error is answered with
	// its HTTP status (newProtocolStatus).
	serverInfo *mcp.Implementation
	// wrote: push has written to w (inline).
	wrote bool
}

// inline makes push and closeStream write the call's stream w themselves:
// for a dispatched call whose handler runs in the request's goroutine,
// which therefore cannot run writeCallStream. They write under the call's
// lock, so what the handler's other goroutines send is written in turn.
// reqCtx is the request's context.
func (c *directCall) inline(w http.ResponseWriter, version string, reqCtx context.Context) {
	c.w, c.version, c.reqCtx = w, version, reqCtx
}

// run dispatches the call and queues its response. On a session (conn
// not nil) the call is then over for the session: its id may be used
// again, and the session may close. If the handler panics, the call is
// over all the same, and the panic goes on up the request's handlers (the
// audit middleware logs it and aborts the response; net/http recovers
// it): go-sdk's handler goroutine would have ended the process.
func (c *directCall) run(ctx context.Context, d *dispatcher, id jsonrpc.ID, method string, req mcp.Request) {
	defer c.cancel()
	if c.conn != nil {
		defer c.conn.running.Done()
		defer c.conn.finish(id, c) // when the handler panics
	}
	resp := d.call(ctx, id, method, req, c.serverInfo)
	if c.conn != nil {
		c.conn.finish(id, c)
	}
	if resp == nil {
		return
	}
	if c.serverInfo != nil && c.w != nil {
		if status := newProtocolStatus(resp); status != 0 {
			data, err := jsonrpc.EncodeMessage(resp)
			if err != nil {
				d.internalError(err.Error())
				return
			}
			c.pushStatus(data, status)
			return
		}
	}
	data, err := c.frame(resp)
	if err != nil {
		d.internalError(err.Error())
		return
	}
	c.push(data, true)
}

// frame encodes msg as the call's stream carries it: an SSE event
// (sseEvent), or the message's JSON alone when the call is answered with
// application/json.
func (c *directCall) frame(msg jsonrpc.Message) ([]byte, error) {
	if c.json {
		return jsonrpc.EncodeMessage(msg)
	}
	return sseEvent(msg)
}

// closeStream is the call's RequestExtra.CloseSSEStream: it ends the
// call's stream after what is queued; what comes later for the call is
// refused as on a closed go-sdk stream.
func (c *directCall) closeStream(args mcp.CloseSSEStreamArgs) {
	c.mu.Lock()
	if c.gone || c.final || c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.retry = true, args.RetryAfter
	c.signalRoom()
	if c.w != nil {
		// As writeCallStream ends a closed stream.
		if c.version >= protocolVersionCloseEvent && c.retry > 0 {
			c.w.Write([]byte("event: close\nretry: " + strconv.FormatInt(c.retry.Milliseconds(), 10) + "\ndata: \n\n"))
			_ = http.NewResponseController(c.w).Flush()
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// push queues an encoded message for the call, reporting false when the
// call is over.
func (c *directCall) push(data []byte, final bool) bool {
	c.mu.Lock()
	if c.gone || c.final || c.closed {
		c.mu.Unlock()
		return false
	}
	if c.w != nil {
		if !final && c.reqCtx.Err() != nil {
			// The client went away: go-sdk's transport lets the request
			// go then (as writeCallStream stops), and refuses what comes
			// for it, rather than write it to a dead connection (an
			// elicitation would wait for an answer that cannot come).
			c.gone = true
			c.mu.Unlock()
			return false
		}
		// As writeCallStream writes an event: flushed unless it is the
		// response, which the end of the request flushes.
		c.wrote = true
		_, err := c.w.Write(data)
		if err == nil && !final {
			err = http.NewResponseController(c.w).Flush()
		}
		if err != nil {
			c.gone = true // the client went away; as writeCallStream stops
		}
		c.final = final
		c.mu.Unlock()
		return true
	}
	// Backpressure: while a client does not read its stream, what the
	// handler sends waits here, as go-sdk's transport makes it wait on a
	// synchronous write, instead of piling up in memory. The response
	// itself never waits (it is one message, and ends the call).
	for !final && c.queued >= maxQueuedCallBytes && !c.gone && !c.closed {
		if c.room == nil {
			c.room = sync.NewCond(&c.mu)
		}
		c.room.Wait()
	}
	if c.gone || c.closed || c.final {
		// Over while it waited: the response went first.
		c.mu.Unlock()
		return false
	}
	c.events = append(c.events, data)
	c.queued += len(data)
	c.final = final
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// maxQueuedCallBytes bounds what a call's handler may send ahead of its
// stream's writer (a client that does not read): push waits beyond it.
const maxQueuedCallBytes = 1 << 20

// signalRoom wakes a push waiting for room. c.mu must be held.
func (c *directCall) signalRoom() {
	if c.room != nil {
		c.room.Broadcast()
	}
}

// pushStatus writes the response of an inline call as go-sdk's transport
// writes a 2026-07-28 protocol error: the bare JSON-RPC message, with
// status and as application/json, however the call's stream is framed.
// (When an event has gone before, the status is already sent: go-sdk then
// writes the message after the events, unframed, and so does this.)
func (c *directCall) pushStatus(data []byte, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone || c.final || c.closed {
		return
	}
	if !c.wrote {
		c.w.Header().Set("Content-Type", "application/json")
		c.w.WriteHeader(status)
	}
	c.wrote, c.final = true, true
	if _, err := c.w.Write(data); err != nil {
		c.gone = true
	}
}

// refusal is the error go-sdk's transport returns for a message related
// to a request whose stream is over: answered, or closed (by the handler,
// or the client went away).
func (c *directCall) refusal() error {
	c.mu.Lock()
	answered := c.final
	c.mu.Unlock()
	if answered {
		return fmt.Errorf("%w: write to closed stream", errRejected)
	}
	return fmt.Errorf("%w: undelivered message: %v", errRejected, errNotConnected)
}

// end marks the call over: what comes for it later is refused.
func (c *directCall) end() {
	c.mu.Lock()
	c.gone = true
	c.signalRoom()
	c.mu.Unlock()
}

// take returns the queued messages, whether the response is among them,
// and whether the stream was closed, with the retry delay.
func (c *directCall) take() (events [][]byte, final, closed bool, retry time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	events, c.events = c.events, nil
	c.queued = 0
	c.signalRoom()
	return events, c.final, c.closed, c.retry
}

// directConn is a session's connection to the server: the messages of its
// go-sdk transport and those of the direct path, in; the responses to
// direct calls and what their handlers send, to the direct path; all else
// to the go-sdk transport.
type directConn struct {
	t       *mcp.StreamableServerTransport
	inner   mcp.Connection
	in      chan jsonrpc.Message
	done    chan struct{}
	once    sync.Once
	onClose func()

	mu    sync.Mutex
	calls map[jsonrpc.ID]*directCall
	// closing is set by drain: no call is dispatched from then on.
	closing bool
	// running counts the dispatched calls whose handlers run.
	running sync.WaitGroup
}

func newDirectConn(t *mcp.StreamableServerTransport, onClose func()) *directConn {
	return &directConn{t: t, in: make(chan jsonrpc.Message), done: make(chan struct{}), onClose: onClose, calls: make(map[jsonrpc.ID]*directCall)}
}

// Connect implements mcp.Transport.
func (c *directConn) Connect(ctx context.Context) (mcp.Connection, error) {
	inner, err := c.t.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c.inner = inner
	go c.pump()
	return c, nil
}

// SupportsProtocolVersion implements mcp.ProtocolVersionSupporter as the
// go-sdk transport does.
func (c *directConn) SupportsProtocolVersion(v string) bool { return c.t.SupportsProtocolVersion(v) }

// pump moves the go-sdk transport's messages in.
func (c *directConn) pump() {
	for {
		m, err := c.inner.Read(context.Background())
		if err != nil {
			c.Close()
			return
		}
		select {
		case c.in <- m:
		case <-c.done:
			return
		}
	}
}

// deliver hands a direct call to the server, reporting false when the
// session is closed.
func (c *directConn) deliver(m jsonrpc.Message) bool {
	select {
	case c.in <- m:
		return true
	case <-c.done:
		return false
	}
}

// register records a direct call by its id, reporting false when a call
// with that id is in flight. A call to dispatch (call.own) is counted as
// running, or, once the session is closing, no longer to dispatch.
func (c *directConn) register(id jsonrpc.ID, call *directCall) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.calls[id]; dup {
		if call.own {
			call.cancel()
		}
		return false
	}
	if call.own {
		if c.closing {
			call.own = false
			call.cancel()
		} else {
			c.running.Add(1)
		}
	}
	c.calls[id] = call
	return true
}

// unregister ends a direct call's stream once its HTTP request is over.
// The call stays in flight until it is answered, as on go-sdk's
// transport, whose request ends when its client goes away: a dispatched
// call is forgotten when its handler returns (finish), cancellable until
// then; one handed to the session when its response comes (Write).
func (c *directConn) unregister(call *directCall) {
	call.end()
}

// finish forgets a call.
func (c *directConn) finish(id jsonrpc.ID, call *directCall) {
	c.mu.Lock()
	if c.calls[id] == call {
		delete(c.calls, id)
	}
	c.mu.Unlock()
}

// drain dispatches no more calls and waits for the handlers of those
// dispatched to return, as go-sdk's ServerSession.Close waits for the
// calls it handles.
func (c *directConn) drain() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.running.Wait()
}

// Read implements mcp.Connection.
func (c *directConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	select {
	case m := <-c.in:
		if r, ok := m.(*jsonrpc.Request); ok && r.Method == "notifications/cancelled" && !r.IsCall() {
			c.cancelled(r.Params)
		}
		return m, nil
	case <-c.done:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Write implements mcp.Connection: a response to a direct call, and what
// a direct call's handler sends in its context, go on the call's stream,
// or are refused once that is over, as go-sdk's transport refuses them;
// all else to the go-sdk transport, which delivers it or refuses it as
// go-sdk does.
func (c *directConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	var call *directCall
	resp, final := msg.(*jsonrpc.Response)
	if final {
		c.mu.Lock()
		if dc := c.calls[resp.ID]; dc != nil && !dc.own {
			// Answered: the call is over for the session, and its id
			// free again (go-sdk's transport frees it here too).
			call = dc
			delete(c.calls, resp.ID)
		}
		c.mu.Unlock()
	} else if dc, ok := ctx.Value(directCallKey{}).(*directCall); ok && dc.conn == c {
		call = dc
	}
	if call != nil {
		event, err := sseEvent(msg)
		if err != nil {
			return err
		}
		if call.push(event, final) {
			return nil
		}
		// The call's stream is over: go-sdk's transport refuses what
		// comes for its request. (Passed on, a dispatched call's message
		// would reach the standalone stream, and a response a call of
		// go-sdk's transport with the same id: that transport does not
		// know the call.)
		return call.refusal()
	}
	return c.inner.Write(ctx, msg)
}

// cancelled cancels the handler of the dispatched call a
// notifications/cancelled names, as go-sdk's connection cancels one it
// handles (the notification goes on to the server too).
func (c *directConn) cancelled(params json.RawMessage) {
	var p mcp.CancelledParams
	if decodeExact(params, &p) != nil {
		return
	}
	id, err := jsonrpc.MakeID(p.RequestID)
	if err != nil {
		return
	}
	c.mu.Lock()
	call := c.calls[id]
	c.mu.Unlock()
	if call != nil && call.own {
		call.cancel()
	}
}

// Close implements mcp.Connection.
func (c *directConn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.done)
		// Dispatched handlers still running (the session was closed
		// without drain: by go-sdk, or its transport broke) are cancelled,
		// as go-sdk's connection cancels its handlers when its reader
		// ends.
		c.mu.Lock()
		c.closing = true
		for _, call := range c.calls {
			if call.own {
				call.cancel()
			}
		}
		c.mu.Unlock()
		if c.inner != nil {
			err = c.inner.Close()
		}
		c.onClose()
	})
	return err
}

// SessionID implements mcp.Connection.
func (c *directConn) SessionID() string { return c.t.SessionID }

// accepts reports whether the Accept header values accept JSON and SSE,
// as go-sdk reads them.
func accepts(values []string) (jsonOK, streamOK bool) {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			switch acceptBase(part) {
			case "application/json", "application/*":
				jsonOK = true
			case "text/event-stream", "text/*":
				streamOK = true
			case "*/*":
				jsonOK, streamOK = true, true
			}
		}
	}
	return jsonOK, streamOK
}

// baseMediaType returns the media type of a Content-Type value, "" when
// it does not parse (mime.ParseMediaType, as go-sdk reads it).
func baseMediaType(v string) string {
	if v == "application/json" {
		return v
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return ""
	}
	return mt
}

// acceptBase is an Accept element's media type, as go-sdk reads it.
func acceptBase(part string) string {
	base, _, _ := strings.Cut(strings.TrimSpace(part), ";")
	return strings.ToLower(strings.TrimSpace(base))
}

// writeJSONRPCError writes a JSON-RPC error response with status, as
// go-sdk's handler does.
func writeJSONRPCError(w http.ResponseWriter, status int, id jsonrpc.ID, jerr *jsonrpc.Error) {
	data, err := jsonrpc.EncodeMessage(&jsonrpc.Response{ID: id, Error: jerr})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}
