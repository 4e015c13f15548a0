package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// maxRESTBodyBytes bounds a REST call's body: the backend takes no more.
const maxRESTBodyBytes = demoapi.MaxBodyBytes

// REST CORS values.
const (
	restAllowMethods  = "POST, OPTIONS"
	restAllowHeaders  = "Authorization, Content-Type, X-Request-Id"
	restExposeHeaders = "WWW-Authenticate, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id"
)

// restOK is a REST tool call's answer on success, in the TypeScript
// starter's shape.
type restOK struct {
	OK        bool            `json:"ok"`
	Data      json.RawMessage `json:"data"`
	RequestID string          `json:"requestId"`
	ElapsedMs int64           `json:"elapsedMs"`
	UID       string          `json:"uid"`
}

// restError is a REST tool call's answer on failure.
type restError struct {
	OK        bool          `json:"ok"`
	Error     restErrorBody `json:"error"`
	RequestID string        `json:"requestId"`
}

// restErrorBody says what went wrong: a fixed code, a short message.
type restErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// restHandler answers /tools/{name}: the Origin policy, CORS preflights
// and the method check first, as on the MCP endpoint; then a POST counts
// against the per-address limit the MCP endpoint applies (the same budget)
// before serveREST verifies its token.
func (a *app) restHandler() http.Handler {
	call := a.mcp.LimitByAddress(http.HandlerFunc(a.serveREST), refuseREST)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := requestIDFrom(r.Context())
		entry := audit.EntryFrom(r.Context())
		if !a.restOrigin(w, r) {
			entry.SetDecision(audit.Deny, "origin")
			writeRESTError(w, http.StatusForbidden, rid, "ORIGIN_NOT_ALLOWED", "this origin may not call the server")
			return
		}
		if r.Method == http.MethodOptions { // a CORS preflight: no credentials
			w.Header().Set("Allow", restAllowMethods)
			entry.SetDecision(audit.Allow, "preflight")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", restAllowMethods)
			writeRESTError(w, http.StatusMethodNotAllowed, rid, "METHOD_NOT_ALLOWED", "call tools with POST")
			return
		}
		call.ServeHTTP(w, r)
	})
}

// refuseREST writes the REST body of a request the per-address limit
// refused (mcpserver has set Retry-After and the RateLimit headers).
func refuseREST(w http.ResponseWriter, r *http.Request, status int) {
	rid := requestIDFrom(r.Context())
	if status == http.StatusTooManyRequests {
		writeRESTError(w, status, rid, "RATE_LIMITED", "Too many requests, please try again later.")
		return
	}
	writeRESTError(w, status, rid, "UNAVAILABLE", "try again later")
}

