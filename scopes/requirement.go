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
// All with no scopes is the same as Public. A scope that is not a valid
// scope token (RFC 6749 §3.3: empty, or with a space, a quote, a
// backslash or a byte outside printable ASCII), as when a scope comes from
// an unset environment variable, makes a requirement that no caller meets
// and that Policy.Require refuses: it fails closed, never open.
func All(scope ...string) Requirement {
	if len(scope) == 0 {
		return Public()
	}
	if r, bad := invalidOf("all", scope); bad {
		return r
	}
	return allOf{Of(scope...).list}
}

// Any returns a requirement met when at least one of the scopes is granted.
// Any with no scopes is the same as Public. An invalid scope makes it fail
// closed, as with All.
func Any(scope ...string) Requirement {
	if len(scope) == 0 {
		return Public()
	}
	if r, bad := invalidOf("any", scope); bad {
		return r
	}
	return anyOf{Of(scope...).list}
}

// invalidOf returns the requirement of a list of scopes some of which are
// not scope tokens, and true; or nil and false when all are.
func invalidOf(kind string, scope []string) (Requirement, bool) {
	for _, sc := range scope {
		if !ValidScope(sc) {
			return invalid{kind: kind, scopes: slices.Clone(scope)}, true
		}
	}
	return nil, false
}

// ValidScope reports whether s is a scope token (RFC 6749 §3.3): one or
// more printable ASCII characters other than space, '"' and '\'.
func ValidScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// invalid is the requirement of All or Any given a scope that is not a
// scope token: no caller meets it, and Policy.Require refuses it.
type invalid struct {
	kind   string
	scopes []string
}

func (r invalid) Check(granted Set, _ *Hierarchy) error {
	return &InsufficientScopeError{Required: r.Scopes(), Granted: granted.List(), Missing: r.Scopes()}
}

func (r invalid) Scopes() []string { return slices.Clone(r.scopes) }
func (r invalid) String() string {
	return fmt.Sprintf("invalid (%s of %q)", r.kind, r.scopes)
}

// validate returns an error naming the first scope of r that is not a
// scope token.
func validate(r Requirement) error {
	for _, sc := range r.Scopes() {
		if !ValidScope(sc) {
			return fmt.Errorf("invalid scope %q (RFC 6749: one or more printable ASCII characters, no spaces, quotes or backslashes)", sc)
		}
	}
	return nil
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
