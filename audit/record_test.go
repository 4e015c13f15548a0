package audit_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
)

func TestNewValidatesConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     []byte
		wantErr string
	}{
		{name: "nil key", key: nil, wantErr: "audit: Config.SubjectKey must be at least 16 bytes (got 0)"},
		{name: "15 bytes", key: bytes.Repeat([]byte{1}, 15), wantErr: "audit: Config.SubjectKey must be at least 16 bytes (got 15)"},
		{name: "16 bytes", key: bytes.Repeat([]byte{1}, 16)},
		{name: "32 bytes", key: bytes.Repeat([]byte{1}, 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := audit.New(audit.Config{SubjectKey: tc.key})
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, a)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, a)
		})
	}
}

func TestRecordWritesEveryField(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a, sink := newAuditor(t, audit.Config{})
	for _, tc := range []struct {
		name string
		ev   audit.Event
		want map[string]any
	}{
		{
			name: "full event",
			ev: audit.Event{
				Time: start, RequestID: "req-1", HTTPMethod: "POST", Path: "/mcp",
				Subject: "alice", Issuer: "https://issuer.example/", ClientID: "cli",
				MCPMethod: "tools/call", Tool: "notes.add",
				Decision: audit.Deny, Reason: "insufficient_scope",
				Status: 403, Duration: 1500 * time.Microsecond,
				Args: map[string]any{"title": "hello", "n": 2},
			},
			want: map[string]any{
				"time": "2026-03-01T12:00:00Z", "level": "INFO", "msg": "audit",
				"request_id": "req-1", "http_method": "POST", "path": "/mcp",
				"sub": a.HashSubject("alice"), "iss": "https://issuer.example/", "client_id": "cli",
				"mcp_method": "tools/call", "tool": "notes.add",
				"decision": "deny", "reason": "insufficient_scope",
				"status": 403.0, "duration_us": 1500.0,
				"args": map[string]any{"title": "hello", "n": 2.0},
			},
		},
		{
			name: "empty strings and nil args are left out",
			ev:   audit.Event{Time: start, Decision: audit.Allow, Status: 200, Duration: 2 * time.Millisecond},
			want: map[string]any{
				"time": "2026-03-01T12:00:00Z", "level": "INFO", "msg": "audit",
				"decision": "allow", "status": 200.0, "duration_us": 2000.0,
			},
		},
		{
			name: "decision derived from status",
			ev:   audit.Event{Time: start, Status: 429, Reason: "rate_limited"},
			want: map[string]any{
				"time": "2026-03-01T12:00:00Z", "level": "INFO", "msg": "audit",
				"decision": "rate_limited", "reason": "rate_limited", "status": 429.0, "duration_us": 0.0,
			},
		},
		{
			name: "sub-microsecond durations round down",
			ev:   audit.Event{Time: start, Status: 200, Duration: 999 * time.Nanosecond},
			want: map[string]any{
				"time": "2026-03-01T12:00:00Z", "level": "INFO", "msg": "audit",
				"decision": "allow", "status": 200.0, "duration_us": 0.0,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.Record(context.Background(), tc.ev)
			require.Equal(t, tc.want, sink.next(t))
		})
	}
}

func TestRecordAttributeOrder(t *testing.T) {
	var buf bytes.Buffer
	a, err := audit.New(audit.Config{
		Logger:     slog.New(slog.NewJSONHandler(&buf, nil)),
		SubjectKey: []byte(testKey),
	})
	require.NoError(t, err)
	a.Record(context.Background(), audit.Event{
		RequestID: "r", HTTPMethod: "GET", Path: "/p", Subject: "s", Issuer: "i", ClientID: "c",
		MCPMethod: "m", Tool: "t", Decision: audit.Allow, Reason: "x", Status: 200, Args: []int{1},
	})
	keys := []string{"request_id", "http_method", "path", "sub", "iss", "client_id",
		"mcp_method", "tool", "decision", "reason", "status", "duration_us", "args"}
	out := buf.String()
	last := -1
	for _, k := range keys {
		i := strings.Index(out, `"`+k+`":`)
		require.Greater(t, i, last, "%s comes after the previous attribute in %s", k, out)
		last = i
	}
}

