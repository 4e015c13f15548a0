package audit_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
)

// testKey is the SubjectKey of the tests' auditors.
const testKey = "0123456789abcdef0123456789abcdef"

// lineSink receives the lines a JSON slog handler writes, one per Write, in
// the order they are written, from any goroutine.
type lineSink struct{ lines chan []byte }

func newLineSink() *lineSink { return &lineSink{lines: make(chan []byte, 256)} }

func (s *lineSink) Write(p []byte) (int, error) {
	s.lines <- bytes.Clone(p)
	return len(p), nil
}

// next waits for the next line and decodes it.
func (s *lineSink) next(t *testing.T) map[string]any {
	t.Helper()
	return decodeLine(t, <-s.lines)
}

// empty reports whether no line is waiting.
func (s *lineSink) empty() bool { return len(s.lines) == 0 }

func decodeLine(t *testing.T, line []byte) map[string]any {
	t.Helper()
	require.True(t, bytes.HasSuffix(line, []byte("\n")), "one line per record: %q", line)
	var m map[string]any
	require.NoError(t, json.Unmarshal(line, &m), "line: %s", line)
	return m
}

// newAuditor returns an Auditor that writes JSON lines at Debug and above to
// a lineSink. cfg.SubjectKey defaults to testKey.
func newAuditor(t *testing.T, cfg audit.Config) (*audit.Auditor, *lineSink) {
	t.Helper()
	sink := newLineSink()
	cfg.Logger = slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.SubjectKey == nil {
		cfg.SubjectKey = []byte(testKey)
	}
	a, err := audit.New(cfg)
	require.NoError(t, err)
	return a, sink
}

// eventFields returns the fields of an event line other than time and
// duration_us, after checking that those two are present and sane.
func eventFields(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	require.Contains(t, m, "time")
	d, ok := m["duration_us"].(float64)
	require.True(t, ok, "duration_us is a number: %v", m["duration_us"])
	require.GreaterOrEqual(t, d, 0.0)
	delete(m, "time")
	delete(m, "duration_us")
	return m
}
