package proxy

import (
	"fmt"
	"net/url"
	"strings"
)

// resolve joins p onto the base URL so that the result can never leave the
// base path. p is a slash-separated path, relative to the base whether or
// not it starts with "/", optionally followed by "?query". It is refused
// (ErrBadPath) when any segment, percent-decoded, is "." or "..", or
// contains a slash, backslash, control character or a still-encoded dot,
// slash or backslash (double encoding); also when it has empty segments
// ("a//b"), a fragment, or a malformed escape or query. The query is sent as
// given, so it must already be escaped: only the characters RFC 3986 §3.4
// allows, such as url.Values.Encode produces.
func resolve(base *url.URL, p string) (*url.URL, error) {
	pathPart, query, hasQuery := strings.Cut(p, "?")
	if strings.ContainsAny(p, "#\\") || hasControl(p) {
		return nil, fmt.Errorf("%w: fragment, backslash or control character", ErrBadPath)
	}
	if hasQuery {
		if _, err := url.ParseQuery(query); err != nil || !validQuery(query) {
			return nil, fmt.Errorf("%w: malformed query", ErrBadPath)
		}
	}

	trailing := strings.HasSuffix(pathPart, "/")
	pathPart = strings.Trim(pathPart, "/")
	var decoded, escaped []string
	if pathPart != "" {
		for seg := range strings.SplitSeq(pathPart, "/") {
			dec, err := cleanSegment(seg)
			if err != nil {
				return nil, err
			}
			decoded = append(decoded, dec)
			escaped = append(escaped, url.PathEscape(dec))
		}
	}

	u := *base
	u.RawQuery, u.ForceQuery = query, false
	if len(decoded) == 0 {
		if trailing && !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
			u.RawPath = ""
		}
		return &u, nil
	}
	suffix := ""
	if trailing {
		suffix = "/"
	}
	u.Path = strings.TrimSuffix(base.Path, "/") + "/" + strings.Join(decoded, "/") + suffix
	u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + "/" + strings.Join(escaped, "/") + suffix
	return &u, nil
}

// cleanSegment percent-decodes one path segment and refuses the ones that
// could move up or across the path (see resolve).
func cleanSegment(seg string) (string, error) {
	if seg == "" {
		return "", fmt.Errorf("%w: empty segment", ErrBadPath)
	}
	dec, err := url.PathUnescape(seg)
	if err != nil {
		return "", fmt.Errorf("%w: malformed escape", ErrBadPath)
	}
	// "..;x" is ".." to some servers (path parameters).
	name, _, _ := strings.Cut(dec, ";")
	lower := strings.ToLower(dec)
	switch {
	case name == "." || name == "..":
		return "", fmt.Errorf("%w: dot segment", ErrBadPath)
	case strings.ContainsAny(dec, "/\\") || hasControl(dec):
		return "", fmt.Errorf("%w: encoded slash, backslash or control character", ErrBadPath)
	case strings.Contains(lower, "%2e") || strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c"):
		return "", fmt.Errorf("%w: double-encoded dot, slash or backslash", ErrBadPath)
	}
	return dec, nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// validQuery reports whether q has only the characters RFC 3986 allows in a
// query: unreserved, sub-delims, ":", "@", "/", "?" and "%" (escapes are
// checked by url.ParseQuery).
func validQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0:
		default:
			return false
		}
	}
	return true
}
