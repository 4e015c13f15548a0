package demoapi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/identity/identitytest"
)

// TestWhoamiScopeListSplitsOnSpaceOnly: whoami's scope_list is the scope
// split as the gateway's verifier splits it, on spaces only. A token whose
// scope is "starter.whoami notes:x\u00a0starter.crm" holds two scopes, the
// second of which is no starter.crm: the list must not show starter.crm
// as granted (the crm tool refuses it).
func TestWhoamiScopeListSplitsOnSpaceOnly(t *testing.T) {
	e := newEnv(t)
	const odd = "notes:x\u00a0" + demoapi.ScopeCRM
	tok := e.iss.Mint(t, identitytest.Subject("auth0|mallory"), identitytest.ScopeClaim("scope", demoapi.ScopeWhoami+" "+odd))
	b := e.ok(t, tok, "whoami", "{}")
	auth := b["authorization"].(map[string]any)
	require.Equal(t, []any{demoapi.ScopeWhoami, odd}, auth["scope_list"])
}
