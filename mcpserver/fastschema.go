package mcpserver

import (
	"math"
	"reflect"

	"github.com/google/jsonschema-go/jsonschema"
)

// quickSchema is a compiled form of the JSON schemas go-sdk infers for
// plain Go types (objects of typed properties, maps, arrays of typed
// items, null where a pointer or slice allows it), for checking a decoded value
// without jsonschema-go's general validator, which is most of a simple
// tool call's argument handling (reflection over the value, an annotation
// set per level, and a stack deep enough to be grown on every call).
//
// It only ever answers "valid" for values jsonschema-go accepts: a schema
// using any keyword besides the ones below does not compile, and a value
// it does not find valid is checked again by jsonschema-go, whose error is
// the one reported.
type quickSchema struct {
	types    jsonTypes // allowed types; 0: any
	props    map[string]*quickSchema
	required []string
	closed   bool         // additionalProperties: false
	extra    *quickSchema // additionalProperties as a schema
	items    *quickSchema
}

// jsonTypes is a set of JSON schema types.
type jsonTypes uint8

const (
	typeNull jsonTypes = 1 << iota
	typeBoolean
	typeObject
	typeArray
	typeNumber
	typeInteger
	typeString
)

var jsonTypeNames = map[string]jsonTypes{
	"null": typeNull, "boolean": typeBoolean, "object": typeObject, "array": typeArray,
	"number": typeNumber, "integer": typeInteger, "string": typeString,
}

// quickKeywords are the schema fields compileQuick understands or that do
// not take part in validation (annotations).
var quickKeywords = map[string]bool{
	"Type": true, "Types": true, "Properties": true, "Required": true,
	"AdditionalProperties": true, "Items": true,
	"Title": true, "Description": true, "Comment": true, "Examples": true,
	"Deprecated": true, "ReadOnly": true, "WriteOnly": true,
	"PropertyOrder": true,
}

// compileQuick compiles s, or returns nil when s uses anything quickSchema
// does not implement.
func compileQuick(s *jsonschema.Schema) *quickSchema {
	if s == nil || !onlyQuickKeywords(s) {
		return nil
	}
	q := &quickSchema{}
	if s.Type != "" {
		t, ok := jsonTypeNames[s.Type]
		if !ok {
			return nil
		}
		q.types = t
	}
	for _, name := range s.Types {
		t, ok := jsonTypeNames[name]
		if !ok {
			return nil
		}
		q.types |= t
	}
	if s.Type != "" && s.Types != nil || s.Types != nil && len(s.Types) == 0 {
		// Not a combination inferred schemas use; and an empty list
		// ("type": []) matches nothing, where q.types 0 would match
		// anything.
		return nil
	}
	if q.types&typeNumber != 0 {
		q.types |= typeInteger // "number" subsumes integers
	}
	if len(s.Properties) > 0 {
		q.props = make(map[string]*quickSchema, len(s.Properties))
		for name, ps := range s.Properties {
			if q.props[name] = compileQuick(ps); q.props[name] == nil {
				return nil
			}
		}
	}
	q.required = s.Required
	switch ap := s.AdditionalProperties; {
	case ap == nil:
	case isFalseSchema(ap):
		q.closed = true
	default:
		if q.extra = compileQuick(ap); q.extra == nil {
			return nil
		}
	}
	if s.Items != nil {
		if q.items = compileQuick(s.Items); q.items == nil {
			return nil
		}
	}
	return q
}

// onlyQuickKeywords reports whether every field of s that is set is one of
// quickKeywords.
func onlyQuickKeywords(s *jsonschema.Schema) bool {
	v := reflect.ValueOf(s).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if !quickKeywords[t.Field(i).Name] && !v.Field(i).IsZero() {
			return false
		}
	}
	return true
}

// isFalseSchema reports whether s is the schema that matches nothing, as
// jsonschema-go writes it: {"not": {}}.
func isFalseSchema(s *jsonschema.Schema) bool {
	return s.Not != nil && reflect.ValueOf(*s.Not).IsZero() && reflect.DeepEqual(*s, jsonschema.Schema{Not: s.Not})
}

// valid reports whether v, a value decoded from JSON into an any (nil,
// bool, float64, string, []any, map[string]any), is valid. false means
// only "not known to be valid".
func (q *quickSchema) valid(v any) bool {
	if q.types != 0 && q.types&typeOf(v) == 0 {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		for _, name := range q.required {
			if _, ok := v[name]; !ok {
				return false
			}
		}
		for k, e := range v {
			p, ok := q.props[k]
			switch {
			case ok:
			case q.closed:
				return false
			case q.extra != nil:
				p = q.extra
			default:
				continue
			}
			if !p.valid(e) {
				return false
			}
		}
	case []any:
		if q.items != nil {
			for _, e := range v {
				if !q.items.valid(e) {
					return false
				}
			}
		}
	}
	return true
}

// typeOf returns the JSON schema type of v as jsonschema-go judges it: a
// float64 without a fractional part is an integer. 0 for a Go type JSON
// decoding does not produce.
func typeOf(v any) jsonTypes {
	switch v := v.(type) {
	case nil:
		return typeNull
	case bool:
		return typeBoolean
	case float64:
		if _, f := math.Modf(v); f == 0 {
			return typeInteger
		}
		return typeNumber
	case string:
		return typeString
	case []any:
		return typeArray
	case map[string]any:
		return typeObject
	}
	return 0
}
