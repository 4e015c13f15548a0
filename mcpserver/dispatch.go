package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Calls dispatched by idgate.
//
// With the direct transports a plain tools/call reaches the server with
// its body read once, but go-sdk's session still decodes its params twice
// before the server's handler runs (to look for the _meta of protocol
// 2026-07-28, then into the method's params), each time through a decoder
// that allocates a fresh 32 KiB buffer: 64 of the ~76 KB a call allocates,
// and with them most of the collector's work. It also moves the call
// through three goroutines (the connection's reader, the handler, and back
// to the HTTP request's).
//
// So the direct transports hand a plain tools/call (params an object
// without _meta, on an initialized session, of a protocol version before
// 2026-07-28, or a clean 2026-07-28 call on the stateless transport: what
// go-sdk's session then does is known) to the server's
// receiving method handler themselves: idgate's receiving middleware and
// all go-sdk installs below it (its multi-round-trip middleware, the tool
// table, the tool's handler), with params decoded as go-sdk decodes them,
// the request's RequestExtra, and a context with the values and the
// cancellation go-sdk's would have. The handler runs in the HTTP
// request's goroutine, whose stack is already grown (a goroutine of its
// own grew its stack on every call: 6% of the server's CPU), and what it
// sends in its context is written on the call's stream as it comes. The
// handler's response is encoded as go-sdk's connection encodes it. Every
// test that holds the direct transports to go-sdk's answers byte for byte
// runs through it.
//
// One difference in timing remains: a handler that ends its stream early
// (RequestExtra.CloseSSEStream) gets the same bytes on the wire, but the
// HTTP response ends when the handler returns, not at once. Without an
// EventStore, which the direct transports do not serve, the client can
// resume nothing in between.
//
// Middleware a program adds with MCPServer().AddReceivingMiddleware wraps
// idgate's, and a dispatch that starts at idgate's would skip it. So the
// dispatcher checks, on every message go-sdk's session hands the server,
// that the middleware it installed is the one the session calls
// (handleReceive is its caller); calls are dispatched only once a message
// has shown that, and never again once one has shown otherwise. A
// middleware added after the server has begun serving is therefore
// skipped until the next message that goes go-sdk's way (at the latest the
// next session's initialize): add middleware before serving.

// Chain states of a dispatcher.
const (
	chainUnknown int32 = iota // no message has gone go-sdk's way yet
	chainOurs                 // idgate's middleware is the one go-sdk calls
	chainWrapped              // another middleware wraps idgate's
)

// sdkHandleReceive is the name of the go-sdk function that calls a
// server's receiving method handler, up to its type parameters.
const sdkHandleReceive = "github.com/modelcontextprotocol/go-sdk/mcp.handleReceive["

// dispatcher calls a server's receiving method handler for the direct
// transports.
type dispatcher struct {
	// h is idgate's receiving middleware with all go-sdk installs below
	// it.
	h mcp.MethodHandler
	// logger receives what go-sdk's connection would log as an internal
	// error (a handler that returns a result with an error, or neither).
	logger *slog.Logger

	state atomic.Int32
	// callerPC is the return address in handleReceive, once seen.
	callerPC atomic.Uintptr
	// rewriteMethodNotFound is go-sdk's default: an error with code
	// "method not found" is answered as jsonrpc2.ErrMethodNotFound naming
	// the method, unless MCPGODEBUG=nomethodnotfoundcodeinerror=1.
	rewriteMethodNotFound bool
	// dispatched counts the calls dispatched (tests read it).
	dispatched atomic.Uint64
}

// errMethodNotFound is go-sdk's jsonrpc2.ErrMethodNotFound (internal to
// go-sdk): errors.Is compares jsonrpc.Errors by code.
var errMethodNotFound = &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "method not found"}

// newDispatcher returns the dispatcher of a server whose go-sdk server
// logs to logger (nil: nowhere, as go-sdk).
func newDispatcher(logger *slog.Logger) *dispatcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &dispatcher{
		logger:                logger,
		rewriteMethodNotFound: !mcpGoDebug(os.Getenv("MCPGODEBUG"), "nomethodnotfoundcodeinerror", "1"),
	}
}

