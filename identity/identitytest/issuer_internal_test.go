package identitytest

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRequestCounterBounded: made-up paths, which anything that reaches the
// server can send, do not grow what Requests remembers without bound.
func TestRequestCounterBounded(t *testing.T) {
	iss := NewIssuer(t)
	get := func(path string) {
		resp, err := http.Get(iss.origin + path)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	long := "/" + strings.Repeat("x", maxCountedPathLength)
	get(long)
	require.Zero(t, iss.Requests(long), "a path over 1 KiB is not counted")
	get("/jwks")
	iss.mu.Lock()
	for k := len(iss.requests); k < maxCountedPaths; k++ { // as if that many paths had been asked for
		iss.requests["/filler/"+strconv.Itoa(k)] = 1
	}
	iss.mu.Unlock()
	get("/jwks")
	require.Equal(t, 2, iss.Requests("/jwks"), "a path counted before the table filled is still counted")
	get("/made-up")
	iss.mu.Lock()
	n := len(iss.requests)
	iss.mu.Unlock()
	require.LessOrEqual(t, n, maxCountedPaths)
	require.Zero(t, iss.Requests("/made-up"))
}

// TestRevokedTokensForgottenOnceExpired: a revoked token is remembered
// while it could be presented, and forgotten once expired (it is refused
// as such), so that the revocations the dev authorization server makes on
// every replayed code do not accumulate.
func TestRevokedTokensForgottenOnceExpired(t *testing.T) {
	iss := NewIssuer(t)
	live := iss.Mint(t, ExpiresIn(time.Hour))
	iss.Revoke(live)
	for range revokedSweepLen + 10 {
		iss.Revoke(iss.Mint(t, ExpiresIn(-time.Minute)))
	}
	opaque := iss.MintOpaque(t, ExpiresIn(-time.Minute))
	iss.Revoke(opaque)
	forever := iss.Mint(t, NoExpiry())
	iss.Revoke(forever)
	iss.Revoke("not a token")
	iss.mu.Lock()
	defer iss.mu.Unlock()
	require.Less(t, len(iss.revoked), 20, "expired revocations are forgotten")
	require.Contains(t, iss.revoked, live, "a live token stays revoked")
	require.Contains(t, iss.revoked, forever, "a token without exp stays revoked")
	require.Contains(t, iss.revoked, "not a token")
}

// TestSlowHeadersTimeOut: the server does not wait for ever for a
// request's headers: a connection that never finishes them is closed.
func TestSlowHeadersTimeOut(t *testing.T) {
	defer func(d time.Duration) { readHeaderTimeout = d }(readHeaderTimeout)
	readHeaderTimeout = 200 * time.Millisecond
	iss := NewIssuer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(iss.origin, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET /jwks HTTP/1.1\r\nHost: 127.0.0.1\r\n")) // and no more
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	start := time.Now()
	_, err = io.ReadAll(conn)
	require.NoError(t, err, "closed by the server, not by the test's deadline")
	require.Less(t, time.Since(start), 5*time.Second)
}
