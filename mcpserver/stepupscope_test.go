package mcpserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// Config.StepUpIncludeGrantedScopes: the 403 challenge asks for the scopes
// the calls need plus the caller's granted scopes that the server
// advertises, never another (SPEC 10 with the option; without it, exactly
// what the calls need). The JSON-RPC error names what the calls need
// either way.
func TestStepUpIncludeGrantedScopes(t *testing.T) {
	wildcards := func(c *mcpserver.Config) {
		c.Hierarchy = scopes.MustHierarchy(scopes.HierarchyConfig{Wildcards: true})
	}
	tests := []struct {
		name        string
		opts        []envOption
		granted     []string
		body        string
		wantDefault string // the challenge's scope without the option
		wantOption  string // with it
		wantData    string // the JSON-RPC error's data, either way
	}{
		{
			name:    "notes:read is kept",
			granted: []string{"notes:read"}, body: callBody(2, "salesRead"),
			wantDefault: "crm:read", wantOption: "crm:read notes:read", wantData: `{"scope":["crm:read"]}`,
		},
		{
			name:    "scopes the server does not advertise are never named",
			granted: []string{"offline_access", "email", "other:thing", "crm:read"}, body: callBody(2, "salesWrite"),
			wantDefault: "crm:write", wantOption: "crm:read crm:write", wantData: `{"scope":["crm:write"]}`,
		},
		{
			name:    "no scope at all",
			granted: nil, body: callBody(2, "salesRead"),
			wantDefault: "crm:read", wantOption: "crm:read", wantData: `{"scope":["crm:read"]}`,
		},
		{
			name:    "a batch: the union of what the calls need, plus what is held",
			granted: []string{"notes:write"}, body: "[" + callBody(1, "salesRead") + "," + callBody(2, "salesWrite") + "]",
			wantDefault: "crm:read crm:write", wantOption: "crm:read crm:write notes:write", wantData: `{"scope":["crm:read","crm:write"]}`,
		},
		{
			name: "under a hierarchy, the advertised scopes a wildcard stands for",
			opts: []envOption{wildcards}, granted: []string{"notes:*"}, body: callBody(2, "salesRead"),
			wantDefault: "crm:read", wantOption: "crm:read notes:read notes:write", wantData: `{"scope":["crm:read"]}`,
		},
	}
	for _, option := range []bool{false, true} {
		for _, tc := range tests {
			name := tc.name + "/default"
			if option {
				name = tc.name + "/StepUpIncludeGrantedScopes"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, append(tc.opts, stateless, func(c *mcpserver.Config) { c.StepUpIncludeGrantedScopes = option })...)
				tok := e.iss.Mint(t, identitytest.Subject("dana"), identitytest.Scopes(tc.granted...))
				r := e.do(http.MethodPost, "/mcp", tc.body, with(bearer(tok), []string{"Mcp-Protocol-Version", "2025-06-18"})...)
				require.Equal(t, http.StatusForbidden, r.Status, r.Body)
				want := tc.wantDefault
				if option {
					want = tc.wantOption
				}
				require.Equal(t, []string{`Bearer resource_metadata="` + prmURL + `", scope="` + want + `", error="insufficient_scope"`},
					r.Header.Values("WWW-Authenticate"))
				require.Contains(t, r.Body, `"data":`+tc.wantData)
				require.Equal(t, strings.Count(tc.body, `"tools/call"`), strings.Count(r.Body, `"error":`), "each refused call has its error: %s", r.Body)
			})
		}
	}
}
