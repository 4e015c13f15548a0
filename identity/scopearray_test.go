package identity_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/scopes"
)

// TestIntrospectionScopeArrayItemsWhole: an introspection scope array holds
// one scope per item, as a JWT's does: an item with a space grants no
// second scope.
func TestIntrospectionScopeArrayItemsWhole(t *testing.T) {
	fake := &fakeIntrospection{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	const aud = "https://mcp.example.com/mcp"
	v := newIntrospectionVerifier(t, identity.IntrospectionConfig{
		Endpoint: srv.URL + "/introspect", ClientID: "c", ClientSecret: "s",
		Issuer: "https://idp.example", Audiences: []string{aud}, CacheTTL: -1,
	})
	iss := identitytest.NewIssuer(t)
	jv := newVerifier(t, iss, nil)
	exp := time.Now().Add(time.Hour).Unix()
	scp := []string{"files:read:x admin", "notes"}
	want := scopes.Of(scp...)

	fake.set(0, fmt.Sprintf(`{"active":true,"sub":"a","aud":%q,"iss":"https://idp.example","exp":%d,"scp":["files:read:x admin","notes"]}`, aud, exp))
	id, err := v.Verify(context.Background(), "opaque-token")
	require.NoError(t, err)
	require.Equal(t, want, id.Scopes)
	require.False(t, id.Scopes.Has("admin"))

	jid, err := jv.Verify(context.Background(), iss.Mint(t, identitytest.Without("scope"), identitytest.ScopeClaim("scp", scp)))
	require.NoError(t, err)
	require.Equal(t, want, jid.Scopes)
}
