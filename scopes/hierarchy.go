package scopes

import (
	"fmt"
	"strings"
)

// Hierarchy says which granted scopes stand for others. It is applied when a
// Requirement is checked: a scope is granted when the caller holds it, holds a
// scope that implies it, or (with Wildcards) holds a matching wildcard.
//
// A nil *Hierarchy means exact matching only. A Hierarchy is immutable once
// built and safe for concurrent use.
type Hierarchy struct {
	wildcards bool
	implies   map[string][]string // transitive closure, excluding the key
}

// HierarchyConfig configures NewHierarchy.
type HierarchyConfig struct {
	// Wildcards, when true, lets a granted scope of the form "prefix*" grant
	// every scope that starts with prefix: "crm:*" grants "crm:read" and
	// "crm:write". The prefix must be non-empty; a bare "*" never grants
	// anything. Default false: "crm:*" is an ordinary scope name.
	Wildcards bool

	// Implies maps a scope to the scopes it also grants, for example
	// {"admin": {"crm:read", "notes"}}. Implication is transitive and may name
	// wildcards ("admin" → "crm:*" needs Wildcards to take effect). Default
	// none.
	Implies map[string][]string
}

// NewHierarchy validates cfg and returns the hierarchy it describes, with
// implications expanded transitively once so that checks do no graph walk.
func NewHierarchy(cfg HierarchyConfig) (*Hierarchy, error) {
	h := &Hierarchy{wildcards: cfg.Wildcards, implies: make(map[string][]string, len(cfg.Implies))}
	for from, tos := range cfg.Implies {
		if from == "" || strings.ContainsAny(from, " \t") {
			return nil, fmt.Errorf("scopes: hierarchy: invalid scope %q: scopes are non-empty and contain no spaces", from)
		}
		for _, to := range tos {
			if to == "" || strings.ContainsAny(to, " \t") {
				return nil, fmt.Errorf("scopes: hierarchy: %q implies invalid scope %q", from, to)
			}
		}
	}
	for from := range cfg.Implies {
		seen := map[string]bool{from: true}
		stack := append([]string(nil), cfg.Implies[from]...)
		var closure []string
		for len(stack) > 0 {
			s := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[s] {
				continue
			}
			seen[s] = true
			closure = append(closure, s)
			stack = append(stack, cfg.Implies[s]...)
		}
		h.implies[from] = Of(closure...).list
	}
	return h, nil
}

// MustHierarchy is like NewHierarchy but panics on an invalid configuration.
// It is meant for package-level declarations with literal configurations.
func MustHierarchy(cfg HierarchyConfig) *Hierarchy {
	h, err := NewHierarchy(cfg)
	if err != nil {
		panic(err)
	}
	return h
}

// Grants reports whether the granted set grants scope under h. A nil h
// grants only exact matches.
func (h *Hierarchy) Grants(granted Set, scope string) bool {
	if granted.Has(scope) {
		return true
	}
	if h == nil {
		return false
	}
	for _, g := range granted.list {
		if h.wildcards && wildcardGrants(g, scope) {
			return true
		}
		for _, implied := range h.implies[g] {
			if implied == scope || (h.wildcards && wildcardGrants(implied, scope)) {
				return true
			}
		}
	}
	return false
}

// wildcardGrants reports whether the granted scope g, of the form "prefix*"
// with a non-empty prefix, covers scope.
func wildcardGrants(g, scope string) bool {
	n := len(g)
	return n > 1 && g[n-1] == '*' && len(scope) >= n-1 && scope[:n-1] == g[:n-1]
}
