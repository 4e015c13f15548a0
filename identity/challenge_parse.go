package identity

import (
	"errors"
	"fmt"
	"strings"
)

// ErrChallengeSyntax is wrapped by the errors ParseChallenges returns.
var ErrChallengeSyntax = errors.New("malformed WWW-Authenticate header")

// ParseChallenges parses one WWW-Authenticate header value, which may hold
// several comma-separated challenges (RFC 9110 §11.6.1):
//
//	Bearer realm="api", error="invalid_token", Basic realm="simple"
//
// Parameter names are case-insensitive; values may be tokens or
// quoted-strings with backslash escapes. realm, resource_metadata, scope
// (split on spaces only: a tab or a Unicode space is part of its scope, as
// in scopes.Parse), error and error_description fill the Challenge fields;
// other parameters go to Params under their lower-case name. A token68
// credential (as in "Negotiate abc==") is accepted and ignored. Empty list
// elements are skipped. A parameter that appears twice in one challenge, an
// unterminated quoted-string, or any other syntax error gives an error
// wrapping ErrChallengeSyntax. An empty header gives no challenges and no
// error.
//
// Several WWW-Authenticate header fields are parsed one at a time (or joined
// with ", " first).
func ParseChallenges(header string) ([]Challenge, error) {
	p := challengeParser{s: header}
	return p.parse()
}

type challengeParser struct {
	s   string
	pos int
}

func (p *challengeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrChallengeSyntax, fmt.Sprintf(format, args...), p.pos)
}

func (p *challengeParser) parse() ([]Challenge, error) {
	var out []Challenge
	var seen []string // parameter names of the current challenge
	token68 := false  // the current challenge carries a token68
	for {
		// Skip empty list elements.
		for p.pos < len(p.s) && (p.s[p.pos] == ',' || isOWS(p.s[p.pos])) {
			p.pos++
		}
		if p.pos == len(p.s) {
			return out, nil
		}
		start := p.pos
		name := p.token()
		if name == "" {
			return nil, p.errorf("unexpected %q", p.s[p.pos])
		}
		p.skipOWS()
		if p.pos < len(p.s) && p.s[p.pos] == '=' {
			// An auth-param of the current challenge.
			if len(out) == 0 {
				p.pos = start
				return nil, p.errorf("parameter %q before any scheme", name)
			}
			if token68 {
				p.pos = start
				return nil, p.errorf("parameter %q after a token68", name)
			}
			p.pos++
			p.skipOWS()
			value, err := p.value()
			if err != nil {
				return nil, err
			}
			lower := strings.ToLower(name)
			for _, s := range seen {
				if s == lower {
					p.pos = start
					return nil, p.errorf("parameter %q repeated", name)
				}
			}
			seen = append(seen, lower)
			out[len(out)-1].set(lower, value)
			p.skipOWS()
			if p.pos < len(p.s) && p.s[p.pos] != ',' {
				return nil, p.errorf("expected comma, found %q", p.s[p.pos])
			}
			continue
		}
		// A new challenge: name is its scheme.
		out = append(out, Challenge{Scheme: name})
		seen, token68 = seen[:0], false
		p.pos = start + len(name)
		if p.pos < len(p.s) && p.s[p.pos] == ' ' {
			for p.pos < len(p.s) && p.s[p.pos] == ' ' {
				p.pos++
			}
			token68 = p.token68()
		}
	}
}

// set stores the parameter lower = value in c.
func (c *Challenge) set(lower, value string) {
	switch lower {
	case "realm":
		c.Realm = value
	case "resource_metadata":
		c.ResourceMetadata = value
	case "scope":
		// Split as a scope claim is, on spaces only (appendScopeTokens).
		c.Scope = appendScopeTokens(nil, value)
	case "error":
		c.Error = value
	case "error_description":
		c.ErrorDescription = value
	default:
		if c.Params == nil {
			c.Params = make(map[string]string)
		}
		c.Params[lower] = value
	}
}

// token consumes and returns an RFC 9110 token, possibly empty.
func (p *challengeParser) token() string {
	start := p.pos
	for p.pos < len(p.s) && isTChar(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// token68 consumes a token68 when one stands at the current position and is
// followed only by optional whitespace and then a comma or the end.
func (p *challengeParser) token68() bool {
	i := p.pos
	for i < len(p.s) && isB64TokenChar(p.s[i]) {
		i++
	}
	if i == p.pos {
		return false
	}
	for i < len(p.s) && p.s[i] == '=' {
		i++
	}
	j := i
	for j < len(p.s) && isOWS(p.s[j]) {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return false
	}
	p.pos = i
	return true
}

// value consumes a token or a quoted-string and returns its value.
func (p *challengeParser) value() (string, error) {
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		return p.quoted()
	}
	v := p.token()
	if v == "" {
		if p.pos == len(p.s) {
			return "", p.errorf("missing parameter value")
		}
		return "", p.errorf("unexpected %q in parameter value", p.s[p.pos])
	}
	return v, nil
}

// quoted consumes a quoted-string (the opening quote is at p.pos) and
// returns its unescaped content.
func (p *challengeParser) quoted() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	var b []byte // nil until an escape is seen
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '"':
			var v string
			if b == nil {
				v = p.s[start:p.pos]
			} else {
				v = string(b)
			}
			p.pos++
			return v, nil
		case c == '\\':
			if p.pos+1 == len(p.s) {
				return "", p.errorf("unterminated quoted-string")
			}
			e := p.s[p.pos+1]
			if isCTL(e) {
				return "", p.errorf("control byte after backslash")
			}
			if b == nil {
				b = append([]byte(nil), p.s[start:p.pos]...)
			}
			b = append(b, e)
			p.pos += 2
		case isCTL(c):
			return "", p.errorf("control byte in quoted-string")
		default:
			if b != nil {
				b = append(b, c)
			}
			p.pos++
		}
	}
	return "", p.errorf("unterminated quoted-string")
}

func (p *challengeParser) skipOWS() {
	for p.pos < len(p.s) && isOWS(p.s[p.pos]) {
		p.pos++
	}
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// isCTL reports whether c is a control byte a quoted-string may not hold
// (HTAB is allowed).
func isCTL(c byte) bool { return (c < 0x20 && c != '\t') || c == 0x7f }
