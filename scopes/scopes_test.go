package scopes

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"a", []string{"a"}},
		{"b a", []string{"a", "b"}},
		{"a  a b ", []string{"a", "b"}},
		{"a  a\tb ", []string{"a", "a\tb"}}, // only spaces separate
		{"crm:read crm:*", []string{"crm:*", "crm:read"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			s := Parse(tt.in)
			if tt.want == nil {
				require.Zero(t, s.Len())
				require.Empty(t, s.List())
				return
			}
			require.Equal(t, tt.want, s.List())
			for _, w := range tt.want {
				require.True(t, s.Has(w))
			}
			require.False(t, s.Has("zzz"))
		})
	}
}

func TestSetLarge(t *testing.T) {
	var list []string
	for i := range 40 {
		list = append(list, fmt.Sprintf("s%02d", i))
	}
	s := Of(list...)
	require.Equal(t, 40, s.Len())
	require.True(t, s.Has("s00"))
	require.True(t, s.Has("s39"))
	require.False(t, s.Has("s40"))
	require.Equal(t, "s00 s01", Of("s01", "s00").String())
}

func TestSetOps(t *testing.T) {
	a, b := Of("x", "y"), Of("y", "z")
	require.Equal(t, []string{"x", "y", "z"}, a.Union(b).List())
	require.True(t, a.Union(Set{}).Equal(a))
	require.True(t, Set{}.Union(b).Equal(b))
	require.False(t, a.Equal(b))
	l := a.List()
	l[0] = "mutated"
	require.True(t, a.Has("x"), "List returns a copy")
	var got []string
	for s := range a.All {
		got = append(got, s)
		break
	}
	require.Equal(t, []string{"x"}, got)
	require.True(t, Of("", "").Equal(Set{}))
}

func TestRequirements(t *testing.T) {
	h := MustHierarchy(HierarchyConfig{
		Wildcards: true,
		Implies: map[string][]string{
			"admin":   {"crm:*", "notes"},
			"support": {"tickets"},
			"tickets": {"tickets:read"},
		},
	})
	tests := []struct {
		name    string
		req     Requirement
		granted string
		h       *Hierarchy
		missing []string // nil: satisfied
	}{
		{"all met", All("a", "b"), "a b c", nil, nil},
		{"all one missing", All("a", "b"), "a", nil, []string{"b"}},
		{"all all missing", All("a", "b"), "", nil, []string{"a", "b"}},
		{"any met", Any("a", "b"), "b", nil, nil},
		{"any none", Any("a", "b"), "c", nil, []string{"a", "b"}},
		{"public", Public(), "", nil, nil},
		{"all empty is public", All(), "", nil, nil},
		{"any empty is public", Any(), "", nil, nil},
		{"wildcard off without hierarchy", All("crm:read"), "crm:*", nil, []string{"crm:read"}},
		{"wildcard grants", All("crm:read", "crm:write"), "crm:*", h, nil},
		{"wildcard prefix only", All("crmx"), "crm:*", h, []string{"crmx"}},
		{"bare star grants nothing", All("crm:read"), "*", h, []string{"crm:read"}},
		{"implies", All("notes"), "admin", h, nil},
		{"implies wildcard", All("crm:delete"), "admin", h, nil},
		{"implies transitive", All("tickets:read"), "support", h, nil},
		{"implication is one way", All("admin"), "crm:* notes", h, []string{"admin"}},
		{"any with hierarchy", Any("x", "crm:read"), "crm:*", h, nil},
		// A scope that is not a scope token (an unset environment
		// variable, say) fails closed, whatever is granted.
		{"all of an empty scope", All(""), "a", nil, []string{""}},
		{"any of empty scopes", Any("", ""), "a", nil, []string{"", ""}},
		{"all with one empty scope", All("a", ""), "a", nil, []string{"a", ""}},
		{"any with one empty scope", Any("a", ""), "a", nil, []string{"a", ""}},
		{"all of a scope with a space", All("a b"), "a b", nil, []string{"a b"}},
		{"invalid scope under a hierarchy", All(""), "crm:* admin", h, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Check(Parse(tt.granted), tt.h)
			if tt.missing == nil {
				require.NoError(t, err)
				return
			}
			var ise *InsufficientScopeError
			require.ErrorAs(t, err, &ise)
			require.Equal(t, tt.missing, ise.Missing)
			require.Equal(t, tt.req.Scopes(), ise.Required)
			require.Equal(t, Parse(tt.granted).List(), ise.Granted)
		})
	}
}

