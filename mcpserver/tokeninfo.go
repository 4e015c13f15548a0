package mcpserver

import (
	"context"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
)

// Keys of auth.TokenInfo.Extra that idgate sets.
const (
	// TokenInfoIdentityKey holds the caller's *identity.Identity.
	TokenInfoIdentityKey = "identity"
	// tokenInfoAuditKey holds the *audit.Entry of the HTTP request that
	// carried the message: in stateful mode a tool handler's context is
	// that of the request that opened the session, so the entry cannot be
	// read from it.
	tokenInfoAuditKey = "idgate.audit"
	// tokenInfoBatchKey holds the request's *batchCalls when the message
	// came in a JSON-RPC batch carrying tool calls, each of which is
	// audited apart.
	tokenInfoBatchKey = "idgate.batch"
)

// passThroughSkew neutralises go-sdk's own expiry check: the identity layer
// has already judged the token, with its configured leeway, and is the only
// judge.
const passThroughSkew = 24 * time.Hour

// bindSession ends the chain in auth.RequireBearerToken with a verifier
// that does no verification of its own: it converts the identity the
// identity middleware already verified into the auth.TokenInfo go-sdk
// reads. go-sdk then hands it to handlers as req.Extra.TokenInfo, fresh on
// every POST, and binds each session to TokenInfo.UserID
// ("<issuer>|<subject>"), refusing another user's token on it (SPEC 23).
//
// auth.RequireBearerToken splits the Authorization header with
// strings.Fields before it calls the verifier: over a JWT of ~1 KB that was
// about 1.5 µs, a tenth of the chain's own work (BenchmarkChain), spent on
// a token already parsed and verified. So a placeholder goes in front of
// the header's value while go-sdk's middleware parses it (it reads the
// first value), and the verifier, which go-sdk calls right after, takes it
// off again before anything else reads the header (go-sdk hands the header
// map to tool handlers as req.Extra.Header). A request without an identity
// (OPTIONS) goes through unchanged.
func bindSession(next http.Handler) http.Handler {
	sdk := auth.RequireBearerToken(func(ctx context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		if v := r.Header[headerAuthorization]; len(v) > 1 && v[0] == placeholderAuthorization {
			r.Header[headerAuthorization] = v[1:]
		}
		return passThrough(ctx)
	}, &auth.RequireBearerTokenOptions{
		AllowMissingExpiration: true,
		ClockSkew:              passThroughSkew,
	})(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := identity.FromContext(r.Context()); ok {
			// The identity middleware accepted exactly one Authorization
			// header.
			r.Header[headerAuthorization] = append([]string{placeholderAuthorization}, r.Header[headerAuthorization]...)
		}
		sdk.ServeHTTP(w, r)
	})
}

// headerAuthorization is the canonical key of the Authorization header.
const headerAuthorization = "Authorization"

// placeholderAuthorization is what go-sdk's middleware parses instead of
// the request's token.
const placeholderAuthorization = "Bearer -"

// passThrough returns the auth.TokenInfo of the identity in ctx.
func passThrough(ctx context.Context) (*auth.TokenInfo, error) {
	return passThroughAs(ctx, "")
}

// passThroughAs is passThrough with the identity's userKey when the caller
// has it already ("" to build it): the key of the session a call is on,
// which the direct transport has checked is the identity's.
func passThroughAs(ctx context.Context, user string) (*auth.TokenInfo, error) {
	id, ok := identity.FromContext(ctx)
	if !ok {
		// Unreachable behind the identity middleware; refuse all the same.
		return nil, auth.ErrInvalidToken
	}
	if user == "" {
		user = userKey(id)
	}
	extra := map[string]any{TokenInfoIdentityKey: id}
	if e := audit.EntryFrom(ctx); e != nil {
		extra[tokenInfoAuditKey] = e
		if b, ok := ctx.Value(batchKey{}).(*batchCalls); ok {
			extra[tokenInfoBatchKey] = b
		}
	}
	ti := new(tokenInfo)
	ti.TokenInfo = auth.TokenInfo{
		Expiration: id.ExpiresAt,
		UserID:     user,
		Extra:      extra,
	}
	if n := id.Scopes.Len(); n == 0 {
		// nil, as Scopes.List gives it.
	} else if n <= len(ti.scopes) {
		i := 0
		for sc := range id.Scopes.All {
			ti.scopes[i] = sc
			i++
		}
		// Capped: a handler's append copies instead of writing past them.
		ti.Scopes = ti.scopes[:n:n]
	} else {
		ti.Scopes = id.Scopes.List()
	}
	return &ti.TokenInfo, nil
}