// serveREST answers POST /tools/{name}, once restHandler let it through:
// the same tool as over MCP, for the same verified user, with the same
// scope check (403 with an insufficient_scope challenge), for the tools the
// starter declares only. Anything else (an unknown name) is 404 and never
// reaches the backend.
func (a *app) serveREST(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	rid := requestIDFrom(ctx)
	entry := audit.EntryFrom(ctx)
	id, ok := a.authenticate(w, r)
	if !ok {
		return
	}
	entry.SetIdentity(id.Subject, id.Issuer, id.ClientID)
	if !a.allowUser(w, r, id) {
		return
	}
	name := r.PathValue("name")
	t, ok := a.tools[name]
	if !ok {
		entry.SetDecision(audit.Deny, "unknown_tool")
		writeRESTError(w, http.StatusNotFound, rid, "UNKNOWN_TOOL", "no such tool; the tools are listed by MCP tools/list")
		return
	}
	entry.SetMCP("tools/call", name)
	if err := scopes.All(t.scope).Check(id.Scopes, nil); err != nil {
		entry.SetDecision(audit.Deny, identity.ErrorCodeInsufficientScope)
		w.Header().Set("WWW-Authenticate", identity.Challenge{
			ResourceMetadata: a.mcp.ProtectedResourceMetadataURL(),
			Scope:            []string{t.scope},
			Error:            identity.ErrorCodeInsufficientScope,
			ErrorDescription: "the token lacks the scope this tool needs",
		}.String())
		writeRESTError(w, http.StatusForbidden, rid, "INSUFFICIENT_SCOPE", "insufficient_scope: this tool needs "+t.scope)
		return
	}
	args, status, code, msg := readRESTArgs(r)
	if status != 0 {
		entry.SetDecision(audit.Deny, "bad_request")
		writeRESTError(w, status, rid, code, msg)
		return
	}
	entry.SetDecision(audit.Allow, "")

	o := t.run(ctx, id, args)
	switch o.kind {
	case done:
		writeJSONBody(w, http.StatusOK, restOK{OK: true, Data: o.raw, RequestID: rid, ElapsedMs: time.Since(start).Milliseconds(), UID: id.UserID})
	case refused:
		writeRESTError(w, http.StatusForbidden, rid, strings.ToUpper(cmp.Or(o.code, "refused")), o.text(name))
	case rejected:
		switch o.status {
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
			msg := cmp.Or(o.message, strings.ToLower(http.StatusText(o.status)))
			writeRESTError(w, o.status, rid, strings.ToUpper(cmp.Or(o.code, "invalid_input")), msg)
		default:
			entry.SetDecision(audit.Error, "backend_error")
			writeRESTError(w, http.StatusBadGateway, rid, "BACKEND_ERROR", fmt.Sprintf("the backend answered %d", o.status))
		}
	case timedOut:
		entry.SetDecision(audit.Error, "backend_timeout")
		writeRESTError(w, http.StatusGatewayTimeout, rid, "BACKEND_TIMEOUT", "the backend did not answer in time")
	case unreachable:
		entry.SetDecision(audit.Error, "backend_unavailable")
		writeRESTError(w, http.StatusBadGateway, rid, "BACKEND_UNAVAILABLE", "the backend could not be reached")
	default:
		entry.SetDecision(audit.Error, "gateway_error")
		writeRESTError(w, http.StatusInternalServerError, rid, "GATEWAY_ERROR", "the gateway could not call the backend")
	}
}

// serveNoTool answers /tools/ without a tool name.
func (a *app) serveNoTool(w http.ResponseWriter, r *http.Request) {
	writeRESTError(w, http.StatusBadRequest, requestIDFrom(r.Context()), "NO_TOOL", "Missing tool name: POST /tools/{toolName}")
}

// authenticate verifies the request's bearer token. On failure it writes the
// answer mcpserver would (401 with a challenge naming the metadata, 400, or
// 503 with Retry-After when the token cannot be judged), with the REST body.
func (a *app) authenticate(w http.ResponseWriter, r *http.Request) (*identity.Identity, bool) {
	ctx := r.Context()
	tok, err := identity.BearerToken(r)
	var id *identity.Identity
	if err == nil {
		id, err = a.verifier.Verify(ctx, tok)
	}
	if err == nil {
		return id, true
	}
	status, code, desc := identity.Describe(err)
	entry := audit.EntryFrom(ctx)
	switch {
	case status >= 500:
		entry.SetDecision(audit.Error, "verifier_unavailable")
		w.Header().Set("Retry-After", "10")
		writeRESTError(w, status, requestIDFrom(ctx), "UNAVAILABLE", "the token cannot be checked right now; try again")
		return nil, false
	case code == "":
		entry.SetDecision(audit.Deny, "missing_token")
	default:
		entry.SetDecision(audit.Deny, code)
	}
	a.log.LogAttrs(ctx, slog.LevelDebug, "rest: refused", slog.Int("status", status), slog.String("error", err.Error()))
	// The challenge the MCP endpoint's identity middleware sends: the
	// scopes to ask for on a 401 only, and no error information at all
	// without a token (RFC 6750 §3.1).
	ch := identity.Challenge{
		ResourceMetadata: a.mcp.ProtectedResourceMetadataURL(),
		Error:            code,
		ErrorDescription: desc,
	}
	if code == "" || code == identity.ErrorCodeInvalidToken {
		ch.Scope = a.mcp.ProtectedResourceMetadata().ScopesSupported
	}
	if code == "" {
		ch.ErrorDescription = ""
	}
	w.Header().Set("WWW-Authenticate", ch.String())
	restCode := strings.ToUpper(code)
	if restCode == "" {
		restCode = "UNAUTHORIZED"
	}
	writeRESTError(w, status, requestIDFrom(ctx), restCode, cmp.Or(desc, "a bearer token is required"))
	return nil, false
}

