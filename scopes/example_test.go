package scopes_test

import (
	"errors"
	"fmt"

	"github.com/idgate/idgate/scopes"
)

func Example() {
	// crm:* stands for every crm: scope; admin implies notes.
	h := scopes.MustHierarchy(scopes.HierarchyConfig{
		Wildcards: true,
		Implies:   map[string][]string{"admin": {"notes"}},
	})
	p := scopes.NewPolicy(h)
	_ = p.Require("salesSummary", scopes.All("crm:read"))
	_ = p.Require("addNote", scopes.All("notes"))
	_ = p.Require("echo", scopes.Public())

	fmt.Println(p.Allows("salesSummary", scopes.Parse("crm:*")))
	fmt.Println(p.Allows("addNote", scopes.Parse("admin")))

	err := p.Check("salesSummary", scopes.Parse("notes"))
	var ise *scopes.InsufficientScopeError
	if errors.As(err, &ise) {
		fmt.Println(ise.Tool, "needs", ise.Required)
	}
	fmt.Println("scopes_supported:", p.Supported())
	// Output:
	// true
	// true
	// salesSummary needs [crm:read]
	// scopes_supported: [crm:read notes]
}
