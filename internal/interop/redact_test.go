package interop

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactTokens(t *testing.T) {
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"header flag", []string{"--header", "Authorization: Bearer " + tok}, []string{"--header", "Authorization: Bearer [redacted]"}},
		{"JSON spec", []string{`{"url":"http://x/mcp","token":"` + tok + `"}`}, []string{`{"url":"http://x/mcp","token":"[redacted]"}`}},
		{"no token", []string{"--method", "tools/list", "a.b.c"}, []string{"--method", "tools/list", "a.b.c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, redactTokens(tc.args))
		})
	}
}
