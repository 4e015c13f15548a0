package mcpserver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// refMessage is what the reference reading finds in a message.
type refMessage struct {
	id, method, params []byte
}

// refPeek reads body as go-sdk's decoder does, with encoding/json: the
// first JSON value, each message decoded into a map (exact keys, the last
// duplicate wins).
func refPeek(body []byte) (msgs []refMessage, batch, ok bool) {
	var raw json.RawMessage
	if json.NewDecoder(bytes.NewReader(body)).Decode(&raw) != nil {
		return nil, false, false
	}
	var elems []json.RawMessage
	if raw[0] == '[' {
		batch = true
		if json.Unmarshal(raw, &elems) != nil || len(elems) == 0 {
			return nil, true, false
		}
	} else {
		elems = []json.RawMessage{raw}
	}
	for _, e := range elems {
		var m map[string]json.RawMessage
		if len(e) == 0 || e[0] != '{' || json.Unmarshal(e, &m) != nil {
			return nil, batch, false
		}
		msgs = append(msgs, refMessage{id: m["id"], method: m["method"], params: m["params"]})
	}
	return msgs, batch, true
}

// refToolName reads the tool name of tools/call params with encoding/json,
// as go-sdk's struct decoding does: exact keys, the last duplicate wins,
// and a null member leaves the name already read.
func refToolName(params []byte) (string, bool) {
	if len(params) == 0 || params[0] != '{' || !json.Valid(params) {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	if _, err := dec.Token(); err != nil { // {
		return "", false
	}
	var raw json.RawMessage
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return "", false
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return "", false
		}
		if key == "name" && string(v) != "null" {
			raw = v
		}
	}
	if raw == nil {
		return "", false
	}
	var name string
	if json.Unmarshal(raw, &name) != nil {
		return "", false
	}
	return name, true
}

// depth returns the maximum nesting of brackets in b, ignoring strings
// roughly (enough to skip inputs deeper than peekMaxDepth).
func depth(b []byte) int {
	d, deepest := 0, 0
	for _, c := range b {
		switch c {
		case '{', '[':
			d++
			deepest = max(deepest, d)
		case '}', ']':
			d--
		}
	}
	return deepest
}

// checkAgainstReference requires peekMessages and peekToolName to read
// body as the reference does.
func checkAgainstReference(t *testing.T, body []byte) {
	t.Helper()
	msgs, batch, ok := peekMessages(body, nil)
	ref, refBatch, refOK := refPeek(body)
	if depth(body) >= peekMaxDepth-1 || len(ref) > peekMaxMessages {
		if ok {
			require.True(t, refOK, "peek accepted what the reference refuses: %q", body)
		}
		return
	}
	require.Equal(t, refOK, ok, "validity of %q", body)
	if !ok {
		return
	}
	require.Equal(t, refBatch, batch, "batch %q", body)
	require.Len(t, msgs, len(ref))
	for i := range ref {
		require.Equal(t, string(ref[i].id), string(msgs[i].id), "id of %q", body)
		require.Equal(t, string(ref[i].method), string(msgs[i].method), "method of %q", body)
		require.Equal(t, string(ref[i].params), string(msgs[i].params), "params of %q", body)
		var refMethod string
		refIsCall := json.Unmarshal(ref[i].method, &refMethod) == nil && refMethod == "tools/call"
		require.Equal(t, refIsCall, methodIs(msgs[i].method, "tools/call"), "method of %q", body)
		if refMethod != "" {
			require.Equal(t, refMethod, methodName(msgs[i].method))
		}
		refName, refNameOK := refToolName(ref[i].params)
		name, nameOK := peekToolName(msgs[i].params)
		require.Equal(t, refNameOK, nameOK, "tool name of %q", body)
		require.Equal(t, refName, name, "tool name of %q", body)
	}
}

