package identity

import (
	"fmt"
	"unicode/utf8"
)

// jwtError is the error a JWTVerifier returns: exactly one sentinel, a
// detail for logs, and optionally the underlying cause (never one of this
// package's sentinels). Its text never contains the token.
type jwtError struct {
	sentinel error
	detail   string
	cause    error
}

func (e *jwtError) Error() string {
	if e.detail == "" {
		return e.sentinel.Error()
	}
	return e.sentinel.Error() + ": " + e.detail
}

func (e *jwtError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.sentinel}
	}
	return []error{e.sentinel, e.cause}
}

// jwtErrorf returns a *jwtError wrapping sentinel. The format must not
// receive the token; values taken from it (a claim, a kid) go through
// quoteValue.
func jwtErrorf(sentinel error, format string, args ...any) error {
	return &jwtError{sentinel: sentinel, detail: fmt.Sprintf(format, args...)}
}

// quoteValue quotes a value read from a token for an error message,
// truncated so that a hostile token cannot fill the logs.
func quoteValue(s string) string {
	const limit = 64
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
