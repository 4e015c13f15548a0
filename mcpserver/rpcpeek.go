package mcpserver

import (
	"encoding/json"
	"unicode/utf8"
)

// peekMaxDepth is the deepest nesting peekMessages accepts. go-sdk's
// decoder accepts 1000, but decoding a body nested that deep costs time
// that grows with depth × size (a helper measured 17 s of CPU for 1 MiB
// nested 990 deep, through go-sdk's handler): a request nested deeper
// than this is refused before anything decodes it (see admitStepUp). JSON-RPC
// messages, tool arguments included, are rarely nested a tenth as deep.
const peekMaxDepth = 128

// peekMaxMessages bounds the messages of a batch peekMessages reads.
const peekMaxMessages = 1024

// peeked is what the step-up check reads of one JSON-RPC message: raw JSON
// values, pointing into the body.
type peeked struct {
	id     []byte // raw "id" value; nil when absent
	method []byte // raw "method" value; nil when absent
	params []byte // raw "params" value; nil when absent
	// version is the raw "jsonrpc" value; nil when absent.
	version []byte
	// raw is the whole message.
	raw []byte
}

// peekMessages reads a JSON-RPC body, one message or a batch, in one pass
// and without decoding anything it does not need: for each message, where
// its "id", "method" and "params" values are. It appends the messages to
// msgs (to reuse its storage) and reports whether the body is a batch. ok
// is false for a body that is not valid JSON, not an object or a non-empty
// array of objects, nested deeper than peekMaxDepth, or a batch of more
// than peekMaxMessages.
//
// It reads a body as go-sdk's decoder does, so that the scope check at the
// HTTP layer judges the call go-sdk will dispatch: keys match exactly (no
// case folding, unlike encoding/json), after unescaping; of duplicate keys
// the last wins; what follows the first JSON value is ignored.
func peekMessages(body []byte, msgs []peeked) (_ []peeked, batch, ok bool) {
	p := jsonPeeker{b: body}
	p.space()
	if p.i >= len(p.b) {
		return msgs, false, false
	}
	if p.b[p.i] != '[' {
		m, ok := p.message()
		if !ok {
			return msgs, false, false
		}
		return append(msgs, m), false, true
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		return msgs, true, false // an empty batch is invalid
	}
	for {
		if len(msgs) == peekMaxMessages {
			return msgs, true, false
		}
		m, ok := p.message()
		if !ok {
			return msgs, true, false
		}
		msgs = append(msgs, m)
		p.space()
		if p.i >= len(p.b) {
			return msgs, true, false
		}
		c := p.b[p.i]
		p.i++
		switch c {
		case ',':
			p.space()
		case ']':
			return msgs, true, true
		default:
			return msgs, true, false
		}
	}
}

// peekToolName returns the "name" member of tools/call params, when params
// is an object whose last non-null "name" is a string. go-sdk decodes
// params into a struct, where a null member leaves the field as it was:
// {"name":"x","name":null} calls x.
func peekToolName(params []byte) (string, bool) {
	p := jsonPeeker{b: params}
	var name []byte
	ok := p.object(func(key []byte, value []byte) {
		if keyIs(key, "name") && string(value) != "null" {
			name = value
		}
	})
	if !ok || name == nil {
		return "", false
	}
	return stringValue(name)
}

// methodIs reports whether the raw JSON value method is the string want.
func methodIs(method []byte, want string) bool {
	if len(method) < 2 || method[0] != '"' {
		return false
	}
	return keyIs(method, want)
}

// methodName returns the raw JSON value method as a string for the audit
// ("" when it is not a JSON string). Common methods cost no allocation.
func methodName(method []byte) string {
	if len(method) < 2 || method[0] != '"' {
		return ""
	}
	switch string(method[1 : len(method)-1]) {
	case "tools/call":
		return "tools/call"
	case "tools/list":
		return "tools/list"
	case "initialize":
		return "initialize"
	case "notifications/initialized":
		return "notifications/initialized"
	case "ping":
		return "ping"
	}
	s, _ := stringValue(method)
	return s
}

// stringValue decodes the raw JSON value v when it is a string. Plain ASCII
// without escapes is sliced; anything else is decoded by encoding/json,
// which unescapes and replaces invalid UTF-8 with U+FFFD as go-sdk's decoder
// does.
func stringValue(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if plainASCII(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// keyIs reports whether the raw JSON string key (with its quotes) is want.
// It allocates only for a key with escapes or non-ASCII bytes.
func keyIs(key []byte, want string) bool {
	inner := key[1 : len(key)-1]
	if plainASCII(inner) {
		return string(inner) == want
	}
	s, ok := stringValue(key)
	return ok && s == want
}

// plainASCII reports whether b is printable ASCII without a backslash: a
// JSON string body that means itself.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= utf8.RuneSelf || c == '\\' {
			return false
		}
	}
	return true
}

// jsonPeeker scans JSON in place.
type jsonPeeker struct {
	b []byte
	i int
}