// middleware returns the receiving middleware that installs receiving and
// watches which middleware go-sdk calls.
func (d *dispatcher) middleware(receiving mcp.Middleware) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		d.h = receiving(next)
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if d.state.Load() != chainWrapped {
				d.checkCaller()
			}
			return d.h(ctx, method, req)
		}
	}
}

// checkCaller records whether the caller of the middleware's handler (the
// frame above checkCaller's caller) is go-sdk's handleReceive.
//
//go:noinline
func (d *dispatcher) checkCaller() {
	var pc [1]uintptr
	// Skip runtime.Callers, checkCaller and the middleware's handler.
	if runtime.Callers(3, pc[:]) == 0 {
		d.state.Store(chainWrapped)
		return
	}
	if pc[0] != d.callerPC.Load() {
		frame, _ := runtime.CallersFrames(pc[:]).Next()
		if !strings.HasPrefix(frame.Function, sdkHandleReceive) {
			d.state.Store(chainWrapped)
			return
		}
		d.callerPC.Store(pc[0])
	}
	d.state.CompareAndSwap(chainUnknown, chainOurs)
}

// on reports whether calls may be dispatched.
func (d *dispatcher) on() bool { return d != nil && d.state.Load() == chainOurs }

// callParams decodes the params of a tools/call as go-sdk's session
// decodes them (case-sensitive field names, at most 1000 levels of
// nesting), reporting false for any it would refuse: those go its way, to
// be refused there.
func callParams(raw json.RawMessage) (*mcp.CallToolParamsRaw, bool) {
	var p *mcp.CallToolParamsRaw
	if err := decodeExact(raw, &p); err != nil || p == nil {
		return nil, false
	}
	return p, true
}

// call runs a call of method (tools/call; tools/list and server/discover
// at 2026-07-28)
// through the receiving method handler in ctx and returns its response,
// nil when go-sdk's connection would send none (a result it cannot
// encode). For a 2026-07-28 call serverInfo is the server's name, which
// go-sdk's session puts in a result's _meta, with resultType "complete"
// on the results that have one.
func (d *dispatcher) call(ctx context.Context, id jsonrpc.ID, method string, req mcp.Request, serverInfo *mcp.Implementation) *jsonrpc.Response {
	if method == "tools/call" {
		d.dispatched.Add(1)
	}
	res, err := d.h(ctx, method, req)
	if err == nil && serverInfo != nil {
		// go-sdk's setCompleteResultType
		switch r := res.(type) {
		case *mcp.ListToolsResult:
			if r != nil {
				r.ResultType = "complete"
			}
		case *mcp.DiscoverResult:
			if r != nil {
				r.ResultType = "complete"
			}
		}
		annotateServerInfo(res, serverInfo)
	}
	// go-sdk's processResult. (It also rewrites jsonrpc2's ErrNotHandled,
	// which is internal to go-sdk and not returned by these methods'
	// handlers.)
	if d.rewriteMethodNotFound && errors.Is(err, errMethodNotFound) {
		err = fmt.Errorf("%w: %q", errMethodNotFound, method)
	}
	var result any = res
	if result != nil && err != nil {
		d.internalError(fmt.Sprintf("%#v returned a non-nil result with a non-nil error for %s:\n%v\n%#v", d.h, method, err, result))
		result = nil
	}
	if result == nil && err == nil {
		err = d.internalError(fmt.Sprintf("%#v returned a nil result and nil error for a %q Request that requires a Response", d.h, method))
	}
	resp := &jsonrpc.Response{ID: id, Error: err}
	if result != nil {
		data, merr := marshalResult(result)
		if merr != nil {
			d.internalError(fmt.Sprintf("%#v returned a malformed result for %q: %v", d.h, method, merr))
			return nil
		}
		resp.Result = data
	}
	return resp
}

// internalError logs msg as go-sdk's connection logs an internal error and
// returns the error it answers with.
func (d *dispatcher) internalError(msg string) error {
	d.logger.Error("jsonrpc2 internal error", "error", msg)
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "internal error: " + msg}
}

// marshalResult encodes a result as go-sdk's connection does: compact,
// without HTML escaping.
func marshalResult(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
