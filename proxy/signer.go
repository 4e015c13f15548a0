package proxy

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/internal/nilcheck"
	"github.com/idgate/idgate/scopes"
)

// Bounds of SignerConfig.TTL.
const (
	// DefaultSignerTTL is the default SignerConfig.TTL.
	DefaultSignerTTL = 60 * time.Second
	// MaxSignerTTL is the longest SignerConfig.TTL allowed.
	MaxSignerTTL = 10 * time.Minute
)

// reservedClaims are set by the Signer itself and cannot be copied.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "scp", "permissions", "client_id", "azp", "act", "cnf"}

// authorityClaims carry authority a backend may grant on (RFC 9068
// §2.2.3.1's roles, groups and entitlements; how and when the user
// authenticated, RFC 9068 §2.2.1): CopyClaims may copy the user's own, but
// SignerConfig.Claims may not make them up.
var authorityClaims = []string{"roles", "groups", "entitlements", "acr", "amr", "auth_time"}

// SignerConfig configures a Signer. Issuer, Audience and Key are required.
type SignerConfig struct {
	// Issuer is the "iss" of the tokens: the gateway's own identifier, such
	// as its public URL. The backend's verifier is configured with it.
	// Required.
	Issuer string
	// Audience is the "aud" of the tokens: the backend's identifier.
	// Required.
	Audience string
	// Key signs the tokens: an RSA (2048 bits or more), ECDSA (P-256, P-384,
	// P-521) or Ed25519 private key, or any crypto.Signer over one, such as
	// a KMS key. Ed25519 and P-256 sign much faster than RSA. Required.
	Key crypto.Signer
	// KeyID is the "kid" in the token header and the JWKS. Default: the
	// key's RFC 7638 thumbprint.
	KeyID string
	// Algorithm is the JWS algorithm. Default: RS256 for RSA, ES256, ES384
	// or ES512 by curve for ECDSA, EdDSA for Ed25519. RSA keys also accept
	// RS384, RS512, PS256, PS384 and PS512; other keys only their default.
	Algorithm string
	// TTL is how long a token is valid. Default 60s; at most 10m. A token
	// is minted per call, so it only has to outlive one request. A token
	// never outlives the user's: when the identity has an expiry
	// (Identity.ExpiresAt) sooner than TTL from now, "exp" is that expiry.
	TTL time.Duration
	// CopyClaims names claims copied from the identity's token into the new
	// one when present, such as "email" and "name". Claims the Signer sets
	// itself (iss, sub, aud, exp, iat, nbf, jti, scope, scp, permissions,
	// client_id, azp, act, cnf) cannot be copied.
	CopyClaims []string
	// Scopes limits the "scope" claim: the token carries the user's scopes
	// (id.Scopes) that are also in this list. Empty: all the user's scopes.
	Scopes []string
	// ReuseFor, when positive, lets the Signer send a token it minted for
	// an identity again, to the calls made for that same identity during
	// ReuseFor after minting (up to a second less, as "exp" is in whole
	// seconds), instead of signing a new one per call. "The
	// same identity" is the same *identity.Identity: a verifier with a
	// token cache (identity.NewJWTVerifier's default) returns the same one
	// for every request carrying the same user token, and a new token of
	// the user's is a new identity. A reused token costs a map lookup
	// instead of a signature, and the backend's own verifier answers it
	// from its token cache instead of checking a signature again. ReuseFor
	// must be at most half of TTL, so that a token sent is always valid for
	// at least TTL-ReuseFor more (or, when the user's token expires
	// sooner, as long as a new one would be: both end at the user's
	// expiry; a token is never sent again once past its "exp"). With it, Claims must depend on the
	// identity only, and tokens reused share their jti: leave ReuseFor at
	// zero for a backend that refuses a jti it has seen. At most
	// SignerReuseMaxEntries tokens are kept. Default 0: a new token for
	// every call.
	ReuseFor time.Duration
	// Claims, when set, is called for every token and returns further
	// claims to put in it, such as facts about the user's own token that
	// the backend should see ("user_iss", "user_exp"). It must not return
	// a claim the Signer sets itself or that carries authority (iss, sub,
	// aud, exp, iat, nbf, jti, scope, scp, permissions, client_id, azp,
	// act, cnf, roles, groups, entitlements, acr, amr, auth_time): such a
	// token is not signed and Apply fails with ErrSignFailed, so that a
	// hook cannot widen what the backend grants through those claims
	// (copy the user's own with CopyClaims). A backend that grants on
	// another claim must not let this hook set it. Values must encode as JSON. It runs after CopyClaims and
	// overrides claims copied under the same name. It must be safe for
	// concurrent use. Default: nil, no further claims.
	Claims func(id *identity.Identity) map[string]any
}