// allowUser applies the user's rate limit, shared with MCP (the same store
// and key as mcpserver's per-user limit). A store failure (Redis down)
// answers 503, or lets the call through with RATE_LIMIT_FAIL_OPEN, as on
// the MCP endpoint.
func (a *app) allowUser(w http.ResponseWriter, r *http.Request, id *identity.Identity) bool {
	ctx := r.Context()
	limit := userLimit(a.cfg)
	res, err := a.limits.Allow(ctx, "user:"+id.Issuer+"|"+id.Subject, limit)
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "rest: rate-limit store failed",
			slog.Bool("fail_open", a.cfg.RateLimitFailOpen), slog.String("error", err.Error()))
		if a.cfg.RateLimitFailOpen {
			return true
		}
		audit.EntryFrom(ctx).SetDecision(audit.Error, "rate_limit_store")
		w.Header().Set("Retry-After", "10")
		writeRESTError(w, http.StatusServiceUnavailable, requestIDFrom(ctx), "UNAVAILABLE", "try again later")
		return false
	}
	h := w.Header()
	h.Set("RateLimit-Policy", fmt.Sprintf("%d;w=%d", limit.Rate, int(limit.Period.Seconds())))
	h.Set("RateLimit", fmt.Sprintf("limit=%d, remaining=%d, reset=%d", limit.Rate, res.Remaining, ceilSeconds(res.Reset)))
	if res.Allowed {
		return true
	}
	audit.EntryFrom(ctx).SetDecision(audit.RateLimited, "rate_limited")
	h.Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(res.RetryAfter))))
	writeRESTError(w, http.StatusTooManyRequests, requestIDFrom(ctx), "RATE_LIMITED", "Too many requests, please try again later.")
	return false
}

// restOrigin applies the Origin policy of the REST routes, the same as the
// MCP endpoint's: a request whose Origin is present and not allowed
// (APP_ORIGIN, or PUBLIC_URL's origin) is refused; an allowed one gets the
// CORS headers.
func (a *app) restOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin, present := r.Header["Origin"]
	if !present {
		return true
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if len(origin) != 1 || !a.mcp.AllowsOrigin(origin[0]) {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin[0])
	h.Set("Access-Control-Expose-Headers", restExposeHeaders)
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", restAllowMethods)
		h.Set("Access-Control-Allow-Headers", restAllowHeaders)
		h.Set("Access-Control-Max-Age", "600")
	}
	return true
}

// readRESTArgs reads a REST call's arguments: an empty body or a JSON object
// of at most maxRESTBodyBytes, sent to the backend as they are (it checks
// them as strictly as go-sdk checks MCP arguments). On failure status is
// the answer's status.
func readRESTArgs(r *http.Request) (args json.RawMessage, status int, code, msg string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "send the arguments as application/json"
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRESTBodyBytes+1))
	if err != nil {
		return nil, http.StatusBadRequest, "INVALID_JSON", "the request body could not be read"
	}
	if len(body) > maxRESTBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", fmt.Sprintf("the body exceeds %d bytes", maxRESTBodyBytes)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return json.RawMessage("{}"), 0, "", ""
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) || !json.Valid(body) {
			return nil, http.StatusBadRequest, "INVALID_JSON", "the body is not valid JSON"
		}
		return nil, http.StatusBadRequest, "INVALID_INPUT", "the arguments must be a JSON object"
	}
	return json.RawMessage(body), 0, "", ""
}

// writeRESTError writes a REST failure.
func writeRESTError(w http.ResponseWriter, status int, rid, code, msg string) {
	writeJSONBody(w, status, restError{Error: restErrorBody{Code: code, Message: msg}, RequestID: rid})
}

// ceilSeconds returns d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}