// peekBodies are bodies peekMessages must read as go-sdk does, including
// the ones that might be read differently by a careless parser.
func peekBodies() []string {
	return []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}}`,
		` {"jsonrpc":"2.0","id":"a-1","method":"tools/list"} `,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"b"}}]`,
		`[]`,
		`[1]`,
		`[{"id":1},]`,
		`{}`,
		`{"id":null,"method":"ping"}`,
		`{"id":-1.5e+3,"method":"x"}`,
		`{"id":01,"method":"x"}`,
		`{"id":1.,"method":"x"}`,
		`{"id":1e,"method":"x"}`,
		`{"id":[1,{"a":[]},{}],"method":"x"}`,
		`{"id":1,"method":"tools/call","params":{"name":"whoami","name":"salesWrite"}}`,
		`{"id":1,"method":"tools/call","params":{"NAME":"salesWrite"}}`,
		`{"id":1,"method":"tools/call","params":{"Name":"salesWrite","name":"whoami"}}`,
		`{"id":1,"method":"tools/call","method":"tools/list","params":{"name":"salesWrite"}}`,
		`{"id":1,"method":"tools/list","method":"tools/call","params":{"name":"salesWrite"}}`,
		`{"id":1,"Method":"tools/call","params":{"name":"salesWrite"}}`,
		`{"id":1,"\u006dethod":"tools/call","params":{"\u006eame":"salesWrite"}}`,
		`{"id":1,"method":"tools/\u0063all","params":{"name":"sales\u0057rite"}}`,
		`{"id":1,"method":"tools/call","params":{"name":"sales\"Write"}}`,
		"{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"sales\xffWrite\"}}",
		"{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"caf\xc3\xa9\"}}",
		"{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\tb\"}}",
		`{"id":1,"method":"tools/call","params":{"name":"a\x"}}`,
		`{"id":1,"method":"tools/call","params":{"name":"a\u00"}}`,
		`{"id":1,"method":"tools/call","params":{"name":42}}`,
		`{"id":1,"method":"tools/call","params":["salesWrite"]}`,
		`{"id":1,"method":"tools/call","params":null}`,
		`{"id":1,"method":"tools/call","params":{"name":"salesWrite","name":null}}`,
		`{"id":1,"method":"tools/call","params":{"name":null}}`,
		`{"id":1,"method":"tools/call","params":{"name":null,"name":"salesWrite"}}`,
		`{"id":1,"method":"tools/call"}`,
		`{"id":1,"method":"tools/call","params":{"name":"a"}} trailing junk`,
		`{"id":1,"method":"tools/call","params":{"name":"a"}}{"method":"ping"}`,
		`{"id":1,"method":"tools/call","params":{"name":"a"},}`,
		`{"id":1 "method":"x"}`,
		`{"id":1,"method":"x"`,
		`{"id":tru}`,
		`{"id":true,"method":false,"params":null}`,
		`"just a string"`,
		`nul`,
		``,
		`   `,
		`[{"id":1,"method":"tools/call","params":{"name":"a"}}, 7]`,
		`{"a":{"b":{"c":[[[[{"d":"}]"}]]]]}},"method":"tools/call","params":{"name":"n"}}`,
		"{\"id\":\"a\nb\",\"method\":\"x\"}",
	}
}

func TestPeekMessages(t *testing.T) {
	for _, body := range peekBodies() {
		t.Run(body, func(t *testing.T) {
			checkAgainstReference(t, []byte(body))
		})
	}
}

func TestPeekMessagesDepth(t *testing.T) {
	tests := []struct {
		name  string
		depth int
		ok    bool
	}{
		{"shallow", 10, true},
		{"at the limit", peekMaxDepth - 2, true},
		{"too deep", peekMaxDepth + 1, false},
		{"far too deep", 100 * peekMaxDepth, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":1,"method":"x","params":` + strings.Repeat("[", tt.depth) + strings.Repeat("]", tt.depth) + `}`
			_, _, ok := peekMessages([]byte(body), nil)
			require.Equal(t, tt.ok, ok)
		})
	}
}

func TestPeekMessagesBatchLimit(t *testing.T) {
	tests := []struct {
		name string
		n    int
		ok   bool
	}{
		{"at the limit", peekMaxMessages, true},
		{"over the limit", peekMaxMessages + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "[" + strings.Repeat(`{"method":"ping"},`, tt.n-1) + `{"method":"ping"}]`
			msgs, batch, ok := peekMessages([]byte(body), nil)
			require.True(t, batch)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Len(t, msgs, tt.n)
			}
		})
	}
}

// A tools/call is read without allocating (the tool name's string aside,
// which peekToolName returns).
func TestPeekMessagesAllocations(t *testing.T) {
	body := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello","n":[1,2,{"x":null}]}}}`)
	msgs := make([]peeked, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		m, _, ok := peekMessages(body, msgs[:0])
		if !ok || !methodIs(m[0].method, "tools/call") || methodName(m[0].method) != "tools/call" {
			t.Fatal("not read")
		}
	})
	require.Zero(t, allocs)
}

func FuzzPeekMessages(f *testing.F) {
	for _, body := range peekBodies() {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAgainstReference(t, body)
	})
}

func BenchmarkPeekMessages(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`)
	msgs := make([]peeked, 0, 4)
	b.ReportAllocs()
	for b.Loop() {
		m, _, ok := peekMessages(body, msgs[:0])
		if !ok {
			b.Fatal("not read")
		}
		if _, ok := peekToolName(m[0].params); !ok {
			b.Fatal("no name")
		}
	}
}
