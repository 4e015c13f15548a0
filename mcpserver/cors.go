package mcpserver

import (
	"net/http"
	"strings"

	"github.com/idgate/idgate/audit"
)

// CORS values for the MCP endpoint.
const (
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Accept, Mcp-Protocol-Version, Mcp-Session-Id, Mcp-Method, Mcp-Name, Last-Event-Id, X-Request-Id"
	corsExposeHeaders = "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, RateLimit, RateLimit-Policy, Retry-After, X-Request-Id"
	corsMaxAge        = "600"
)

// AllowsOrigin reports whether origin, the value of a request's Origin
// header, is allowed: PublicURL's origin or one of Config.AllowedOrigins,
// compared as browsers send them. For routes of your own beside the MCP
// endpoint that apply the same policy.
func (s *Server) AllowsOrigin(origin string) bool { return s.cfg.allowedOrg[origin] }

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
			h.Set("Access-Control-Allow-Headers", allowHeaders(r.Header.Values("Access-Control-Request-Headers")))
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		audit.EntryFrom(r.Context()).SetDecision(audit.Allow, "preflight")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}

// paramHeaderPrefix begins the headers that carry a tool's arguments from
// protocol 2026-07-28 on (SEP-2243: Mcp-Param-<name>, named by the tool's
// input schema).
const paramHeaderPrefix = "mcp-param-"

// allowHeaders is the Access-Control-Allow-Headers value for a preflight
// whose Access-Control-Request-Headers are requested: the MCP headers
// (corsAllowHeaders), and the Mcp-Param-* headers requested, whose names
// depend on the tools and so cannot be listed beforehand. No other
// requested header is allowed.
func allowHeaders(requested []string) string {
	var params []string
	for _, v := range requested {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if len(name) > len(paramHeaderPrefix) && strings.EqualFold(name[:len(paramHeaderPrefix)], paramHeaderPrefix) && isToken(name) {
				params = append(params, name)
			}
		}
	}
	if len(params) == 0 {
		return corsAllowHeaders
	}
	return corsAllowHeaders + ", " + strings.Join(params, ", ")
}

// isToken reports whether s is an RFC 9110 token, as a header name must be.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return s != ""
}
