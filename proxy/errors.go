package proxy

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Errors returned by this package wrap one of them (or a
// context error, or *Error for a non-2xx answer); test with errors.Is. Their
// texts are short and fixed.
var (
	// ErrAudienceMismatch: Forward was asked to send the user's token to a
	// backend that is not one of the token's audiences. No request was made.
	ErrAudienceMismatch = errors.New("backend is not an audience of the user's token")
	// ErrNoIdentity: no verified identity was given (nil, or none in the
	// request context for Transport).
	ErrNoIdentity = errors.New("no verified identity")
	// ErrNoToken: the identity carries no raw token to forward or exchange.
	ErrNoToken = errors.New("identity carries no token")
	// ErrExchangeFailed: the RFC 8693 token exchange did not yield a usable
	// token. The error is an *ExchangeError with the details.
	ErrExchangeFailed = errors.New("token exchange failed")
	// ErrSignFailed: the Signer could not sign a token.
	ErrSignFailed = errors.New("signing a backend token failed")
	// ErrResponseTooLarge: the backend's response body is longer than the
	// configured limit.
	ErrResponseTooLarge = errors.New("backend response too large")
	// ErrBadPath: the path would leave the base URL or is malformed ("..",
	// encoded slashes, backslashes, control characters, a fragment).
	ErrBadPath = errors.New("path not allowed")
)

// Error is a non-2xx answer from the backend. Body holds the start of the
// backend's body, at most Config.MaxErrorBodyBytes, with any credential sent
// on the request redacted (also where the body writes it escaped, as JSON
// or percent-encoding does), so that a caller (say, a tool telling the model
// what went wrong) can read it.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Method is the request method.
	Method string
	// URL is the request URL without query, fragment or user info.
	URL string
	// ContentType is the response's Content-Type header.
	ContentType string
	// Body is the start of the response body, bounded and redacted.
	Body []byte
	// Truncated reports whether the body was longer than Body.
	Truncated bool
}

// errorSnippetLen bounds the body excerpt in Error's text.
const errorSnippetLen = 200

// Error returns "METHOD URL: status N: <snippet>", the snippet being
// the first bytes of the body on one line.
func (e *Error) Error() string {
	s := fmt.Sprintf("proxy: %s %s: status %d", e.Method, e.URL, e.Status)
	if snip := snippet(e.Body, errorSnippetLen); snip != "" {
		s += ": " + snip
	}
	return s
}

// ExchangeError is a failed RFC 8693 token exchange. It wraps
// ErrExchangeFailed and, when the token endpoint could not be reached or
// answered something unreadable, the underlying error.
type ExchangeError struct {
	// Status is the token endpoint's HTTP status, 0 when there was no answer.
	Status int
	// Code is the OAuth "error" code (RFC 6749 §5.2), such as
	// "invalid_grant", when the endpoint sent one of the registered codes
	// (any other text is dropped, lest it echo the user's token).
	Code string
	// Description is the endpoint's "error_description", bounded, with the
	// subject token and the client secret redacted should the endpoint
	// have echoed them, as they are or as they were sent (form-encoded,
	// or in the Basic header), escaped or not (JSON, percent-encoding).
	Description string
	// Err is the underlying transport or decoding error, if any.
	Err error
}

// Error describes the failure: status, OAuth error code and description.
func (e *ExchangeError) Error() string {
	var b strings.Builder
	b.WriteString(ErrExchangeFailed.Error())
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns ErrExchangeFailed and the underlying error, if any.
func (e *ExchangeError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrExchangeFailed}
	}
	return []error{ErrExchangeFailed, e.Err}
}

// snippet returns at most n bytes of b as one printable line: control
// characters become spaces, invalid UTF-8 becomes U+FFFD, runs of spaces
// collapse, and a cut is marked with "...".
func snippet(b []byte, n int) string {
	var sb strings.Builder
	space := false
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		i += size
		if r < 0x20 || r == 0x7f || r == ' ' {
			space = sb.Len() > 0
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		if sb.Len()+utf8.RuneLen(r) > n {
			sb.WriteString("...")
			break
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