// Signer is a Credential that mints, per call, a short-lived JWT access
// token (RFC 9068: header typ "at+jwt") for one backend, signed by the
// gateway: iss = Issuer, aud = Audience, sub = the user's subject, the
// user's scopes in "scope", the client in "client_id", iat, exp (TTL from
// now, but never after the user's own token expires) and a random jti. The backend verifies it against the Signer's JWKS (JWKS,
// JWKSHandler), for example with identity.NewJWTVerifier. The user's own
// token is not sent. A Signer is safe for concurrent use.
type Signer struct {
	issuer   string
	audience string
	key      crypto.Signer
	alg      algorithm
	header   string // base64url of the JOSE header, with the trailing "."
	ttl      time.Duration
	copy     []string
	claims   func(*identity.Identity) map[string]any
	scopes   scopes.Set // empty: no filter
	jwks     []byte
	now      func() time.Time
	reuse    *mintedTokens // nil: a token per call
	reuseFor time.Duration
}

// algorithm is a JWS algorithm and how to produce it with a crypto.Signer.
type algorithm struct {
	name   string
	hash   crypto.Hash // 0 for EdDSA, which signs the message itself
	pss    bool
	ecSize int // coordinate size for ECDSA, 0 otherwise
}

// NewSigner checks cfg and returns a Signer.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("proxy: SignerConfig.Issuer is required (the gateway's identifier)")
	case cfg.Audience == "":
		return nil, errors.New("proxy: SignerConfig.Audience is required (the backend's identifier)")
	case nilcheck.IsNil(cfg.Key):
		return nil, errors.New("proxy: SignerConfig.Key is required")
	}
	ttl := cmp.Or(cfg.TTL, DefaultSignerTTL)
	if ttl < time.Second || ttl > MaxSignerTTL {
		return nil, fmt.Errorf("proxy: SignerConfig.TTL %v must be between 1s and %v", cfg.TTL, MaxSignerTTL)
	}
	if cfg.ReuseFor < 0 || cfg.ReuseFor > ttl/2 {
		return nil, fmt.Errorf("proxy: SignerConfig.ReuseFor %v must be between 0 and half the TTL (%v)", cfg.ReuseFor, ttl/2)
	}
	pub := cfg.Key.Public()
	alg, err := algorithmFor(pub, cfg.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("proxy: SignerConfig.Key: %w", err)
	}
	for _, c := range cfg.CopyClaims {
		if c == "" || slices.Contains(reservedClaims, c) {
			return nil, fmt.Errorf("proxy: SignerConfig.CopyClaims cannot copy %q: the Signer sets it", c)
		}
	}
	for _, sc := range cfg.Scopes {
		// An empty entry would leave an empty set, which means "all the
		// user's scopes": a list meant to narrow the token would widen it.
		if !scopes.ValidScope(sc) {
			return nil, fmt.Errorf("proxy: SignerConfig.Scopes has an invalid scope %q", sc)
		}
	}
	k, err := publicJWK(pub)
	if err != nil {
		return nil, fmt.Errorf("proxy: SignerConfig.Key: %w", err)
	}
	k.Kid = cmp.Or(cfg.KeyID, k.thumbprint())
	k.Use, k.Alg = "sig", alg.name
	jwks, err := json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{[]jwk{k}})
	if err != nil {
		return nil, fmt.Errorf("proxy: encode JWKS: %w", err)
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg.name, k.Kid, "at+jwt"})
	if err != nil {
		return nil, fmt.Errorf("proxy: encode JOSE header: %w", err)
	}
	var reuse *mintedTokens
	if cfg.ReuseFor > 0 {
		reuse = newMintedTokens(cfg.ReuseFor, SignerReuseMaxEntries)
	}
	return &Signer{
		reuse:    reuse,
		reuseFor: cfg.ReuseFor,
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		key:      cfg.Key,
		alg:      alg,
		header:   b64.EncodeToString(header) + ".",
		ttl:      ttl,
		copy:     slices.Clone(cfg.CopyClaims),
		claims:   cfg.Claims,
		scopes:   scopes.Of(cfg.Scopes...),
		jwks:     jwks,
		now:      time.Now,
	}, nil
}

