package mcpserver

import (
	"net/http"

	"github.com/idgate/idgate/audit"
)

// CORS values for the MCP endpoint.
const (
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-Id, X-Request-Id"
	corsExposeHeaders = "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, RateLimit, RateLimit-Policy, Retry-After, X-Request-Id"
	corsMaxAge        = "600"
)

// admitOrigin answers CORS preflights and refuses requests whose Origin
// header is present and not allowed (SPEC 25): 403, before any
// authentication, so that a page on another origin cannot use a token it
// got hold of. Preflights are never authentication-gated (SPEC 3).
//
// It reports whether the request goes on, having answered it otherwise.
func (s *Server) admitOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin, hasOrigin := r.Header["Origin"]
	h := w.Header()
	if hasOrigin {
		h.Add("Vary", "Origin")
		if len(origin) != 1 || !s.cfg.allowedOrg[origin[0]] {
			audit.EntryFrom(r.Context()).SetDecision(audit.Deny, "origin")
			writeError(w, http.StatusForbidden, "origin not allowed")
			return false
		}
		h.Set("Access-Control-Allow-Origin", origin[0])
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
	if r.Method == http.MethodOptions {
		h.Set("Allow", corsAllowMethods)
		if hasOrigin && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		audit.EntryFrom(r.Context()).SetDecision(audit.Allow, "preflight")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}
