package mcpserver

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/idgate/idgate/identity"
)

// debugTokenView is what GET /debug-token shows: the caller's verified
// claims, never the token.
type debugTokenView struct {
	Subject   string         `json:"sub"`
	UserID    string         `json:"user_id,omitempty"`
	Issuer    string         `json:"iss"`
	Audience  []string       `json:"aud"`
	Scopes    []string       `json:"scopes"`
	ClientID  string         `json:"client_id,omitempty"`
	Email     string         `json:"email,omitempty"`
	Name      string         `json:"name,omitempty"`
	IssuedAt  *time.Time     `json:"iat,omitempty"`
	NotBefore *time.Time     `json:"nbf,omitempty"`
	ExpiresAt *time.Time     `json:"exp,omitempty"`
	TokenID   string         `json:"jti,omitempty"`
	Claims    map[string]any `json:"claims,omitempty"`
}

// serveDebugToken answers GET /debug-token (Config.DebugToken) with the
// caller's own verified identity, to help set up scopes and audiences.
func (s *Server) serveDebugToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	id, ok := identity.FromContext(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "not authenticated")
		return
	}
	v := debugTokenView{
		Subject:   id.Subject,
		UserID:    id.UserID,
		Issuer:    id.Issuer,
		Audience:  id.Audience,
		Scopes:    id.Scopes.List(),
		ClientID:  id.ClientID,
		Email:     id.Email,
		Name:      id.Name,
		IssuedAt:  timeOrNil(id.IssuedAt),
		NotBefore: timeOrNil(id.NotBefore),
		ExpiresAt: timeOrNil(id.ExpiresAt),
		TokenID:   id.TokenID,
		Claims:    id.Claims,
	}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot encode claims")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(append(b, '\n'))
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
