package proxy

import (
	"context"
	"net/http"
	"strings"

	"github.com/idgate/idgate/identity"
)

// A Credential decides how a backend request is credentialed on the user's
// behalf: it sets the request's Authorization header (or fails) for the
// verified identity id. Apply must not send the request, and must fail
// rather than send a token the backend should not receive.
//
// Forward, *Exchange and *Signer are Credentials. Implementations must be
// safe for concurrent use.
type Credential interface {
	Apply(ctx context.Context, req *http.Request, id *identity.Identity) error
}

// CredentialFunc adapts a function to the Credential interface.
type CredentialFunc func(ctx context.Context, req *http.Request, id *identity.Identity) error

// Apply calls f.
func (f CredentialFunc) Apply(ctx context.Context, req *http.Request, id *identity.Identity) error {
	return f(ctx, req, id)
}

// Forward returns a Credential that sends the user's own token, as
// "Authorization: Bearer", to a backend whose audience identifier is
// audience, but only when that audience is one of the token's audiences
// (id.Audience), compared exactly or up to one trailing slash. Otherwise
// Apply fails with ErrAudienceMismatch and the request is not sent: the
// user's token never reaches a resource it was not issued for (SPEC 22).
//
// An empty audience matches nothing.
func Forward(audience string) Credential {
	return forward{audience: strings.TrimSuffix(audience, "/")}
}

type forward struct {
	audience string // without a trailing slash
}

func (f forward) Apply(_ context.Context, req *http.Request, id *identity.Identity) error {
	tok, err := tokenOf(id)
	if err != nil {
		return err
	}
	if !f.accepts(id.Audience) {
		return ErrAudienceMismatch
	}
	setBearer(req, tok)
	return nil
}

// accepts reports whether one of aud names f.audience, up to one trailing
// slash on either side.
func (f forward) accepts(aud []string) bool {
	if f.audience == "" {
		return false
	}
	for _, a := range aud {
		if strings.TrimSuffix(a, "/") == f.audience {
			return true
		}
	}
	return false
}

// tokenOf returns id's raw token, or ErrNoIdentity / ErrNoToken.
func tokenOf(id *identity.Identity) (string, error) {
	if id == nil {
		return "", ErrNoIdentity
	}
	tok := id.Token()
	if tok == "" {
		return "", ErrNoToken
	}
	return tok, nil
}

func setBearer(req *http.Request, token string) {
	req.Header.Set("Authorization", "Bearer "+token)
}
