package mcpserver

import (
	"net"
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

// TestIsLoopbackLocal: a connection's local address is loopback exactly
// when its formatted form is, for TCP addresses (read without formatting)
// and any other kind.
func TestIsLoopbackLocal(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, true},
		{&net.TCPAddr{IP: net.IPv4(127, 9, 8, 7), Port: 80}, true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 80}, true},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 80}, true},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 80}, false},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "lo"}, false},
		{&net.TCPAddr{IP: net.IPv6zero, Port: 80}, false},
		{&net.TCPAddr{}, false},
		{(*net.TCPAddr)(nil), false},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, false},
		{&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, true},
		{nil, false},
	} {
		require.Equal(t, tc.want, isLoopbackLocal(tc.addr), "%#v", tc.addr)
		if tcp, ok := tc.addr.(*net.TCPAddr); ok && tcp != nil {
			require.Equal(t, isLoopbackAddr(tcp.String()), isLoopbackLocal(tc.addr), "as formatted: %s", tcp)
		}
	}
}
