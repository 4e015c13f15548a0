package audit

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/idgate/idgate/internal/reqctx"
)

// RequestIDHeader is the HTTP header that carries a request id, in requests
// (accepted when valid) and in responses (always set by Middleware).
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen is the longest incoming request id Middleware accepts.
const maxRequestIDLen = 128

// WithRequestID returns a copy of ctx that carries the request id id. Use
// it where Middleware does not run (a background job, a test); Middleware
// adopts an id it finds in the context.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, reqctx.RequestIDKey{}, id)
}

// RequestID returns the request id that ctx carries (set by Middleware or
// WithRequestID), or "" when none. Outgoing calls (package proxy) read it to
// propagate it.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(reqctx.RequestIDKey{}).(string) // Middleware's context answers it too
	return id
}

// newRequestID returns a fresh random request id: 26 characters of the
// RFC 4648 base32 alphabet, 130 random bits, in the form crypto/rand.Text
// gives. A request id names a request in logs and grants nothing, so its
// bits come from math/rand/v2's generator (ChaCha8, seeded by the
// runtime from the operating system), at less than half the cost of
// crypto/rand's.
func newRequestID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var id [26]byte
	x, y, z := rand.Uint64(), rand.Uint64(), rand.Uint64()
	for i := range 12 {
		id[i] = alphabet[x&31]
		id[12+i] = alphabet[y&31]
		x >>= 5
		y >>= 5
	}
	id[24], id[25] = alphabet[z&31], alphabet[z>>5&31]
	return string(id[:])
}

// validRequestID reports whether a client-supplied request id may be used
// as it is: 1 to 128 characters of [A-Za-z0-9._:/+=-], and not shaped like
// a JWT (a client that sends its token there must not have it logged or
// echoed).
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isRequestIDChar(id[i]) {
			return false
		}
	}
	return redact(id) == id
}

// inCredentials reports whether id is the request's credential, or a
// piece of it at least 16 characters long, in its Authorization header: a
// client that sends its token as the request id (an opaque one, which
// validRequestID cannot tell from an id) must not have it logged or
// echoed either. (A short id is left alone: a token holds most short
// strings.)
func inCredentials(h http.Header, id string) bool {
	for _, v := range h["Authorization"] {
		_, cred, _ := strings.Cut(strings.TrimSpace(v), " ")
		if id == strings.TrimSpace(cred) || id == v || len(id) >= 16 && strings.Contains(v, id) {
			return true
		}
	}
	return false
}

func isRequestIDChar(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("._:/+=-", c) >= 0
}