// TestPolicyRefusesInvalidScopes: a requirement naming a scope that is not
// a scope token is refused when declared, and no caller meets it.
func TestPolicyRefusesInvalidScopes(t *testing.T) {
	p := NewPolicy(nil)
	for _, r := range []Requirement{All(""), Any("", ""), All("ok", ""), Any("a b"), All(`q"`), All("é")} {
		err := p.Require("admin", r)
		require.ErrorContains(t, err, "invalid scope", "%v", r)
		require.ErrorIs(t, p.Check("admin", Parse("ok a b")), ErrUnknownTool, "not declared")
	}
	require.NoError(t, p.Require("ok", All("crm:read", "notes")))
	for _, sc := range []string{"a", "crm:read", "https://api.example.com/read", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~"} {
		require.True(t, ValidScope(sc), sc)
	}
	for _, sc := range []string{"", " ", "a b", "a\tb", `a"`, `a\`, "é", "a\x00"} {
		require.False(t, ValidScope(sc), "%q", sc)
	}
}

func TestRequirementStrings(t *testing.T) {
	require.Equal(t, `all of "a b"`, All("b", "a").String())
	require.Equal(t, `any of "a b"`, Any("a", "b").String())
	require.Equal(t, "public", Public().String())
	require.Nil(t, Public().Scopes())
	require.Equal(t, `insufficient scope for "t": missing a b`,
		(&InsufficientScopeError{Tool: "t", Missing: []string{"a", "b"}}).Error())
	require.Equal(t, `insufficient scope: needs one of a b`,
		(&InsufficientScopeError{Missing: []string{"a", "b"}, AnyOf: true}).Error())
}

func TestHierarchyValidation(t *testing.T) {
	_, err := NewHierarchy(HierarchyConfig{Implies: map[string][]string{"": {"a"}}})
	require.ErrorContains(t, err, "invalid scope")
	_, err = NewHierarchy(HierarchyConfig{Implies: map[string][]string{"a b": {"a"}}})
	require.ErrorContains(t, err, "invalid scope")
	_, err = NewHierarchy(HierarchyConfig{Implies: map[string][]string{"a": {""}}})
	require.ErrorContains(t, err, "implies invalid scope")
	// Cycles are fine.
	h, err := NewHierarchy(HierarchyConfig{Implies: map[string][]string{"a": {"b"}, "b": {"a", "c"}}})
	require.NoError(t, err)
	require.True(t, h.Grants(Of("a"), "c"))
	require.True(t, h.Grants(Of("b"), "a"))
	require.Panics(t, func() { MustHierarchy(HierarchyConfig{Implies: map[string][]string{"": nil}}) })
}

func TestPolicy(t *testing.T) {
	p := NewPolicy(MustHierarchy(HierarchyConfig{Wildcards: true}))
	require.NoError(t, p.Require("salesSummary", All("crm:read")))
	require.NoError(t, p.Require("echo", Public()))
	require.NoError(t, p.Require("either", Any("a", "b")))
	require.Error(t, p.Require("", Public()))
	require.ErrorContains(t, p.Require("x", nil), "scopes.Public()")

	require.NoError(t, p.Check("salesSummary", Of("crm:*")))
	require.NoError(t, p.Check("echo", Set{}))
	require.True(t, p.Allows("either", Of("b")))
	require.False(t, p.Allows("nope", Of("crm:*")))

	err := p.Check("salesSummary", Of("notes"))
	var ise *InsufficientScopeError
	require.ErrorAs(t, err, &ise)
	require.Equal(t, "salesSummary", ise.Tool)
	require.Equal(t, []string{"crm:read"}, ise.Missing)

	err = p.Check("nope", Of("crm:*"))
	require.True(t, errors.Is(err, ErrUnknownTool))
	require.ErrorContains(t, err, `"nope"`)

	require.Equal(t, []string{"a", "b", "crm:read"}, p.Supported())
	require.Equal(t, []string{"echo", "either", "salesSummary"}, p.Tools())
	r, ok := p.Requirement("echo")
	require.True(t, ok)
	require.Equal(t, "public", r.String())

	p.Remove("salesSummary")
	require.ErrorIs(t, p.Check("salesSummary", Of("crm:read")), ErrUnknownTool)
	require.NotNil(t, p.Hierarchy())
}

func TestPolicyConcurrent(t *testing.T) {
	p := NewPolicy(nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 100 {
				require.NoError(t, p.Require(fmt.Sprintf("t%d-%d", i, j), All("s")))
			}
		}()
		go func() {
			defer wg.Done()
			for range 100 {
				_ = p.Allows("t0-0", Of("s"))
				_ = p.Supported()
			}
		}()
	}
	wg.Wait()
	require.Len(t, p.Tools(), 800)
}

func TestCheckAllocs(t *testing.T) {
	p := NewPolicy(MustHierarchy(HierarchyConfig{Wildcards: true, Implies: map[string][]string{"admin": {"crm:read"}}}))
	require.NoError(t, p.Require("a", All("crm:read", "notes")))
	granted := Of("notes", "crm:*")
	allocs := testing.AllocsPerRun(100, func() {
		if p.Check("a", granted) != nil {
			t.Fatal("denied")
		}
	})
	require.Zero(t, allocs, "a satisfied check must not allocate")
}

func BenchmarkPolicyCheck(b *testing.B) {
	p := NewPolicy(MustHierarchy(HierarchyConfig{Wildcards: true}))
	_ = p.Require("salesSummary", All("crm:read", "notes"))
	granted := Parse("openid profile email notes crm:*")
	b.ReportAllocs()
	for b.Loop() {
		if p.Check("salesSummary", granted) != nil {
			b.Fatal("denied")
		}
	}
}

func BenchmarkPolicyCheckDenied(b *testing.B) {
	p := NewPolicy(nil)
	_ = p.Require("salesSummary", All("crm:read"))
	granted := Parse("openid profile email notes")
	b.ReportAllocs()
	for b.Loop() {
		if p.Check("salesSummary", granted) == nil {
			b.Fatal("allowed")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Parse("openid profile email notes crm:read")
	}
}

// TestParseSplitsOnSpaceOnly: scopes are separated by spaces (RFC 6749
// §3.3: scope-token *( SP scope-token )). Any other byte, tabs, line
// breaks and Unicode spaces included, is part of its scope, so that a
// scope string an authorization server issued verbatim for a free-form
// request never grants a scope its client slipped in after such a byte.
func TestParseSplitsOnSpaceOnly(t *testing.T) {
	for _, sep := range []string{"\t", "\n", "\r", "\v", "\f", "\u0085", "\u00a0", "\u2003", "\u3000"} {
		s := Parse("notes:x" + sep + "admin")
		require.Equal(t, []string{"notes:x" + sep + "admin"}, s.List(), "%q", sep)
		require.Error(t, All("admin").Check(s, nil), "%q", sep)
	}
	require.Equal(t, []string{"a", "b"}, Parse("  b   a a ").List())
}
