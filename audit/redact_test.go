package audit_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
)

// testJWT is shaped like an RS256 access token for {"sub":"alice"}.
const testJWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

func TestRecordRedactsJWTs(t *testing.T) {
	const (
		unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
		jwe      = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn"
	)
	for _, tc := range []struct {
		name, value, want string
	}{
		{"whole value", testJWT, "[redacted]"},
		{"after a scheme", "Bearer " + testJWT, "Bearer [redacted]"},
		{"inside text", "token=" + testJWT + "; next", "token=[redacted]; next"},
		{"two tokens", testJWT + " " + testJWT, "[redacted] [redacted]"},
		{"no signature", unsigned, "[redacted]"},
		{"followed by a full stop", "got " + testJWT + ". Done", "got [redacted]. Done"},
		{"JWE, five segments", jwe, "[redacted]"},
		{"glued to other characters", "x" + testJWT, "x[redacted]"},
		{"plain code", "insufficient_scope", "insufficient_scope"},
		{"prefix alone", "eyJ", "eyJ"},
		{"two segments", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0"},
		{"empty payload", "eyJhbGci..sig", "eyJhbGci..sig"},
		{"header too short", "eyJ.a.b", "eyJ.a.b"},
		{"not base64url", "eyJ!bc.def.ghi", "eyJ!bc.def.ghi"},
		{"a miss then a hit", "eyJ.x " + testJWT, "eyJ.x [redacted]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, sink := newAuditor(t, audit.Config{})
			a.Record(context.Background(), audit.Event{
				RequestID: tc.value, HTTPMethod: tc.value, Path: tc.value, Issuer: tc.value,
				ClientID: tc.value, MCPMethod: tc.value, Tool: tc.value, Reason: tc.value,
				Decision: audit.Decision(tc.value), Status: 401,
			})
			line := <-sink.lines
			if tc.want != tc.value {
				require.NotContains(t, string(line), tc.value)
			}
			m := decodeLine(t, line)
			for _, k := range []string{"request_id", "http_method", "path", "iss", "client_id", "mcp_method", "tool", "decision", "reason"} {
				require.Equal(t, tc.want, m[k], "attribute %s", k)
			}
		})
	}
}
