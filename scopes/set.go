package scopes

import (
	"slices"
	"strings"
)

// Set is an immutable set of scope strings. The zero value is the empty set.
//
// A Set is kept sorted and free of duplicates, so Has is a binary search and
// two equal sets have equal List results. Sets are safe for concurrent use.
type Set struct {
	list []string // sorted, unique, no empty strings
}

// Parse returns the set of scopes in s, a space-separated list as carried by
// the OAuth "scope" parameter and JWT claim (RFC 6749 §3.3). Runs of spaces
// are treated as one separator. Only the space (U+0020) separates: a tab,
// a line break or a Unicode space is part of the scope it is in (which is
// then not a valid scope token, and meets no requirement), so that
// "notes:x\u00a0admin" never grants "admin".
func Parse(s string) Set {
	if s == "" {
		return Set{}
	}
	list := make([]string, 0, strings.Count(s, " ")+1)
	for s != "" {
		var f string
		f, s, _ = strings.Cut(s, " ")
		if f != "" {
			list = append(list, f)
		}
	}
	return Of(list...)
}

// Of returns the set of the given scopes. Empty strings are dropped and
// duplicates removed. The argument slice is not retained.
func Of(list ...string) Set {
	if len(list) == 0 {
		return Set{}
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return Set{}
	}
	return Set{list: slices.Clip(out)}
}

// Has reports whether s contains scope exactly. It does not apply any
// Hierarchy; use a Requirement for that.
func (s Set) Has(scope string) bool {
	if len(s.list) <= 8 {
		for _, v := range s.list {
			if v == scope {
				return true
			}
		}
		return false
	}
	_, ok := slices.BinarySearch(s.list, scope)
	return ok
}

// Len returns the number of scopes in s.
func (s Set) Len() int { return len(s.list) }

// List returns the scopes in s, sorted. The caller may modify the result.
func (s Set) List() []string { return slices.Clone(s.list) }

// All calls yield for each scope in s, in sorted order, until yield returns
// false. It allocates nothing.
func (s Set) All(yield func(string) bool) {
	for _, v := range s.list {
		if !yield(v) {
			return
		}
	}
}

// String returns the scopes in s separated by single spaces, sorted: the form
// used in an OAuth "scope" parameter.
func (s Set) String() string { return strings.Join(s.list, " ") }

// Union returns the set of scopes in s or in t.
func (s Set) Union(t Set) Set {
	if len(t.list) == 0 {
		return s
	}
	if len(s.list) == 0 {
		return t
	}
	return Of(append(slices.Clone(s.list), t.list...)...)
}

// Equal reports whether s and t hold the same scopes.
func (s Set) Equal(t Set) bool { return slices.Equal(s.list, t.list) }