// algorithmFor picks the JWS algorithm for pub: name, or the key's default
// when name is empty.
func algorithmFor(pub crypto.PublicKey, name string) (algorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return algorithm{}, fmt.Errorf("RSA key has %d bits, want at least 2048", k.N.BitLen())
		}
		hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
		name = cmp.Or(name, "RS256")
		if len(name) == 5 && (name[:2] == "RS" || name[:2] == "PS") {
			if h, ok := hashes[name[2:]]; ok {
				return algorithm{name: name, hash: h, pss: name[0] == 'P'}, nil
			}
		}
	case *ecdsa.PublicKey:
		crv, size, err := curveOf(k.Curve)
		if err != nil {
			return algorithm{}, err
		}
		def := map[string]algorithm{
			"P-256": {name: "ES256", hash: crypto.SHA256, ecSize: size},
			"P-384": {name: "ES384", hash: crypto.SHA384, ecSize: size},
			"P-521": {name: "ES512", hash: crypto.SHA512, ecSize: size},
		}[crv]
		if name == "" || name == def.name {
			return def, nil
		}
	case ed25519.PublicKey:
		if name == "" || name == "EdDSA" {
			return algorithm{name: "EdDSA"}, nil
		}
	default:
		return algorithm{}, fmt.Errorf("unsupported key type %T (want RSA, ECDSA or Ed25519)", pub)
	}
	return algorithm{}, fmt.Errorf("algorithm %q does not fit a %T key", name, pub)
}

// Apply sets "Authorization: Bearer" to a new token for id. Errors wrap
// ErrNoIdentity or ErrSignFailed.
func (s *Signer) Apply(ctx context.Context, req *http.Request, id *identity.Identity) error {
	tok, err := s.Token(ctx, id)
	if err != nil {
		return err
	}
	setBearer(req, tok)
	return nil
}

// Token mints a token for id (or, with ReuseFor, returns the one minted for
// id moments ago), for callers that reach the backend other than over HTTP.
// It is a credential: never log it.
func (s *Signer) Token(_ context.Context, id *identity.Identity) (string, error) {
	if id == nil {
		return "", ErrNoIdentity
	}
	if id.Subject == "" {
		return "", fmt.Errorf("%w: identity has no subject", ErrSignFailed)
	}
	now := s.now()
	exp := now.Add(s.ttl)
	userExp := !id.ExpiresAt.IsZero() && id.ExpiresAt.Before(exp)
	if userExp {
		exp = id.ExpiresAt // never outlive the user's token
	}
	exp = time.Unix(exp.Unix(), 0) // as "exp" says it
	if s.reuse == nil {
		return s.mint(id, now, exp)
	}
	if tok, ok := s.reuse.get(id, now); ok {
		return tok, nil
	}
	tok, err := s.mint(id, now, exp)
	if err == nil {
		// Reused while it has TTL-ReuseFor left by its "exp", which is in
		// whole seconds, up to one short of now+TTL. A token ending with
		// the user's is reused until then: a new one would end there too.
		till := exp
		if !userExp {
			till = exp.Add(s.reuseFor - s.ttl)
		}
		s.reuse.put(id, tok, now, till, exp)
	}
	return tok, err
}

