package audit

import (
	"net/http"
	"strings"
)

// Reasons Middleware derives from a response when no layer gave one.
const (
	reasonMissingToken = "missing_token"
	reasonRateLimited  = "rate_limited"
)

// reasonFromResponse derives a reason code from a response: the RFC 6750
// error code of a Bearer challenge for 400, 401 and 403 ("missing_token" for
// a 401 challenge without one, RFC 6750 §3.1), "rate_limited" for 429, else
// "".
func reasonFromResponse(status int, h http.Header) string {
	switch status {
	case http.StatusTooManyRequests:
		return reasonRateLimited
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
	default:
		return ""
	}
	for _, c := range h.Values("WWW-Authenticate") {
		code, ok := bearerError(c)
		if !ok {
			continue
		}
		switch code {
		case "invalid_request", "invalid_token", "insufficient_scope":
			return code
		case "":
			if status == http.StatusUnauthorized {
				return reasonMissingToken
			}
		}
		return ""
	}
	return ""
}

// bearerError parses challenge as `Bearer param="value", ...` and returns its
// error parameter ("" when absent). ok is false when challenge is not a
// Bearer challenge.
func bearerError(challenge string) (code string, ok bool) {
	scheme, params, _ := strings.Cut(strings.TrimSpace(challenge), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	for {
		params = strings.TrimLeft(params, " ,")
		name, rest, found := strings.Cut(params, "=")
		if !found {
			return "", true
		}
		name = strings.TrimSpace(name)
		value, rest := paramValue(strings.TrimLeft(rest, " "))
		if strings.EqualFold(name, "error") {
			return value, true
		}
		params = rest
	}
}

// paramValue reads an auth-param value (a quoted string with backslash
// escapes, or a token) from the start of s and returns it and what follows.
func paramValue(s string) (value, rest string) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, " ,")
		if end < 0 {
			return s, ""
		}
		return s[:end], s[end:]
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}
