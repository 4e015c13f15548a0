package audit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idgate/idgate/internal/reqctx"
	"github.com/idgate/idgate/internal/textcut"
)

// panicBody is the response to a request whose handler panicked before it
// wrote anything.
const panicBody = `{"error":"internal_error"}` + "\n"

// request is the per-request state of Middleware: allocated once, with
// the context node it passes on (ctx), which both RequestID and EntryFrom
// read.
type request struct {
	ctx     node
	id      string
	idValue [1]string // the X-Request-Id header's value: id, without an allocation of its own
	record  bool      // write an event (false for Config.SkipPaths; see preflight)
	// preflight: an OPTIONS request, recorded only when answered with an
	// error status (a CORS preflight the Origin policy refused).
	preflight bool
	w         statusWriter
	entry     Entry
	aborted   bool // the response is to be aborted (http.ErrAbortHandler)
	// served is the request passed to the next handler, while it runs;
	// identity is the caller's identity once the identity middleware
	// has left it in the request's context node (reqctx.Holder).
	served   *http.Request
	identity atomic.Value
}

// node is the context Middleware passes on: the request's context with the
// Middleware state, and the caller's identity once it is held there.
type node struct {
	context.Context
	rq *request
}

func (n *node) Value(key any) any {
	switch key.(type) {
	case reqctx.RequestIDKey:
		// The same key as WithRequestID's, so that RequestID finds the
		// nearest id in one walk of the context.
		return n.rq.id
	case reqctx.EntryKey:
		if !n.rq.record {
			return (*Entry)(nil) // no event for this request: none nearer either
		}
		return &n.rq.entry
	case reqctx.IdentityKey:
		if id := n.rq.identity.Load(); id != nil {
			return id
		}
	}
	return n.Context.Value(key)
}

// HoldIdentity implements reqctx.Holder: it keeps id for the request
// Middleware passed on, and for that request only, while its context is
// still n itself (nothing that could carry another identity lies between).
func (n *node) HoldIdentity(r *http.Request, id any) bool {
	return r != nil && r == n.rq.served && r.Context() == context.Context(n) && id != nil &&
		n.rq.identity.CompareAndSwap(nil, id)
}

// Middleware wraps next as the front of a handler chain:
//
//   - Request id: the incoming X-Request-Id is kept when it is 1 to 128
//     characters of [A-Za-z0-9._:/+=-] (and not a JWT), else a random one
//     (26 base32 characters, 130 bits) replaces it; an id already in the
//     context (WithRequestID by an outer layer) wins over both. The id is
//     put in the context (RequestID) and in the X-Request-Id response
//     header.
//   - Entry: an *Entry is put in the context (EntryFrom) for inner layers to
//     fill; when next returns, exactly one Event is written from it with
//     the status next sent (200 if it wrote nothing) and the time it took.
//     No layer set a decision: it is DecisionFromStatus(status), and for a
//     400, 401 or 403 the reason is the RFC 6750 error code of the Bearer
//     challenge in WWW-Authenticate ("missing_token" for a 401 challenge
//     without one); for a 429 it is "rate_limited".
//   - Panics: a panic in next is recovered and logged at slog.LevelError
//     with its stack (the stack is not in the event), JWT-shaped text and
//     the credential of the request's Authorization header redacted from
//     both (a panic value may quote the request); the event says
//     Decision Error, reason "panic". If next had not written the header
//     yet, the client gets a 500 with a short JSON body; otherwise the
//     response is aborted (panic(http.ErrAbortHandler)) so that the client
//     does not take a cut-off response for a whole one. http.ErrAbortHandler
//     itself is passed on after the event is written (reason "aborted",
//     status 0 if no status had been sent).
//   - Config.SkipPaths get a request id and panic recovery but no event;
//     so do OPTIONS requests, unless answered with an error status (4xx,
//     5xx): a CORS preflight the Origin policy refused is a cross-origin
//     attempt worth a trace.
//   - Identity: identity.Middleware behind it leaves the caller's identity
//     in the context this middleware passed on (read with
//     identity.FromContext there and in the event's context) instead of
//     copying the request, when it is handed that very request.
//
// The ResponseWriter passed to next supports http.Flusher (for SSE) and
// Unwrap, so http.ResponseController reaches the one underneath.
func (a *Auditor) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rq := &request{
			id:        RequestID(r.Context()),
			record:    !slices.Contains(a.skipPaths, r.URL.Path),
			preflight: r.Method == http.MethodOptions,
			w:         statusWriter{ResponseWriter: w},
		}
		rq.entry.rq = rq
		if rq.id == "" {
			rq.id = r.Header.Get(RequestIDHeader)
			if !validRequestID(rq.id) || inCredentials(r.Header, rq.id) {
				rq.id = newRequestID()
			}
		}
		rq.idValue[0] = rq.id
		w.Header()[RequestIDHeader] = rq.idValue[:] // canonical key; capacity 1
		rq.ctx = node{Context: r.Context(), rq: rq}
		ctx := &rq.ctx
		rq.served = r.WithContext(ctx)
		defer func() {
			p := recover()
			if p != nil {
				rq.aborted = a.recovered(ctx, rq, r, p)
			}
			if rq.record && (!rq.preflight || rq.w.wroteHeader && rq.w.status >= 400) {
				a.Record(ctx, rq.event(start, r))
			}
			// The Entry outlives the request wherever a layer kept a
			// pointer to it (mcpserver hands it to go-sdk in the
			// TokenInfo, which go-sdk keeps with the session), and it
			// shares rq with the ResponseWriter, which reaches the whole
			// of net/http's per-request state: let that go now, or every
			// session keeps its last request's buffers and headers alive
			// for the garbage collector to mark on every cycle.
			rq.w.ResponseWriter = spentWriter{}
			rq.served = nil
			if rq.aborted {
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(&rq.w, rq.served)
	})
}

