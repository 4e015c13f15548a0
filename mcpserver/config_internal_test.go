package mcpserver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Idle sessions are closed by default: each initialize opens one, and a
// client that never sends DELETE (most do not) would otherwise leave it in
// memory for the life of the process.
func TestSessionTimeoutDefault(t *testing.T) {
	tests := []struct {
		name string
		set  time.Duration
		want time.Duration
	}{
		{"zero: the default", 0, DefaultSessionTimeout},
		{"configured", 5 * time.Minute, 5 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := validate(Config{Name: "n", PublicURL: "https://api.example.com/mcp", InsecureDisableAuth: true, SessionTimeout: tc.set})
			require.NoError(t, err)
			require.Equal(t, tc.want, c.SessionTimeout)
		})
	}
	_, err := validate(Config{Name: "n", PublicURL: "https://api.example.com/mcp", InsecureDisableAuth: true, SessionTimeout: -time.Second})
	require.ErrorContains(t, err, "SessionTimeout")
}
