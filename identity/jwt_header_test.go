package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
)

// rawHeaderIssuer signs tokens whose header is given byte for byte, which
// identitytest (encoding a map) cannot produce: duplicate members, or
// members whose names differ from "alg", "typ", "kid", "crit" only in case.
type rawHeaderIssuer struct {
	key     *rsa.PrivateKey
	jwksURL string
}

const (
	rawIssuer   = "https://issuer.example.com"
	rawAudience = "https://mcp.example.com/mcp"
	rawKeyID    = "k1"
)

// newRawHeaderIssuer serves one RSA key, published for RS256, at a JWKS
// URL.
func newRawHeaderIssuer(t *testing.T) *rawHeaderIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": rawKeyID, "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return &rawHeaderIssuer{key: key, jwksURL: srv.URL}
}

// mint signs header (raw JSON) and valid claims with method.
func (r *rawHeaderIssuer) mint(t *testing.T, method jwt.SigningMethod, header string) string {
	t.Helper()
	claims, err := json.Marshal(map[string]any{
		"iss": rawIssuer, "sub": "alice", "aud": rawAudience,
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	require.NoError(t, err)
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64([]byte(header)) + "." + b64(claims)
	sig, err := method.Sign(input, r.key)
	require.NoError(t, err)
	return input + "." + b64(sig)
}

// The header is read with exact member names, as golang-jwt reads it, and
// a duplicate member makes it malformed: otherwise encoding/json's
// case-insensitive struct matching could check one "alg" (or "typ",
// "crit", "kid") while the signature is verified under another.
func TestJWTVerifierHeaderMemberNames(t *testing.T) {
	iss := newRawHeaderIssuer(t)
	cases := []struct {
		name        string
		method      jwt.SigningMethod
		header      string
		requireType string
		want        error // nil: accepted
	}{
		{"plain header", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"k1","typ":"JWT"}`, "", nil},
		{"escaped member name", jwt.SigningMethodRS256, `{"\u0061lg":"RS256","kid":"k1"}`, "", nil},
		{"unknown member in other case is ignored", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"k1","ALG":"none"}`, "", nil},
		{"Alg claims the key's algorithm, alg signs with another", jwt.SigningMethodPS256,
			`{"alg":"PS256","Alg":"RS256","kid":"k1"}`, "", identity.ErrBadAlgorithm},
		{"ALG claims the key's algorithm, alg signs with another", jwt.SigningMethodPS256,
			`{"alg":"PS256","kid":"k1","ALG":"RS256"}`, "", identity.ErrBadAlgorithm},
		{"TYP claims at+jwt, typ says JWT", jwt.SigningMethodRS256,
			`{"alg":"RS256","kid":"k1","typ":"JWT","TYP":"at+jwt"}`, "at+jwt", identity.ErrBadType},
		{"Crit null hides crit", jwt.SigningMethodRS256,
			`{"alg":"RS256","kid":"k1","crit":["exp-ext"],"exp-ext":true,"Crit":null}`, "", identity.ErrUnsupportedHeader},
		{"KID names the key, kid another", jwt.SigningMethodRS256,
			`{"alg":"RS256","kid":"other","KID":"k1"}`, "", identity.ErrUnknownKey},
		{"alg twice, same value", jwt.SigningMethodRS256, `{"alg":"RS256","alg":"RS256","kid":"k1"}`, "", identity.ErrMalformedToken},
		{"alg twice, last one signs", jwt.SigningMethodPS256, `{"alg":"RS256","kid":"k1","alg":"PS256"}`, "", identity.ErrMalformedToken},
		{"alg twice, once escaped", jwt.SigningMethodPS256, `{"alg":"RS256","kid":"k1","\u0061lg":"PS256"}`, "", identity.ErrMalformedToken},
		{"typ twice", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"k1","typ":"JWT","typ":"at+jwt"}`, "at+jwt", identity.ErrMalformedToken},
		{"crit twice", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"k1","crit":["x"],"crit":null}`, "", identity.ErrMalformedToken},
		{"kid twice", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"other","kid":"k1"}`, "", identity.ErrMalformedToken},
		{"unknown member twice", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"k1","x":1,"x":2}`, "", identity.ErrMalformedToken},
		{"duplicate inside a nested object is not the header's", jwt.SigningMethodRS256,
			`{"alg":"RS256","kid":"k1","ext":{"a":1,"a":2}}`, "", nil},
		{"commas, braces and escaped quotes inside strings", jwt.SigningMethodRS256,
			`{"alg":"RS256","kid":"k1","x":"a,\"}b,\\","y":[1,{"z":","}]}`, "", nil},
		{"whitespace around members", jwt.SigningMethodRS256, " {\n\t\"alg\" : \"RS256\" ,\r\n \"kid\":\"k1\" } ", "", nil},
		{"empty header", jwt.SigningMethodRS256, `{}`, "", identity.ErrMalformedToken},
		{"kid not a string", jwt.SigningMethodRS256, `{"alg":"RS256","kid":1}`, "", identity.ErrMalformedToken},
		{"typ not a string", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"k1","typ":["JWT"]}`, "", identity.ErrMalformedToken},
		{"header an array", jwt.SigningMethodRS256, `[{"alg":"RS256","kid":"k1"}]`, "", identity.ErrMalformedToken},
		{"trailing data after the header", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"k1"} {}`, "", identity.ErrMalformedToken},
		{"unterminated header", jwt.SigningMethodRS256, `{"alg":"RS256","kid":"k1"`, "", identity.ErrMalformedToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
				Issuer:      rawIssuer,
				Audiences:   []string{rawAudience},
				JWKSURL:     iss.jwksURL,
				RequireType: tc.requireType,
			})
			require.NoError(t, err)
			t.Cleanup(v.Close)
			tok := iss.mint(t, tc.method, tc.header)
			id, err := v.Verify(context.Background(), tok)
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, "alice", id.Subject)
				return
			}
			require.Nil(t, id)
			requireVerifyError(t, err, tc.want, tok)
		})
	}
}
