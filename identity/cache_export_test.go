package identity

// CachedToken returns the token string v's cache keeps in the entry for
// token (its own string, which may or may not share token's memory), and
// whether there is such an entry. ok is false for a verifier of another
// type.
func CachedToken(v Verifier, token string) (cached string, ok bool) {
	switch v := v.(type) {
	case *JWTVerifier:
		e, ok := v.cache.lookup(token, v.cfg.Now())
		return e.token, ok
	case *IntrospectionVerifier:
		e, ok := v.cache.lookup(token, v.now())
		return e.token, ok
	}
	return "", false
}
