package main

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
)

// maxRequestIDLen is the longest request id taken from a client.
const maxRequestIDLen = 128

// withRequestIDs gives every request an id before anything else runs: the
// client's X-Request-Id when it is a plausible id (1 to 128 characters of
// [A-Za-z0-9._:/+=-], not shaped like a JWT), else a new random one. The id
// is written back into the request's X-Request-Id header, where MCP tool
// handlers read it (their context belongs to the request that opened the
// session), and into the context, where the audit middleware adopts it and
// proxy reads it to send to the backend.
func withRequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(audit.RequestIDHeader)
		if !validRequestID(id) || len(r.Header.Values(audit.RequestIDHeader)) != 1 {
			id = rand.Text()
		}
		r.Header.Set(audit.RequestIDHeader, id)
		w.Header().Set(audit.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(audit.WithRequestID(r.Context(), id)))
	})
}

// withRequestIDOf returns ctx carrying the request id of the HTTP request
// that brought the tools/call req (set by withRequestIDs).
func withRequestIDOf(ctx context.Context, req *mcp.CallToolRequest) context.Context {
	if req == nil || req.Extra == nil || req.Extra.Header == nil {
		return ctx
	}
	if id := req.Extra.Header.Get(audit.RequestIDHeader); validRequestID(id) {
		return audit.WithRequestID(ctx, id)
	}
	return ctx
}

// requestIDFrom returns the request id ctx carries, or "".
func requestIDFrom(ctx context.Context) string { return audit.RequestID(ctx) }

// validRequestID reports whether a client's request id may be used as it
// is (the audit package's rule).
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("._:/+=-", c) >= 0) {
			return false
		}
	}
	// A client that puts its token here must not have it logged or sent on.
	return !(strings.HasPrefix(id, "eyJ") && strings.Count(id, ".") >= 2)
}
