package scopes

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrUnknownTool is returned by Policy.Check for a tool the policy does not
// declare. Undeclared tools are refused, never allowed by default.
var ErrUnknownTool = errors.New("scopes: unknown tool")

// Policy maps tool names to the Requirement each needs. Reads are lock-free
// and allocate nothing; declarations may happen at any time and are safe for
// concurrent use. The zero value is not usable: call NewPolicy.
type Policy struct {
	h     *Hierarchy
	mu    sync.Mutex // serialises writers
	tools atomic.Pointer[map[string]Requirement]
}

// NewPolicy returns an empty policy that applies h when checking (nil h:
// exact matching).
func NewPolicy(h *Hierarchy) *Policy {
	p := &Policy{h: h}
	m := map[string]Requirement{}
	p.tools.Store(&m)
	return p
}

// Hierarchy returns the hierarchy the policy applies, possibly nil.
func (p *Policy) Hierarchy() *Hierarchy { return p.h }

// Require declares that tool needs r, replacing any earlier declaration. A
// tool that needs no scope must say so with Public(). A requirement that
// names an invalid scope (see All) is refused.
func (p *Policy) Require(tool string, r Requirement) error {
	if tool == "" {
		return errors.New("scopes: policy: empty tool name")
	}
	if r == nil {
		return fmt.Errorf("scopes: policy: tool %q: nil requirement (use scopes.Public() for none)", tool)
	}
	if err := validate(r); err != nil {
		return fmt.Errorf("scopes: policy: tool %q: %w", tool, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	m := maps.Clone(*p.tools.Load())
	m[tool] = r
	p.tools.Store(&m)
	return nil
}

// Remove forgets tool's declaration, so that calls to it are refused.
func (p *Policy) Remove(tool string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := maps.Clone(*p.tools.Load())
	delete(m, tool)
	p.tools.Store(&m)
}

// Requirement returns what tool needs, and whether tool is declared.
func (p *Policy) Requirement(tool string) (Requirement, bool) {
	r, ok := (*p.tools.Load())[tool]
	return r, ok
}

// Check returns nil when granted may call tool. It returns an error wrapping
// ErrUnknownTool for an undeclared tool, and an *InsufficientScopeError with
// Tool set when scopes are missing.
func (p *Policy) Check(tool string, granted Set) error {
	r, ok := (*p.tools.Load())[tool]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownTool, tool)
	}
	err := r.Check(granted, p.h)
	if err != nil {
		var ise *InsufficientScopeError
		if errors.As(err, &ise) {
			ise.Tool = tool
		}
	}
	return err
}

// Allows reports whether granted may call tool.
func (p *Policy) Allows(tool string, granted Set) bool {
	r, ok := (*p.tools.Load())[tool]
	return ok && r.Check(granted, p.h) == nil
}

// Tools returns the declared tool names, sorted.
func (p *Policy) Tools() []string {
	return slices.Sorted(maps.Keys(*p.tools.Load()))
}

// Supported returns the union of every scope the declared tools name,
// sorted: the minimal "scopes_supported" for protected-resource metadata.
func (p *Policy) Supported() []string {
	var all []string
	for _, r := range *p.tools.Load() {
		all = append(all, r.Scopes()...)
	}
	return Of(all...).List()
}
