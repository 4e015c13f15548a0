package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/idgate/idgate/identity"
)

// discoveryTimeout bounds the fetch of OIDC_DISCOVERY at start-up.
const discoveryTimeout = 10 * time.Second

// newUserVerifier returns the verifier of the users' tokens: RFC 7662
// introspection when INTROSPECTION_URL is set (opaque tokens), else JWT
// access tokens checked against the issuer's JWKS, whose URL is JWKS_URI,
// or read from OIDC_DISCOVERY, or discovered from the issuer. The tokens
// must name one of the audiences (OAUTH_AUDIENCE, default PUBLIC_URL).
// close releases it.
func newUserVerifier(ctx context.Context, cfg *config) (v identity.Verifier, close func(), err error) {
	audiences := cfg.Audiences
	if len(audiences) == 0 {
		audiences = []string{cfg.PublicURL}
	}
	if cfg.IntrospectionURL != "" {
		iv, err := identity.NewIntrospectionVerifier(identity.IntrospectionConfig{
			Endpoint:     cfg.IntrospectionURL,
			ClientID:     cfg.IntrospectionClientID,
			ClientSecret: cfg.IntrospectionClientSecret,
			Issuer:       cfg.Issuer,
			Audiences:    audiences,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("INTROSPECTION_URL: %w", err)
		}
		return iv, func() {}, nil
	}
	jwksURL := cfg.JWKSURI
	if jwksURL == "" && cfg.OIDCDiscovery != "" {
		if jwksURL, err = discoverJWKS(ctx, cfg.OIDCDiscovery, cfg.Issuer); err != nil {
			return nil, nil, err
		}
	}
	jv, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{
		Issuer:    cfg.Issuer,
		Audiences: audiences,
		JWKSURL:   jwksURL,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("OAUTH_ISSUER: %w", err)
	}
	return jv, jv.Close, nil
}

// discoverJWKS reads the "jwks_uri" of the discovery document at docURL,
// whose "issuer" must be issuer (up to one trailing slash).
func discoverJWKS(ctx context.Context, docURL, issuer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return "", fmt.Errorf("OIDC_DISCOVERY: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("OIDC_DISCOVERY: fetch %s: %w (or set JWKS_URI)", docURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("OIDC_DISCOVERY: fetch %s: status %d (or set JWKS_URI)", docURL, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return "", fmt.Errorf("OIDC_DISCOVERY: %s is not a discovery document: %w", docURL, err)
	}
	if strings.TrimSuffix(doc.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
		return "", fmt.Errorf("OIDC_DISCOVERY: %s is the document of issuer %q, not OAUTH_ISSUER %q", docURL, doc.Issuer, issuer)
	}
	if err := checkHTTPURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("OIDC_DISCOVERY: %s: jwks_uri %q %v", docURL, doc.JWKSURI, err)
	}
	return doc.JWKSURI, nil
}
