package scopes

import (
	"fmt"
	"slices"
	"strings"
)

// A Requirement is what a caller's scopes must satisfy to perform an
// operation. Build one with All, Any or Public.
type Requirement interface {
	// Check returns nil when granted satisfies the requirement under h (nil
	// means exact matching), and otherwise an *InsufficientScopeError whose
	// Tool field is empty. It allocates nothing when the requirement is met.
	Check(granted Set, h *Hierarchy) error

	// Scopes returns every scope the requirement names, sorted: the value of
	// the "scope" parameter of a step-up challenge, and what a server
	// advertises in its metadata. It is empty for Public.
	Scopes() []string

	// String describes the requirement, such as `all of "a b"`.
	String() string
}

// All returns a requirement met when every one of the scopes is granted.
// All with no scopes is the same as Public.
func All(scope ...string) Requirement {
	s := Of(scope...)
	if s.Len() == 0 {
		return Public()
	}
	return allOf{s.list}
}

// Any returns a requirement met when at least one of the scopes is granted.
// Any with no scopes is the same as Public.
func Any(scope ...string) Requirement {
	s := Of(scope...)
	if s.Len() == 0 {
		return Public()
	}
	return anyOf{s.list}
}

// Public returns the requirement that any authenticated caller meets. It is
// the explicit way to say that an operation needs no scope.
func Public() Requirement { return public{} }

type allOf struct{ scopes []string }

func (r allOf) Check(granted Set, h *Hierarchy) error {
	for i, s := range r.scopes {
		if !h.Grants(granted, s) {
			// Slow path: collect everything missing.
			missing := []string{s}
			for _, t := range r.scopes[i+1:] {
				if !h.Grants(granted, t) {
					missing = append(missing, t)
				}
			}
			return &InsufficientScopeError{Required: r.Scopes(), Granted: granted.List(), Missing: missing}
		}
	}
	return nil
}

func (r allOf) Scopes() []string { return slices.Clone(r.scopes) }
func (r allOf) String() string   { return fmt.Sprintf("all of %q", strings.Join(r.scopes, " ")) }

type anyOf struct{ scopes []string }

func (r anyOf) Check(granted Set, h *Hierarchy) error {
	for _, s := range r.scopes {
		if h.Grants(granted, s) {
			return nil
		}
	}
	return &InsufficientScopeError{Required: r.Scopes(), Granted: granted.List(), Missing: r.Scopes(), AnyOf: true}
}

func (r anyOf) Scopes() []string { return slices.Clone(r.scopes) }
func (r anyOf) String() string   { return fmt.Sprintf("any of %q", strings.Join(r.scopes, " ")) }

type public struct{}

func (public) Check(Set, *Hierarchy) error { return nil }
func (public) Scopes() []string            { return nil }
func (public) String() string              { return "public" }

// InsufficientScopeError reports that a caller lacks scopes an operation
// needs. Test for it with errors.As.
type InsufficientScopeError struct {
	// Tool is the operation that was refused, when known.
	Tool string
	// Required is every scope the operation names, sorted: what a step-up
	// challenge asks for.
	Required []string
	// Granted is what the caller holds, sorted.
	Granted []string
	// Missing is what the caller lacks. With AnyOf, any one of them would do.
	Missing []string
	// AnyOf is true when one of Missing is enough.
	AnyOf bool
}

// Error implements error. The message names scopes, never a token.
func (e *InsufficientScopeError) Error() string {
	var b strings.Builder
	b.WriteString("insufficient scope")
	if e.Tool != "" {
		fmt.Fprintf(&b, " for %q", e.Tool)
	}
	if e.AnyOf {
		b.WriteString(": needs one of ")
	} else {
		b.WriteString(": missing ")
	}
	b.WriteString(strings.Join(e.Missing, " "))
	return b.String()
}
