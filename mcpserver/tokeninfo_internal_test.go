package mcpserver

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// TestPassThroughScopes: the TokenInfo handed to tools lists the identity's
// scopes, sorted, whether they fit in the TokenInfo's own room or not; a
// handler appending to one TokenInfo's scopes changes neither the identity
// nor another call's TokenInfo; no scopes are nil, as Scopes.List gives
// them; up to four scopes take no allocation of their own.
func TestPassThroughScopes(t *testing.T) {
	for _, list := range [][]string{
		nil,
		{"echo"},
		{"d", "c", "b", "a"},
		{"e", "d", "c", "b", "a"},
	} {
		id := &identity.Identity{Issuer: "https://as.example", Subject: "u1", Scopes: scopes.Of(list...), ExpiresAt: time.Unix(2e9, 0)}
		ctx := identity.NewContext(context.Background(), id)
		want := slices.Sorted(slices.Values(list))
		first, err := passThrough(ctx)
		if err != nil {
			t.Fatal(err)
		}
		second, _ := passThrough(ctx)
		if !slices.Equal(first.Scopes, want) || len(first.Scopes) != len(list) {
			t.Errorf("%q: Scopes = %q, want %q", list, first.Scopes, want)
		}
		if (first.Scopes == nil) != (len(list) == 0) {
			t.Errorf("%q: Scopes = %#v: nil exactly when there are none, as Scopes.List gives them", list, first.Scopes)
		}
		if first.UserID != "https://as.example|u1" || !first.Expiration.Equal(id.ExpiresAt) || first.Extra[TokenInfoIdentityKey] != id {
			t.Errorf("%q: TokenInfo = %+v", list, first)
		}
		_ = append(first.Scopes, "admin")
		if len(list) > 0 {
			first.Scopes[0] = "changed"
		}
		if !slices.Equal(second.Scopes, want) || !slices.Equal(id.Scopes.List(), want) {
			t.Errorf("%q: a handler's writes reached another TokenInfo (%q) or the identity (%q)", list, second.Scopes, id.Scopes.List())
		}
	}

	id := &identity.Identity{Issuer: "i", Subject: "s", Scopes: scopes.Of("a", "b", "c", "d")}
	ctx := identity.NewContext(context.Background(), id)
	// The TokenInfo, and the Extra map's header and group: nothing for the
	// scopes.
	if allocs := testing.AllocsPerRun(100, func() { _, _ = passThroughAs(ctx, "i|s") }); allocs != 3 {
		t.Errorf("passThroughAs: %v allocations, want 3", allocs)
	}
}
