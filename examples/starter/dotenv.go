package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// maxDotEnvBytes bounds the .env file read.
const maxDotEnvBytes = 1 << 20

// parseDotEnv reads a .env file: one KEY=VALUE per line. It understands
//
//   - blank lines and lines starting with "#" (comments);
//   - an optional "export " before the key, as shells write it;
//   - unquoted values, trimmed, where " #" starts a comment;
//   - 'single-quoted' values, taken literally;
//   - "double-quoted" values, with the escapes \n, \t, \", \\ and a "#"
//     that is part of the value.
//
// Keys are letters, digits and underscores, not starting with a digit. A line
// it cannot read is an error naming the line number (never the value, which
// may be a secret). A key given twice keeps its last value.
func parseDotEnv(r io.Reader) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, maxDotEnvBytes))
	sc.Buffer(make([]byte, 0, 4096), maxDotEnvBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a byte order mark
		}
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, raw, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !validEnvKey(key) {
			return nil, fmt.Errorf("line %d: want KEY=VALUE with a key of letters, digits and _", n)
		}
		val, err := dotEnvValue(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", n, key, err)
		}
		vars[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return vars, nil
}

// dotEnvValue decodes the value part of a .env line.
func dotEnvValue(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	switch q := raw[0]; q {
	case '\'', '"':
		end := -1
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			c := raw[i]
			if c == q {
				end = i
				break
			}
			if q == '"' && c == '\\' && i+1 < len(raw) {
				i++
				switch raw[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				default: // \" \\ and anything else: the character itself
					b.WriteByte(raw[i])
				}
				continue
			}
			b.WriteByte(c)
		}
		if end < 0 {
			return "", errors.New("unterminated quoted value")
		}
		if rest := strings.TrimSpace(raw[end+1:]); rest != "" && rest[0] != '#' {
			return "", errors.New("text after the closing quote")
		}
		return b.String(), nil
	}
	if i := strings.Index(raw, " #"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "\t#"); i >= 0 {
		raw = raw[:i]
	}
	return strings.TrimSpace(raw), nil
}

// validEnvKey reports whether k is a portable environment variable name.
func validEnvKey(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// environment returns the variables the starter runs with: those of environ
// ("KEY=VALUE" strings, as os.Environ returns them) over those of the .env
// file at path. The real environment wins, so a deployment can override
// the file. A missing file is no error; an unreadable or malformed one is.
func environment(environ []string, path string) (map[string]string, error) {
	vars := map[string]string{}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	default:
		fileVars, err := parseDotEnv(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		vars = fileVars
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	return vars, nil
}
