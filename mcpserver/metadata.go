package mcpserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/idgate/idgate/scopes"
)

// ProtectedResourceMetadata returns the server's RFC 9728 metadata as it is
// now: "resource" is Config.PublicURL exactly, "authorization_servers" the
// configured issuers, "bearer_methods_supported" ["header"],
// "scopes_supported" the scopes the declared tools name and
// Config.AdditionalScopes, sorted (never offline_access; omitted when
// none), "resource_name" Config.Name. Nothing comes from a request. The
// caller may modify the result.
func (s *Server) ProtectedResourceMetadata() *oauthex.ProtectedResourceMetadata {
	return &oauthex.ProtectedResourceMetadata{
		Resource:               s.cfg.PublicURL,
		AuthorizationServers:   slices.Clone(s.cfg.AuthorizationServers),
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        s.supportedScopes(),
		ResourceName:           s.cfg.Name,
	}
}

// ProtectedResourceMetadataURL returns the absolute, path-aware URL of the
// metadata (RFC 9728 §3.1), such as
// https://api.example.com/.well-known/oauth-protected-resource/mcp: the
// "resource_metadata" of every challenge.
func (s *Server) ProtectedResourceMetadataURL() string { return s.cfg.prmURL }

// supportedScopes is the policy's scopes and Config.AdditionalScopes,
// sorted, minus offline_access, or nil.
func (s *Server) supportedScopes() []string {
	sup := s.policy.Supported()
	if len(s.cfg.AdditionalScopes) > 0 {
		sup = scopes.Of(append(sup, s.cfg.AdditionalScopes...)...).List()
	}
	sup = slices.DeleteFunc(sup, func(sc string) bool { return sc == "offline_access" })
	if len(sup) == 0 {
		return nil
	}
	return sup
}

// metadataCache is the encoded metadata for one policy generation.
type metadataCache struct {
	gen  uint64
	body []byte
}

// metadataJSON returns the encoded metadata, cached until the policy
// changes.
func (s *Server) metadataJSON() []byte {
	gen := s.gen.Load() // before reading the policy: a change meanwhile makes the result stale
	if c := s.prmJSON.Load(); c != nil && c.gen == gen {
		return c.body
	}
	b, err := json.Marshal(s.ProtectedResourceMetadata())
	if err != nil { // cannot happen: strings and string slices only
		panic("mcpserver: encoding protected-resource metadata: " + err.Error())
	}
	s.prmJSON.Store(&metadataCache{gen: gen, body: b})
	return b
}

// MetadataHandler returns the handler that serves the protected-resource
// metadata as JSON, for mounting at other paths. It needs no
// authentication, answers GET and HEAD, allows any origin (the document is
// public), and answers CORS preflights. Handler already mounts it at the
// path-aware and the root well-known paths.
func (s *Server) MetadataHandler() http.Handler {
	return http.HandlerFunc(s.serveMetadata)
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Mcp-Protocol-Version")
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	b := s.metadataJSON()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