func TestRecordTimeDefaultsToNow(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	before := time.Now()
	a.Record(context.Background(), audit.Event{Status: 200})
	after := time.Now()
	got, err := time.Parse(time.RFC3339Nano, sink.next(t)["time"].(string))
	require.NoError(t, err)
	require.False(t, got.Before(before.Truncate(time.Millisecond)), "%v before %v", got, before)
	require.False(t, got.After(after), "%v after %v", got, after)
}

func TestRecordMessageAndLevel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       audit.Config
		min       slog.Level // level of the handler
		wantLine  bool
		wantLevel string
		wantMsg   string
	}{
		{name: "defaults", min: slog.LevelInfo, wantLine: true, wantLevel: "INFO", wantMsg: "audit"},
		{name: "custom", cfg: audit.Config{Message: "mcp.audit", Level: slog.LevelWarn}, min: slog.LevelInfo, wantLine: true, wantLevel: "WARN", wantMsg: "mcp.audit"},
		{name: "below the handler's level", cfg: audit.Config{Level: slog.LevelDebug}, min: slog.LevelInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tc.min}))
			tc.cfg.SubjectKey = []byte(testKey)
			a, err := audit.New(tc.cfg)
			require.NoError(t, err)
			a.Record(context.Background(), audit.Event{Status: 200})
			if !tc.wantLine {
				require.Empty(t, buf.String())
				return
			}
			m := decodeLine(t, buf.Bytes())
			require.Equal(t, tc.wantLevel, m["level"])
			require.Equal(t, tc.wantMsg, m["msg"])
		})
	}
}

func TestRecordArgs(t *testing.T) {
	big := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name    string
		maxArgs int
		args    any
		want    any
	}{
		{name: "object", args: struct {
			Query string `json:"query"`
			Limit int    `json:"limit"`
		}{"q4", 10}, want: map[string]any{"query": "q4", "limit": 10.0}},
		{name: "array", args: []string{"a", "b"}, want: []any{"a", "b"}},
		{name: "string", args: "plain", want: "plain"},
		{name: "over the default limit", args: big, want: "[omitted: 5002 bytes]"},
		{name: "over a custom limit", maxArgs: 10, args: "0123456789", want: "[omitted: 12 bytes]"},
		{name: "at a custom limit", maxArgs: 12, args: "0123456789", want: "0123456789"},
		{name: "no limit", maxArgs: -1, args: big, want: big},
		{name: "unencodable", args: func() {}, want: "[unencodable]"},
		{name: "MarshalJSON panics", args: panicky("secret-opaque-token"), want: "[unencodable]"},
		{name: "token inside", args: map[string]any{"auth": "Bearer " + testJWT, "n": []string{testJWT}},
			want: map[string]any{"auth": "Bearer [redacted]", "n": []any{"[redacted]"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, sink := newAuditor(t, audit.Config{MaxArgsBytes: tc.maxArgs})
			a.Record(context.Background(), audit.Event{Status: 200, Args: tc.args})
			line := <-sink.lines
			require.NotContains(t, string(line), testJWT)
			require.Equal(t, tc.want, decodeLine(t, line)["args"])
		})
	}
}

// panicky is an argument whose encoding panics with its own value.
type panicky string

func (p panicky) MarshalJSON() ([]byte, error) { panic("marshal boom " + string(p)) }

func TestDecisionFromStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   audit.Decision
	}{
		{101, audit.Allow}, {200, audit.Allow}, {201, audit.Allow}, {204, audit.Allow}, {302, audit.Allow}, {304, audit.Allow},
		{400, audit.Deny}, {401, audit.Deny}, {403, audit.Deny}, {404, audit.Deny}, {405, audit.Deny}, {415, audit.Deny},
		{429, audit.RateLimited},
		{500, audit.Error}, {502, audit.Error}, {503, audit.Error},
		{0, audit.Error}, {100, audit.Error}, {103, audit.Error}, {600, audit.Error},
	} {
		require.Equal(t, tc.want, audit.DecisionFromStatus(tc.status), "status %d", tc.status)
	}
}

func TestSubjectHashing(t *testing.T) {
	a, sink := newAuditor(t, audit.Config{})
	other, otherSink := newAuditor(t, audit.Config{SubjectKey: []byte("another key, 16+ bytes long")})

	mac := hmac.New(sha256.New, []byte(testKey))
	mac.Write([]byte("alice"))
	want := hex.EncodeToString(mac.Sum(nil))[:32]

	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"keyed HMAC-SHA256, 32 hex digits", func(t *testing.T) {
			require.Equal(t, want, a.HashSubject("alice"))
		}},
		{"stable for a key", func(t *testing.T) {
			require.Equal(t, a.HashSubject("alice"), a.HashSubject("alice"))
		}},
		{"different subjects differ", func(t *testing.T) {
			require.NotEqual(t, a.HashSubject("alice"), a.HashSubject("bob"))
		}},
		{"different keys differ", func(t *testing.T) {
			require.NotEqual(t, a.HashSubject("alice"), other.HashSubject("alice"))
		}},
		{"empty stays empty", func(t *testing.T) {
			require.Equal(t, "", a.HashSubject(""))
		}},
		{"the event carries the hash, never the raw subject", func(t *testing.T) {
			const raw = "auth0|6543210fedcba"
			a.Record(context.Background(), audit.Event{Subject: raw, Status: 200})
			a.Record(context.Background(), audit.Event{Subject: raw, Status: 403})
			other.Record(context.Background(), audit.Event{Subject: raw, Status: 200})
			l1, l2, l3 := <-sink.lines, <-sink.lines, <-otherSink.lines
			for _, l := range [][]byte{l1, l2, l3} {
				require.NotContains(t, string(l), raw)
				require.NotContains(t, string(l), "6543210fedcba")
			}
			s1, s2, s3 := decodeLine(t, l1)["sub"], decodeLine(t, l2)["sub"], decodeLine(t, l3)["sub"]
			require.Equal(t, a.HashSubject(raw), s1)
			require.Equal(t, s1, s2, "same subject, same key: same hash")
			require.NotEqual(t, s1, s3, "same subject, other key: other hash")
		}},
		{"the key is copied", func(t *testing.T) {
			key := []byte(testKey)
			b, err := audit.New(audit.Config{SubjectKey: key})
			require.NoError(t, err)
			key[0] ^= 0xff
			require.Equal(t, want, b.HashSubject("alice"))
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// String fields are cut at MaxAttrBytes, at a character boundary.
func TestRecordTruncatesLongStrings(t *testing.T) {
	tests := []struct {
		name, tool, want string
	}{
		{"short", "salesRead", "salesRead"},
		{"exactly the limit", strings.Repeat("a", audit.MaxAttrBytes), strings.Repeat("a", audit.MaxAttrBytes)},
		{"over the limit", strings.Repeat("a", 10_000), strings.Repeat("a", audit.MaxAttrBytes) + "…"},
		{"cut before a multi-byte character", strings.Repeat("a", audit.MaxAttrBytes-1) + "é" + "z", strings.Repeat("a", audit.MaxAttrBytes-1) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			a, err := audit.New(audit.Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), SubjectKey: []byte("0123456789abcdef")})
			require.NoError(t, err)
			a.Record(context.Background(), audit.Event{Tool: tc.tool, MCPMethod: tc.tool, Status: 200})
			var ev map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &ev))
			require.Equal(t, tc.want, ev["tool"])
			require.Equal(t, tc.want, ev["mcp_method"])
		})
	}
}
