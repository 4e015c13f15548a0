package proxy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
)

// userToken is a stand-in raw token for tests that do not verify it.
const userToken = "eyJhbGciOiJSUzI1NiJ9.user-token-payload.signature-part"

func TestForwardAudience(t *testing.T) {
	const backendAud = "https://crm.example.com/api"
	tests := []struct {
		name     string
		config   string // Forward's audience
		id       *identity.Identity
		wantErr  error
		wantSent bool
	}{
		{"exact", backendAud, withAud(backendAud), nil, true},
		{"one of several", backendAud, withAud("https://mcp.example.com/mcp", backendAud), nil, true},
		{"token has trailing slash", backendAud, withAud(backendAud + "/"), nil, true},
		{"config has trailing slash", backendAud + "/", withAud(backendAud), nil, true},
		{"other audience", backendAud, withAud("https://mcp.example.com/mcp"), proxy.ErrAudienceMismatch, false},
		{"prefix is not a match", backendAud, withAud(backendAud + ".evil.example"), proxy.ErrAudienceMismatch, false},
		{"longer path is not a match", backendAud, withAud(backendAud + "/admin"), proxy.ErrAudienceMismatch, false},
		{"two trailing slashes", backendAud, withAud(backendAud + "//"), proxy.ErrAudienceMismatch, false},
		{"case differs", backendAud, withAud(strings.ToUpper(backendAud)), proxy.ErrAudienceMismatch, false},
		{"no audience in token", backendAud, withAud(), proxy.ErrAudienceMismatch, false},
		{"empty audience in token and config", "", withAud(""), proxy.ErrAudienceMismatch, false},
		{"config is a bare slash", "/", withAud("", "/"), proxy.ErrAudienceMismatch, false},
		{"nil identity", backendAud, nil, proxy.ErrNoIdentity, false},
		{"identity without token", backendAud, &identity.Identity{Subject: "alice", Audience: []string{backendAud}}, proxy.ErrNoToken, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t, nil)
			c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: proxy.Forward(tt.config)})
			require.NoError(t, err)

			err = c.Do(context.Background(), tt.id, http.MethodGet, "whoami", nil, nil)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), userToken)
				require.Zero(t, be.calls.Load(), "no request may reach the backend")
				return
			}
			require.NoError(t, err)
			require.EqualValues(t, 1, be.calls.Load())
			h, _ := be.last()
			require.Equal(t, "Bearer "+userToken, h.Get("Authorization"))
		})
	}
}

func withAud(aud ...string) *identity.Identity {
	return identity.Identity{Subject: "alice", Audience: aud}.WithToken(userToken)
}