// Bounds of the panic log line's fields, which a request can make long (a
// path of a megabyte, a panic message quoting a body, deep recursion).
// Redacted first, then cut, so that a cut never leaves a token's
// remainder unrecognised.
const (
	maxPanicText  = 1 << 10
	maxPanicStack = 32 << 10
)

// recovered handles the panic value p of the handler serving r: it logs it,
// marks the entry, and answers 500 if nothing was written yet. It reports
// whether the response must be aborted instead.
func (a *Auditor) recovered(ctx context.Context, rq *request, r *http.Request, p any) (abort bool) {
	if p == http.ErrAbortHandler {
		rq.entry.SetDecision(Error, "aborted")
		return true
	}
	rq.entry.SetDecision(Error, "panic")
	a.logger.LogAttrs(ctx, slog.LevelError, "panic recovered",
		slog.String("request_id", rq.id),
		slog.String("http_method", r.Method),
		slog.String("path", textcut.At(redactCredentials(redact(r.URL.Path), r.Header), maxPanicText)),
		slog.String("panic", textcut.At(redactCredentials(redact(fmt.Sprint(p)), r.Header), maxPanicText)),
		slog.String("stack", textcut.At(redactCredentials(redact(string(debug.Stack())), r.Header), maxPanicStack)),
	)
	if rq.w.wroteHeader {
		return true
	}
	h := rq.w.Header()
	id := h.Get(RequestIDHeader)
	clear(h)
	h.Set(RequestIDHeader, id)
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	rq.w.WriteHeader(http.StatusInternalServerError)
	_, _ = rq.w.Write([]byte(panicBody))
	return false
}

// minCredential is the shortest credential redactCredentials replaces:
// replacing a shorter one wherever it occurs would garble the text more
// than it hides.
const minCredential = 8

// redactCredentials returns s with the credential of each Authorization
// header in h (what follows the scheme, or the whole value if it has no
// scheme) replaced by "[redacted]". A panic value may quote the request
// (its headers, or the request itself), and redact recognises JWTs only,
// not an opaque token or Basic credentials.
func redactCredentials(s string, h http.Header) string {
	for _, v := range h["Authorization"] {
		cred := strings.TrimSpace(v)
		if i := strings.IndexAny(cred, " \t"); i >= 0 {
			cred = strings.TrimSpace(cred[i:])
		}
		if len(cred) >= minCredential {
			s = strings.ReplaceAll(s, cred, redacted)
		}
	}
	return s
}

// event builds the Event of a finished request.
func (rq *request) event(start time.Time, r *http.Request) Event {
	ev := Event{
		Time:       start,
		RequestID:  rq.id,
		HTTPMethod: r.Method,
		Path:       r.URL.Path,
		Status:     rq.w.statusOr200(),
		Duration:   time.Since(start),
	}
	if rq.aborted && !rq.w.wroteHeader {
		ev.Status = 0 // nothing was sent
	}
	rq.entry.finish(&ev)
	if ev.Decision == "" && ev.Reason == "" {
		ev.Reason = reasonFromResponse(ev.Status, rq.w.Header())
	}
	return ev
}