// message reads one JSON-RPC message object.
func (p *jsonPeeker) message() (peeked, bool) {
	var m peeked
	p.space()
	start := p.i
	ok := p.object(func(key []byte, value []byte) {
		switch {
		case keyIs(key, "id"):
			m.id = value
		case keyIs(key, "method"):
			m.method = value
		case keyIs(key, "params"):
			m.params = value
		case keyIs(key, "jsonrpc"):
			m.version = value
		}
	})
	if ok {
		m.raw = p.b[start:p.i]
	}
	return m, ok
}

// object reads an object at p.i, calling member for each key (raw, with its
// quotes) and value (raw) in order.
func (p *jsonPeeker) object(member func(key, value []byte)) bool {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return false
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	for {
		k := p.i
		if !p.str() {
			return false
		}
		key := p.b[k:p.i]
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		v := p.i
		if !p.value(1) {
			return false
		}
		member(key, p.b[v:p.i])
		p.space()
		if p.i >= len(p.b) {
			return false
		}
		c := p.b[p.i]
		p.i++
		switch c {
		case ',':
			p.space()
		case '}':
			return true
		default:
			return false
		}
	}
}

// value validates and skips the JSON value at p.i, whose container is at
// depth; nested containers are tracked without recursion.
func (p *jsonPeeker) value(depth int) bool {
	// inObject[d] says whether the container at nesting d (relative to
	// this value) is an object; one bit per level.
	var inObject [peekMaxDepth/64 + 1]uint64
	open := 0 // containers opened by this value and not yet closed
	for {
		// A value is expected at p.i.
		if p.i >= len(p.b) {
			return false
		}
		switch c := p.b[p.i]; {
		case c == '{' || c == '[':
			if depth+open >= peekMaxDepth {
				return false
			}
			p.i++
			word, bit := open/64, uint64(1)<<(open%64)
			if c == '{' {
				inObject[word] |= bit
			} else {
				inObject[word] &^= bit
			}
			open++
			p.space()
			if p.i < len(p.b) && (p.b[p.i] == '}' && c == '{' || p.b[p.i] == ']' && c == '[') {
				p.i++
				open--
				break // an empty container is a complete value
			}
			if c == '{' && !p.key() {
				return false
			}
			continue // its first value
		case c == '"':
			if !p.str() {
				return false
			}
		case c == '-' || '0' <= c && c <= '9':
			if !p.number() {
				return false
			}
		case c == 't':
			if !p.literal("true") {
				return false
			}
		case c == 'f':
			if !p.literal("false") {
				return false
			}
		case c == 'n':
			if !p.literal("null") {
				return false
			}
		default:
			return false
		}
		// A value is complete: close containers, or move to the next
		// element or member.
		for {
			if open == 0 {
				return true
			}
			p.space()
			if p.i >= len(p.b) {
				return false
			}
			c := p.b[p.i]
			p.i++
			object := inObject[(open-1)/64]&(uint64(1)<<((open-1)%64)) != 0
			if c == ',' {
				p.space()
				if object && !p.key() {
					return false
				}
				break
			}
			if object && c == '}' || !object && c == ']' {
				open--
				continue
			}
			return false
		}
	}
}

// key reads `"key" :` and the space after it.
func (p *jsonPeeker) key() bool {
	if !p.str() {
		return false
	}
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != ':' {
		return false
	}
	p.i++
	p.space()
	return true
}

// str skips a string at p.i, checking its escapes.
func (p *jsonPeeker) str() bool {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return false
	}
	for i := p.i + 1; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '"':
			p.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(p.b) {
				return false
			}
			switch p.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(p.b) {
					return false
				}
				for _, h := range p.b[i+1 : i+5] {
					if !isHex(h) {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

// number skips a number at p.i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonPeeker) number() bool {
	i := p.i
	if i < len(p.b) && p.b[i] == '-' {
		i++
	}
	switch {
	case i < len(p.b) && p.b[i] == '0':
		i++
	case i < len(p.b) && '1' <= p.b[i] && p.b[i] <= '9':
		i = p.digits(i)
	default:
		return false
	}
	if i < len(p.b) && p.b[i] == '.' {
		j := p.digits(i + 1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(p.b) && (p.b[i] == 'e' || p.b[i] == 'E') {
		i++
		if i < len(p.b) && (p.b[i] == '+' || p.b[i] == '-') {
			i++
		}
		j := p.digits(i)
		if j == i {
			return false
		}
		i = j
	}
	p.i = i
	return true
}

// digits returns the index after the digits starting at i.
func (p *jsonPeeker) digits(i int) int {
	for i < len(p.b) && '0' <= p.b[i] && p.b[i] <= '9' {
		i++
	}
	return i
}

func (p *jsonPeeker) literal(lit string) bool {
	if len(p.b)-p.i < len(lit) || string(p.b[p.i:p.i+len(lit)]) != lit {
		return false
	}
	p.i += len(lit)
	return true
}

// space skips JSON whitespace.
func (p *jsonPeeker) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
