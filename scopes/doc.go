// Package scopes models OAuth scopes: sets of granted scopes, requirements a
// caller must meet, hierarchies in which one scope implies others, and a
// per-tool policy that says which scopes each tool needs.
//
// It depends only on the standard library, so any Go service can use it.
//
//	granted := scopes.Parse("crm:read notes")
//	req := scopes.All("crm:read")
//	if err := req.Check(granted, nil); err != nil {
//		var ise *scopes.InsufficientScopeError
//		errors.As(err, &ise) // ise.Missing == ["crm:read"] when not granted
//	}
//
// A Policy maps tool names to requirements and answers the one question an
// MCP server asks before dispatching a call: may this caller use this tool?
package scopes