// tokenInfo is an auth.TokenInfo with room for its scopes, so that the
// scopes of most tokens take no allocation of their own.
type tokenInfo struct {
	auth.TokenInfo
	scopes [4]string
}

// userKey is the identifier sessions and rate limits are bound to: issuer
// and subject, since a subject is unique only per issuer.
func userKey(id *identity.Identity) string { return id.Issuer + "|" + id.Subject }

// IdentityFrom returns the verified identity of the caller of a tool: the
// one whose token came with this very tools/call (req.Extra.TokenInfo,
// refreshed on every POST), never the one that opened the session. It
// returns nil when the server runs with InsecureDisableAuth. The
// handler's context carries the same identity (identity.FromContext), for
// code that takes the caller from a context, such as proxy.Transport.
func IdentityFrom(req *mcp.CallToolRequest) *identity.Identity {
	if req == nil {
		return nil
	}
	return identityOf(req)
}

// identityOf returns the identity carried by any server request.
func identityOf(req mcp.Request) *identity.Identity {
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil {
		return nil
	}
	id, _ := extra.TokenInfo.Extra[TokenInfoIdentityKey].(*identity.Identity)
	return id
}

// sdkTokenInfoProbe is a context in which go-sdk's auth.TokenInfoFromContext
// finds sdkTokenInfoSentinel: its key is unexported, so a context of
// idgate's can only recognise it by asking this one (isSDKTokenInfoKey).
var sdkTokenInfoProbe, sdkTokenInfoSentinel = probeSDKTokenInfoKey()

// probeSDKTokenInfoKey runs a request through go-sdk's own bearer-token
// middleware and returns the context it hands on, with the TokenInfo it
// carries.
func probeSDKTokenInfoKey() (context.Context, *auth.TokenInfo) {
	sentinel := &auth.TokenInfo{UserID: "idgate-probe"}
	var probe context.Context
	h := auth.RequireBearerToken(func(context.Context, string, *http.Request) (*auth.TokenInfo, error) { return sentinel, nil },
		&auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		probe = r.Context()
	}))
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		return nil, sentinel
	}
	r.Header.Set(headerAuthorization, "Bearer probe")
	h.ServeHTTP(probeWriter{}, r)
	return probe, sentinel
}

// probeWriter is the ResponseWriter of probeSDKTokenInfoKey's request.
type probeWriter struct{}

func (probeWriter) Header() http.Header         { return http.Header{} }
func (probeWriter) Write(p []byte) (int, error) { return len(p), nil }
func (probeWriter) WriteHeader(int)             {}

// isSDKTokenInfoKey reports whether key is the one go-sdk's
// auth.TokenInfoFromContext looks up.
func isSDKTokenInfoKey(key any) bool {
	return sdkTokenInfoProbe != nil && sdkTokenInfoProbe.Value(key) == any(sdkTokenInfoSentinel)
}

// sdkTokenInfoContext answers go-sdk's auth.TokenInfoFromContext with ti:
// the direct transports do not run go-sdk's bearer-token middleware, whose
// context carries it on go-sdk's transport.
type sdkTokenInfoContext struct {
	context.Context
	ti *auth.TokenInfo
}

func (c *sdkTokenInfoContext) Value(key any) any {
	if isSDKTokenInfoKey(key) {
		return c.ti
	}
	return c.Context.Value(key)
}

// withSDKTokenInfo returns ctx in which auth.TokenInfoFromContext gives
// req's TokenInfo, as on go-sdk's transport: ctx itself when it does
// already (no allocation).
func withSDKTokenInfo(ctx context.Context, req mcp.Request) context.Context {
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil || auth.TokenInfoFromContext(ctx) == extra.TokenInfo {
		return ctx
	}
	return &sdkTokenInfoContext{Context: ctx, ti: extra.TokenInfo}
}

// batchOf returns the calls of the JSON-RPC batch carrying tool calls in
// which req came (tokenInfoBatchKey), or nil when it came alone.
func batchOf(req mcp.Request) *batchCalls {
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil {
		return nil
	}
	b, _ := extra.TokenInfo.Extra[tokenInfoBatchKey].(*batchCalls)
	return b
}

// auditEntryOf returns the audit entry of the HTTP request that carried
// req, or nil.
func auditEntryOf(req mcp.Request) *audit.Entry {
	extra := req.GetExtra()
	if extra == nil || extra.TokenInfo == nil {
		return nil
	}
	e, _ := extra.TokenInfo.Extra[tokenInfoAuditKey].(*audit.Entry)
	return e
}
