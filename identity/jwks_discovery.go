package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// serverMetadata is the part of an OpenID Connect discovery document or
// RFC 8414 authorization-server metadata the verifier reads.
type serverMetadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// discover finds the issuer's "jwks_uri": from
// "<issuer>/.well-known/openid-configuration" (OpenID Connect Discovery
// §4), else from "/.well-known/oauth-authorization-server<issuer path>"
// (RFC 8414 §3). A document whose "issuer" differs from the configured one
// (after the trailing-slash normalisation) is ignored.
func (ks *keySet) discover() (string, error) {
	issuer := normaliseIssuer(ks.cfg.Issuer)
	u, err := url.Parse(issuer)
	if err != nil {
		return "", fmt.Errorf("discover JWKS: issuer: %w", err)
	}
	candidates := []string{
		issuer + "/.well-known/openid-configuration",
		u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.EscapedPath(), "/"),
	}
	var errs []error
	for _, c := range candidates {
		jwksURI, err := ks.metadataJWKSURI(c)
		if err == nil {
			return jwksURI, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("discover JWKS: %w", errors.Join(errs...))
}

// metadataJWKSURI fetches one metadata document and returns its jwks_uri.
func (ks *keySet) metadataJWKSURI(docURL string) (string, error) {
	body, err := ks.get(docURL)
	if err != nil {
		return "", err
	}
	shown := shownURL(docURL)
	var md serverMetadata
	if err := json.Unmarshal(body, &md); err != nil {
		return "", fmt.Errorf("%s: not JSON metadata: %w", shown, err)
	}
	if normaliseIssuer(md.Issuer) != normaliseIssuer(ks.cfg.Issuer) {
		return "", fmt.Errorf("%s: issuer %q is not %q", shown, md.Issuer, ks.cfg.Issuer)
	}
	if err := checkFetchURL(md.JWKSURI, ks.cfg.InsecureAllowHTTP); err != nil {
		return "", fmt.Errorf("%s: jwks_uri %q: %w", shown, shownURL(md.JWKSURI), err)
	}
	if strings.HasPrefix(docURL, "https:") && !strings.HasPrefix(md.JWKSURI, "https:") {
		// Keys fetched in the clear could be substituted on the way.
		return "", fmt.Errorf("%s: jwks_uri %q: must use https, as the issuer does", shown, shownURL(md.JWKSURI))
	}
	return md.JWKSURI, nil
}