// mint signs a new token for id, issued at now, expiring at exp.
func (s *Signer) mint(id *identity.Identity, now, exp time.Time) (string, error) {
	claims := make(map[string]any, 8+len(s.copy))
	for _, name := range s.copy {
		if v, ok := claimOf(id, name); ok {
			claims[name] = v
		}
	}
	if s.claims != nil {
		for name, v := range s.claims(id) {
			if name == "" || slices.Contains(reservedClaims, name) || slices.Contains(authorityClaims, name) {
				return "", fmt.Errorf("%w: SignerConfig.Claims returned %q, which the Signer sets or which carries authority", ErrSignFailed, name)
			}
			claims[name] = v
		}
	}
	claims["iss"] = s.issuer
	claims["sub"] = id.Subject
	claims["aud"] = s.audience
	claims["iat"] = now.Unix()
	claims["exp"] = exp.Unix()
	claims["jti"] = rand.Text()
	if sc := s.scopesFor(id.Scopes); sc != "" {
		claims["scope"] = sc
	}
	if id.ClientID != "" {
		claims["client_id"] = id.ClientID
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("%w: encode claims: %w", ErrSignFailed, err)
	}
	var b strings.Builder
	b.Grow(len(s.header) + b64.EncodedLen(len(payload)) + 1 + 350)
	b.WriteString(s.header)
	b.WriteString(b64.EncodeToString(payload))
	sig, err := s.sign(b.String())
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSignFailed, err)
	}
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(sig))
	return b.String(), nil
}

// claimOf returns the named claim of id's token, falling back to the Email
// and Name fields for "email" and "name".
func claimOf(id *identity.Identity, name string) (any, bool) {
	if v, ok := id.Claims[name]; ok {
		return v, true
	}
	switch {
	case name == "email" && id.Email != "":
		return id.Email, true
	case name == "name" && id.Name != "":
		return id.Name, true
	}
	return nil, false
}

// scopesFor returns the "scope" claim for a user with scopes granted.
func (s *Signer) scopesFor(granted scopes.Set) string {
	if s.scopes.Len() == 0 {
		return granted.String()
	}
	var kept []string
	for sc := range granted.All {
		if s.scopes.Has(sc) {
			kept = append(kept, sc)
		}
	}
	return strings.Join(kept, " ")
}

// sign returns the JWS signature of the signing input.
func (s *Signer) sign(input string) ([]byte, error) {
	if s.alg.hash == 0 { // EdDSA signs the message itself
		return s.key.Sign(rand.Reader, []byte(input), crypto.Hash(0))
	}
	h := s.alg.hash.New()
	h.Write([]byte(input))
	digest := h.Sum(nil)
	var opts crypto.SignerOpts = s.alg.hash
	if s.alg.pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.alg.hash}
	}
	sig, err := s.key.Sign(rand.Reader, digest, opts)
	if err != nil || s.alg.ecSize == 0 {
		return sig, err
	}
	return ecdsaJOSE(sig, s.alg.ecSize)
}

// ecdsaJOSE turns an ASN.1 DER ECDSA signature, as crypto.Signer returns
// it, into the JWS form: R and S as fixed-size big-endian integers.
func ecdsaJOSE(der []byte, size int) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &rs)
	if err != nil || len(rest) != 0 || rs.R == nil || rs.S == nil {
		return nil, errors.New("ecdsa signature is not ASN.1 (r, s)")
	}
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*size || rs.S.BitLen() > 8*size {
		return nil, errors.New("ecdsa signature out of range")
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// JWKS returns the Signer's public key as a JSON Web Key Set. The caller
// must not modify the result.
func (s *Signer) JWKS() []byte { return s.jwks }

// JWKSHandler serves JWKS on GET and HEAD, for the backend's verifier to
// fetch (for example identity.JWTConfig's JWKS URL). It sets a five-minute
// public cache lifetime.
func (s *Signer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Length", fmt.Sprint(len(s.jwks)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(s.jwks) // an error means the client went away
		}
	})
}
