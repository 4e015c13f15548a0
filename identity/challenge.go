package identity

import (
	"maps"
	"slices"
	"strings"
)

// RFC 6750 §3.1 error codes, the values of Challenge.Error.
const (
	// ErrorCodeInvalidRequest: the request is malformed (400).
	ErrorCodeInvalidRequest = "invalid_request"
	// ErrorCodeInvalidToken: the token is expired, revoked, malformed or
	// otherwise invalid (401). The client should obtain a new one.
	ErrorCodeInvalidToken = "invalid_token"
	// ErrorCodeInsufficientScope: the token lacks scopes the request needs
	// (403). The client should ask for the challenge's scopes.
	ErrorCodeInsufficientScope = "insufficient_scope"
)

// A Challenge is one WWW-Authenticate challenge (RFC 9110 §11.6.1) of the
// kind RFC 6750 §3 and RFC 9728 §5.1 define:
//
//	Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="crm:read", error="insufficient_scope"
//
// The zero value renders as a bare "Bearer" challenge.
type Challenge struct {
	// Scheme is the auth-scheme. Default (empty): "Bearer". String writes
	// "Bearer" also when Scheme is not a valid RFC 9110 token, so that it
	// can never break the header syntax.
	Scheme string
	// Realm is the "realm" parameter. Omitted when empty.
	Realm string
	// ResourceMetadata is the RFC 9728 "resource_metadata" parameter: the
	// absolute URL of the protected-resource metadata. Omitted when empty.
	ResourceMetadata string
	// Scope lists the scopes the client should request; rendered
	// space-separated in one "scope" parameter. Omitted when empty.
	Scope []string
	// Error is the RFC 6750 error code: ErrorCodeInvalidRequest,
	// ErrorCodeInvalidToken, ErrorCodeInsufficientScope, or empty when the
	// request carried no credentials. Omitted when empty.
	Error string
	// ErrorDescription is a short human-readable text, the
	// "error_description" parameter. Keep it fixed: never a verifier's
	// internal message, never a token (Describe gives safe texts). Omitted
	// when empty.
	ErrorDescription string
	// Params holds any other auth-params by lower-case name. ParseChallenges
	// fills it with the parameters it does not map to a field; String writes
	// them after the known ones, sorted by name, skipping names that are not
	// valid tokens or that repeat a known or earlier parameter
	// (case-insensitively). Nil when there are none.
	Params map[string]string
}

// String returns the challenge as a WWW-Authenticate header value. Parameters
// appear at most once each, in the order realm, resource_metadata, scope,
// error, error_description, then Params; values are always quoted-strings
// with backslash and double quote escaped (RFC 9110 §5.6.4). Control bytes
// other than horizontal tab, which a header cannot carry, become spaces.
func (c Challenge) String() string {
	return string(c.AppendTo(make([]byte, 0, c.size())))
}

// AppendTo appends the String form of c to b and returns the extended
// buffer. It allocates only if b lacks capacity or Params is non-empty.
func (c Challenge) AppendTo(b []byte) []byte {
	if isToken(c.Scheme) {
		b = append(b, c.Scheme...)
	} else {
		b = append(b, "Bearer"...)
	}
	first := true
	param := func(b []byte, name string) []byte {
		if first {
			b = append(b, ' ')
			first = false
		} else {
			b = append(b, ", "...)
		}
		b = append(b, name...)
		return append(b, '=', '"')
	}
	if c.Realm != "" {
		b = appendQuotedBody(param(b, "realm"), c.Realm)
		b = append(b, '"')
	}
	if c.ResourceMetadata != "" {
		b = appendQuotedBody(param(b, "resource_metadata"), c.ResourceMetadata)
		b = append(b, '"')
	}
	if scopeNonEmpty(c.Scope) {
		b = param(b, "scope")
		sep := false
		for _, s := range c.Scope {
			if s == "" {
				continue
			}
			if sep {
				b = append(b, ' ')
			}
			b = appendQuotedBody(b, s)
			sep = true
		}
		b = append(b, '"')
	}
	if c.Error != "" {
		b = appendQuotedBody(param(b, "error"), c.Error)
		b = append(b, '"')
	}
	if c.ErrorDescription != "" {
		b = appendQuotedBody(param(b, "error_description"), c.ErrorDescription)
		b = append(b, '"')
	}
	if len(c.Params) > 0 {
		var written []string
		for _, name := range slices.Sorted(maps.Keys(c.Params)) {
			lower := strings.ToLower(name)
			if !isToken(name) || isKnownParam(lower) || slices.Contains(written, lower) {
				continue
			}
			written = append(written, lower)
			b = appendQuotedBody(param(b, name), c.Params[name])
			b = append(b, '"')
		}
	}
	return b
}

// size estimates the length of c's String form, so that String allocates
// once in the common case.
func (c Challenge) size() int {
	n := len("Bearer") + len(c.Scheme) + len(c.Realm) + len(c.ResourceMetadata) +
		len(c.Error) + len(c.ErrorDescription) + 100
	for _, s := range c.Scope {
		n += len(s) + 1
	}
	return n
}

func scopeNonEmpty(scope []string) bool {
	for _, s := range scope {
		if s != "" {
			return true
		}
	}
	return false
}

func isKnownParam(lower string) bool {
	switch lower {
	case "realm", "resource_metadata", "scope", "error", "error_description":
		return true
	}
	return false
}

// appendQuotedBody appends s as the inside of a quoted-string: backslash and
// double quote are escaped; control bytes other than HTAB become spaces.
func appendQuotedBody(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, c)
		case c < 0x20 || c == 0x7f:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return b
}

// isTChar reports whether c is an RFC 9110 tchar.
func isTChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTChar(s[i]) {
			return false
		}
	}
	return true
}
