package identity

// WaitForKeyFetch waits until no JWKS fetch of v is running, so that
// external tests can observe the end of a background refresh without
// sleeping.
func WaitForKeyFetch(v *JWTVerifier) {
	v.keys.mu.Lock()
	done := v.keys.inflight
	v.keys.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Remembered is what Middleware asks v before a token's syntax check: the
// identity v's cache holds for token. ok is false when v has no such cache.
func Remembered(v Verifier, token string) (id *Identity, ok bool) {
	m, isMemory := v.(tokenMemory)
	if !isMemory {
		return nil, false
	}
	return m.remembered(token)
}
