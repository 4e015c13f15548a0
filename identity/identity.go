package identity

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/idgate/idgate/internal/reqctx"
	"github.com/idgate/idgate/scopes"
)

// Identity is a verified caller: who the token says the user is, which client
// acts for them, and what they may do. Verifiers return it; the middleware
// puts it in the request context. Treat it as read-only: a Verifier may hand
// the same *Identity to several requests that present the same token.
//
// The raw token is kept (see Token) but never rendered: String, Format,
// LogValue and JSON encoding leave it out.
type Identity struct {
	// Subject is the "sub" claim: the user's id at the issuer.
	Subject string
	// UserID is the application's id for the user: Subject unless a
	// verifier's UserID hook maps it.
	UserID string
	// Issuer is the "iss" claim, exactly as the token carries it.
	Issuer string
	// Audience is the "aud" claim, always as a list.
	Audience []string
	// Scopes is the union of the scope claims the verifier reads.
	Scopes scopes.Set
	// ClientID is the OAuth client that obtained the token ("client_id" or
	// "azp"), when present.
	ClientID string
	// Email and Name are the "email" and "name" claims, when present.
	Email, Name string
	// IssuedAt, NotBefore and ExpiresAt are the "iat", "nbf" and "exp"
	// claims; zero when absent.
	IssuedAt, NotBefore, ExpiresAt time.Time
	// TokenID is the "jti" claim, when present.
	TokenID string
	// Claims holds every claim of the token (or introspection response) as
	// decoded JSON. Do not modify it.
	Claims map[string]any

	token string
}

// WithToken returns a copy of id that carries token as its raw bearer
// token. Verifiers call it; the token is what Token returns.
func (id Identity) WithToken(token string) *Identity {
	id.token = token
	return &id
}

// Token returns the raw bearer token the identity was verified from. It is a
// credential: never log it, and send it only to a backend that is its
// audience (package proxy enforces this).
func (id *Identity) Token() string { return id.token }

// String returns a short description naming the subject and issuer, never the
// token.
func (id *Identity) String() string {
	if id == nil {
		return "<nil identity>"
	}
	return fmt.Sprintf("identity{sub=%q iss=%q scopes=%q}", id.Subject, id.Issuer, id.Scopes.String())
}

// Format implements fmt.Formatter so that every verb, %+v and %#v included,
// prints String and never the token.
func (id Identity) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, id.String())
}

// LogValue implements slog.LogValuer: the subject, issuer, client and scopes,
// never the token. Callers that must not log raw subjects should hash them
// (package audit does).
func (id *Identity) LogValue() slog.Value {
	if id == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.String("sub", id.Subject),
		slog.String("iss", id.Issuer),
		slog.String("client_id", id.ClientID),
		slog.String("scopes", id.Scopes.String()),
	)
}

// A Verifier turns a bearer token into a verified Identity. Errors wrap one of
// the sentinel errors of this package (ErrExpired, ErrBadAudience, ...), so
// callers can tell them apart with errors.Is; ErrKeysUnavailable and
// ErrVerifierUnavailable mean the token could not be judged at all.
//
// Implementations must be safe for concurrent use.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Identity, error)
}

// VerifierFunc adapts a function to the Verifier interface.
type VerifierFunc func(ctx context.Context, token string) (*Identity, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, token string) (*Identity, error) {
	return f(ctx, token)
}

// An AudienceReporter is a Verifier that can say which audiences it
// accepts, so that whoever serves it can check them against its own URL at
// start-up (mcpserver.New warns when none is the MCP server's PublicURL).
// JWTVerifier and IntrospectionVerifier implement it.
type AudienceReporter interface {
	// Audiences returns the configured audiences, as configured; a token
	// naming one of them, or one of them with a trailing "/" added or
	// removed, passes the audience check. The caller may modify the slice.
	Audiences() []string
}

// ctxKey is the context key of the caller's identity; audit.Middleware's
// context node answers it too once it holds the identity (see
// withIdentity).
type ctxKey = reqctx.IdentityKey

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the Identity the middleware stored in ctx, if any.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*Identity)
	return id, ok && id != nil
}
