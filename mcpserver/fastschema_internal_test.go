package mcpserver

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"
)

// quickInner and quickArgs cover what inferred schemas are made of:
// scalars, slices, maps, pointers, nested and repeated structs, any.
type quickInner struct {
	X  float64         `json:"x"`
	N  int             `json:"n,omitempty"`
	Tg []string        `json:"tg,omitempty"`
	M  map[string]bool `json:"m,omitempty"`
}

type quickArgs struct {
	S   string                `json:"s"`
	I   int64                 `json:"i,omitempty"`
	F   float32               `json:"f,omitempty"`
	B   bool                  `json:"b,omitempty"`
	P   *string               `json:"p,omitempty"`
	L   [][]int               `json:"l,omitempty"`
	In  quickInner            `json:"in"`
	IP  *quickInner           `json:"ip,omitempty"`
	IL  []quickInner          `json:"il,omitempty"`
	IPL []*quickInner         `json:"ipl,omitempty"`
	MM  map[string]quickInner `json:"mm,omitempty"`
	A   any                   `json:"a,omitempty"`
}

// The quick form exists for the schemas go-sdk infers from plain structs,
// so that the fast path is taken for them, and not for a schema using a
// keyword it does not implement.
func TestQuickSchemaCompiles(t *testing.T) {
	for _, rt := range []reflect.Type{reflect.TypeFor[typedArgs](), reflect.TypeFor[quickArgs](), reflect.TypeFor[echoArgs]()} {
		schema, ts, ok := inferSchema(rt)
		require.True(t, ok, rt)
		require.NotNil(t, ts.quick, "%s: %s", rt, mustJSON(t, schema))
	}
	one := 1.0
	for name, s := range map[string]*jsonschema.Schema{
		"enum":            {Type: "string", Enum: []any{"a"}},
		"minimum":         {Type: "number", Minimum: &one},
		"pattern":         {Type: "string", Pattern: "^a"},
		"default":         {Type: "object", Properties: map[string]*jsonschema.Schema{"a": {Type: "string", Default: json.RawMessage(`"x"`)}}},
		"ref":             {Ref: "#/$defs/a", Defs: map[string]*jsonschema.Schema{"a": {Type: "string"}}},
		"anyOf":           {AnyOf: []*jsonschema.Schema{{Type: "string"}}},
		"nested enum":     {Type: "object", Properties: map[string]*jsonschema.Schema{"a": {Type: "array", Items: &jsonschema.Schema{Enum: []any{1.0}}}}},
		"open schema":     {Type: "object", AdditionalProperties: &jsonschema.Schema{Type: "string", MinLength: new(1)}},
		"unknown type":    {Type: "decimal"},
		"format":          {Type: "string", Format: "date-time"},
		"type and list":   {Type: "string", Types: []string{"null"}},
		"empty type list": {Type: "object", Properties: map[string]*jsonschema.Schema{"a": {Types: []string{}}}},
	} {
		require.Nil(t, compileQuick(s), name)
	}
}

// echoArgs is the shape of the echo tools in the starter and the harness.
type echoArgs struct {
	Message string `json:"message"`
}

// The quick form agrees with jsonschema-go on every value: it never finds
// valid a value jsonschema-go refuses (which would let bad arguments
// through), and, for the schemas it compiles, it refuses nothing
// jsonschema-go accepts (so the fast path is taken whenever it can be).
// Values are random JSON trees built from each schema's own property names,
// decoded the way tool arguments are.
func TestQuickSchemaAgreesWithJSONSchema(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rt := range []reflect.Type{reflect.TypeFor[typedArgs](), reflect.TypeFor[quickArgs](), reflect.TypeFor[quickInner](), reflect.TypeFor[echoArgs]()} {
		schema, ts, ok := inferSchema(rt)
		require.True(t, ok)
		require.NotNil(t, ts.quick)
		names := propertyNames(schema)
		valid := 0
		const n = 20000
		for i := range n {
			var v any
			if i%2 == 0 {
				v = conformingValue(rng, schema, 0)
			} else {
				v = randomValue(rng, names, 0)
			}
			b, err := json.Marshal(v)
			require.NoError(t, err)
			var decoded any
			require.NoError(t, decodeExact(b, &decoded))
			quick := ts.quick.valid(decoded)
			full := ts.resolved.Validate(&decoded) == nil
			require.Equal(t, full, quick, "%s: %s", rt, b)
			if quick {
				valid++
			}
		}
		// Not vacuous: both answers came up often (at least one in 20).
		require.Greater(t, valid, n/20, rt)
		require.Less(t, valid, n-n/20, rt)
	}
}

