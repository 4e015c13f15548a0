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
