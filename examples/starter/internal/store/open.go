package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Open opens the Store that configuration names: databaseURL is the
// starter's DATABASE_URL, sqlitePath the SQLite file used when it is empty.
//
//   - "" opens the SQLite file at sqlitePath (OpenSQLite);
//   - "postgres://…" or "postgresql://…" opens PostgreSQL (OpenPostgres);
//   - "sqlite:PATH" or "sqlite:///ABSOLUTE/PATH" opens the SQLite file at
//     PATH, ignoring sqlitePath.
//
// Any other value is refused with an error that says what is accepted.
// Errors never contain databaseURL, which may hold a password.
func Open(ctx context.Context, databaseURL, sqlitePath string) (Store, error) {
	if databaseURL == "" {
		if sqlitePath == "" {
			return nil, errors.New("store: no database: set DATABASE_URL or an SQLite path")
		}
		return opened(OpenSQLite(ctx, sqlitePath))
	}
	scheme, rest, ok := strings.Cut(databaseURL, ":")
	if !ok || !validScheme(scheme) {
		return nil, errors.New("store: DATABASE_URL has no scheme: want postgres://…, postgresql://… or sqlite:PATH")
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return opened(OpenPostgres(ctx, databaseURL))
	case "sqlite":
		path, err := sqliteURLPath(rest)
		if err != nil {
			return nil, err
		}
		return opened(OpenSQLite(ctx, path))
	default:
		return nil, fmt.Errorf("store: DATABASE_URL scheme %q is not supported: want postgres://…, postgresql://… or sqlite:PATH", scheme)
	}
}

// opened returns s as a Store, or a nil Store (not a Store holding a nil
// pointer) with err.
func opened[S Store](s S, err error) (Store, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// validScheme reports whether s is a URL scheme (RFC 3986 §3.1): a letter,
// then letters, digits, '+', '-' or '.'.
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// sqliteURLPath returns the file path of "sqlite:" + rest: "sqlite:PATH"
// (relative or absolute) or "sqlite:///ABSOLUTE/PATH", percent-decoded.
func sqliteURLPath(rest string) (string, error) {
	if strings.HasPrefix(rest, "//") {
		// sqlite://HOST/PATH: only an empty host makes sense.
		after, ok := strings.CutPrefix(rest, "///")
		if !ok {
			return "", errors.New("store: DATABASE_URL sqlite URL with a host: want sqlite:PATH or sqlite:///ABSOLUTE/PATH")
		}
		rest = "/" + after
	}
	path, err := url.PathUnescape(rest)
	if err != nil || path == "" {
		return "", errors.New("store: DATABASE_URL sqlite URL without a valid path: want sqlite:PATH or sqlite:///ABSOLUTE/PATH")
	}
	return path, nil
}
