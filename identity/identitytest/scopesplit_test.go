package identitytest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

// TestTokenExchangeScopeSplitsOnSpaceOnly: the token endpoint reads a
// subject token's scope claim as the verifiers do, split on spaces only. A
// subject token whose one scope is "notes:x\u00a0admin" holds no "admin":
// an exchange must neither grant it when asked for it nor split the scope
// in two in the token it issues.
func TestTokenExchangeScopeSplitsOnSpaceOnly(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	const one = "notes:x\u00a0admin"
	subject := iss.Mint(t, identitytest.Subject("mallory"), identitytest.ScopeClaim("scope", one+" crm:read"))
	form := func(scope string) url.Values {
		v := url.Values{
			"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"subject_token":      {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
			"audience":           {"https://backend.example.com"},
		}
		if scope != "" {
			v.Set("scope", scope)
		}
		return v
	}

	status, body := postForm(t, iss, iss.TokenURL(), form("admin"), false)
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Equal(t, "invalid_scope", body["error"])

	status, body = postForm(t, iss, iss.TokenURL(), form(""), false)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, one+" crm:read", body["scope"])
	_, claims := parse(t, iss, body["access_token"].(string))
	require.Equal(t, one+" crm:read", claims["scope"])
}
