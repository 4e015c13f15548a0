package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// wellKnownPRM is the root protected-resource metadata path (RFC 9728).
const wellKnownPRM = "/.well-known/oauth-protected-resource"

// serviceInfo is the answer of GET /, in the TypeScript starter's shape.
type serviceInfo struct {
	OK        bool     `json:"ok"`
	Service   string   `json:"service"`
	WellKnown []string `json:"well_known"`
	Message   string   `json:"message"`
}

// serveInfo answers GET / with what the service is and how to use it.
func (a *app) serveInfo(w http.ResponseWriter, _ *http.Request) {
	mcpPath := a.mcpPath()
	writeJSONBody(w, http.StatusOK, serviceInfo{
		OK:        true,
		Service:   a.cfg.ServiceName,
		WellKnown: []string{a.metadataPath(), wellKnownPRM},
		Message: "Send POST " + mcpPath + " (MCP JSON-RPC over Streamable HTTP), or POST /tools/{toolName} " +
			"with a JSON body (REST), with a Bearer token to call a tool. " +
			"The protected-resource metadata names the authorization server to get one from.",
	})
}

// mcpPath is the path of the MCP endpoint.
func (a *app) mcpPath() string {
	u, _ := url.Parse(a.cfg.PublicURL)
	return u.EscapedPath()
}

// metadataPath is the path-aware protected-resource metadata path (RFC 9728
// §3.1), such as /.well-known/oauth-protected-resource/mcp.
func (a *app) metadataPath() string { return wellKnownPRM + a.mcpPath() }

// serveNoContent answers the browsers' favicon requests with 204.
func serveNoContent(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.WriteHeader(http.StatusNoContent)
}

// writeJSONBody writes v as a JSON answer that no cache keeps.
func writeJSONBody(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"ok":false,"error":{"code":"INTERNAL","message":"cannot encode the answer"}}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