// propertyNames returns every property name in s, with near misses.
func propertyNames(s *jsonschema.Schema) []string {
	var names []string
	var walk func(*jsonschema.Schema)
	walk = func(s *jsonschema.Schema) {
		if s == nil {
			return
		}
		for k, p := range s.Properties {
			names = append(names, k, strings.ToUpper(k))
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties)
	}
	walk(s)
	return append(names, "extra")
}

// conformingValue returns a value shaped by s, with a mistake now and then
// (a wrong type, a missing required property, an extra one).
func conformingValue(rng *rand.Rand, s *jsonschema.Schema, depth int) any {
	if rng.IntN(40) == 0 || depth > 6 {
		return randomScalar(rng)
	}
	types := s.Types
	if s.Type != "" {
		types = []string{s.Type}
	}
	if len(types) == 0 {
		return randomValue(rng, nil, depth+1)
	}
	switch types[rng.IntN(len(types))] {
	case "null":
		return nil
	case "boolean":
		return rng.IntN(2) == 0
	case "integer":
		return float64(rng.IntN(2000) - 1000)
	case "number":
		return rng.NormFloat64() * 100
	case "string":
		return "s"
	case "array":
		a := make([]any, rng.IntN(4))
		for i := range a {
			a[i] = conformingValue(rng, s.Items, depth+1)
		}
		return a
	case "object":
		m := map[string]any{}
		for k, p := range s.Properties {
			if rng.IntN(4) != 0 {
				m[k] = conformingValue(rng, p, depth+1)
			}
		}
		if s.AdditionalProperties != nil && !isFalseSchema(s.AdditionalProperties) {
			for range rng.IntN(3) {
				m[string(rune('a'+rng.IntN(26)))] = conformingValue(rng, s.AdditionalProperties, depth+1)
			}
		}
		if rng.IntN(20) == 0 {
			m["extra"] = 1
		}
		return m
	}
	return nil
}

// randomValue returns any JSON value, objects keyed from names.
func randomValue(rng *rand.Rand, names []string, depth int) any {
	if depth > 4 {
		return randomScalar(rng)
	}
	switch rng.IntN(6) {
	case 0:
		a := make([]any, rng.IntN(3))
		for i := range a {
			a[i] = randomValue(rng, names, depth+1)
		}
		return a
	case 1, 2:
		m := map[string]any{}
		for range rng.IntN(4) {
			k := "k"
			if len(names) > 0 {
				k = names[rng.IntN(len(names))]
			}
			m[k] = randomValue(rng, names, depth+1)
		}
		return m
	}
	return randomScalar(rng)
}

func randomScalar(rng *rand.Rand) any {
	switch rng.IntN(8) {
	case 0:
		return nil
	case 1:
		return true
	case 2:
		return float64(rng.IntN(100))
	case 3:
		return rng.Float64()
	case 4:
		return 1e300
	case 5:
		return -0.5
	case 6:
		return ""
	}
	return "x"
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// FuzzQuickSchema holds the quick form to jsonschema-go's verdict on any
// JSON the arguments of a tool can be: a value the quick form accepted and
// jsonschema-go refused would reach a handler unvalidated.
func FuzzQuickSchema(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"s":"x","in":{"x":1}}`, `{"s":"x","in":{"x":1.5,"n":2,"tg":["a"],"m":{"k":true}}}`,
		`{"s":"x","in":{"x":1},"ip":null,"il":[{"x":0}],"ipl":[null,{"x":1}],"mm":{"a":{"x":2}},"a":[1,{"b":null}]}`,
		`{"s":null}`, `{"s":"x","in":{"x":1},"i":1e300}`, `{"s":"x","in":{"x":1},"l":[[1,2],[3.5]]}`,
		`{"message":"m","count":3,"tags":["a"],"nested":{"x":2}}`, `{"message":"m","extra":1}`, `[]`, `"s"`, `null`,
	} {
		f.Add([]byte(seed))
	}
	var schemas []*toolSchema
	for _, rt := range []reflect.Type{reflect.TypeFor[quickArgs](), reflect.TypeFor[typedArgs](), reflect.TypeFor[quickInner]()} {
		_, ts, ok := inferSchema(rt)
		require.True(f, ok)
		require.NotNil(f, ts.quick)
		schemas = append(schemas, ts)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if decodeExact(b, &v) != nil {
			return
		}
		for _, ts := range schemas {
			if ts.quick.valid(v) {
				require.NoError(t, ts.resolved.Validate(&v), "%s", b)
			}
		}
	})
}
