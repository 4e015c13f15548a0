package identity_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
)

func TestBearerToken(t *testing.T) {
	const tok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln-_~+/=="
	tests := []struct {
		name    string
		target  string   // request target; default "/"
		headers []string // Authorization header values, one field each
		want    string
		wantErr error
	}{
		{name: "bearer", headers: []string{"Bearer " + tok}, want: tok},
		{name: "lower-case scheme", headers: []string{"bearer abc"}, want: "abc"},
		{name: "upper-case scheme", headers: []string{"BEARER abc"}, want: "abc"},
		{name: "mixed-case scheme", headers: []string{"bEaReR abc"}, want: "abc"},
		{name: "several spaces", headers: []string{"Bearer    abc"}, want: "abc"},
		{name: "surrounding blanks", headers: []string{" \tBearer abc \t"}, want: "abc"},
		{name: "b64token padding", headers: []string{"Bearer abc=="}, want: "abc=="},
		{name: "unrelated query", target: "/?a=1&b=2", headers: []string{"Bearer abc"}, want: "abc"},
		{name: "query key that only starts alike", target: "/?access_tokens=1", headers: []string{"Bearer abc"}, want: "abc"},

		{name: "no header", wantErr: identity.ErrMissingToken},
		{name: "empty header", headers: []string{""}, wantErr: identity.ErrMissingToken},
		{name: "blank header", headers: []string{"  "}, wantErr: identity.ErrMissingToken},
		{name: "basic scheme", headers: []string{"Basic dXNlcjpwYXNz"}, wantErr: identity.ErrMissingToken},
		{name: "scheme with bearer prefix", headers: []string{"Bearerabc"}, wantErr: identity.ErrMissingToken},
		{name: "DPoP scheme", headers: []string{"DPoP abc"}, wantErr: identity.ErrMissingToken},

		{name: "bearer without token", headers: []string{"Bearer"}, wantErr: identity.ErrInvalidRequest},
		{name: "bearer and spaces", headers: []string{"Bearer   "}, wantErr: identity.ErrInvalidRequest},
		{name: "tab separator", headers: []string{"Bearer\tabc"}, wantErr: identity.ErrInvalidRequest},
		{name: "space inside token", headers: []string{"Bearer abc def"}, wantErr: identity.ErrInvalidRequest},
		{name: "two bearer credentials", headers: []string{"Bearer abc, Bearer def"}, wantErr: identity.ErrInvalidRequest},
		{name: "quoted token", headers: []string{`Bearer "abc"`}, wantErr: identity.ErrInvalidRequest},
		{name: "padding in the middle", headers: []string{"Bearer ab=c"}, wantErr: identity.ErrInvalidRequest},
		{name: "only padding", headers: []string{"Bearer =="}, wantErr: identity.ErrInvalidRequest},
		{name: "non-ASCII", headers: []string{"Bearer abcé"}, wantErr: identity.ErrInvalidRequest},
		{name: "control byte", headers: []string{"Bearer ab\x00c"}, wantErr: identity.ErrInvalidRequest},
		{name: "two headers", headers: []string{"Bearer abc", "Bearer def"}, wantErr: identity.ErrInvalidRequest},
		{name: "two headers one basic", headers: []string{"Basic abc", "Bearer def"}, wantErr: identity.ErrInvalidRequest},
		{name: "query token", target: "/?access_token=abc", wantErr: identity.ErrInvalidRequest},
		{name: "query token empty", target: "/?access_token=", wantErr: identity.ErrInvalidRequest},
		{name: "query token no value", target: "/?x=1&access_token", wantErr: identity.ErrInvalidRequest},
		{name: "query token encoded key", target: "/?access%5Ftoken=abc", wantErr: identity.ErrInvalidRequest},
		{name: "query token sent two ways", target: "/?access_token=abc", headers: []string{"Bearer abc"}, wantErr: identity.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/"
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := identity.BearerToken(r)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Empty(t, got)
				for _, h := range tt.headers {
					if tok := strings.TrimSpace(strings.TrimPrefix(h, "Bearer")); tok != "" {
						require.NotContains(t, err.Error(), tok, "error echoes the token")
					}
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestBearerTokenOverHTTP checks extraction on requests as a real server
// receives them, after net/http has parsed the wire format.
func TestBearerTokenOverHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := identity.BearerToken(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(tok))
	}))
	defer srv.Close()

	tests := []struct {
		name       string
		query      string
		headers    []string
		wantStatus int
		wantBody   string
	}{
		{name: "token", headers: []string{"Bearer abc.def"}, wantStatus: 200, wantBody: "abc.def"},
		{name: "lower-case", headers: []string{"bearer abc"}, wantStatus: 200, wantBody: "abc"},
		{name: "trailing blanks trimmed by the server", headers: []string{"Bearer abc  "}, wantStatus: 200, wantBody: "abc"},
		{name: "two headers", headers: []string{"Bearer abc", "Bearer abc"}, wantStatus: 400},
		{name: "query", query: "?access_token=abc", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/"+tt.query, nil)
			require.NoError(t, err)
			for _, h := range tt.headers {
				req.Header.Add("Authorization", h)
			}
			res, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, tt.wantStatus, res.StatusCode)
			if tt.wantBody != "" {
				body, err := io.ReadAll(res.Body)
				require.NoError(t, err)
				require.Equal(t, tt.wantBody, string(body))
			}
		})
	}
}

func TestBearerTokenDoesNotAllocate(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/mcp?session=1", nil)
	r.Header.Set("Authorization", "Bearer abc.def.ghi")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := identity.BearerToken(r); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc", "")
	f.Add("bearer a.b.c==", "x=1")
	f.Add("Basic xyz", "access_token=1")
	f.Add("Bearer  a b", "access%5ftoken")
	f.Add("", "a=%zz&access_token")
	f.Add("Bearer\t\x00", "%")
	f.Fuzz(func(t *testing.T, header, query string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = query
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		tok, err := identity.BearerToken(r)
		if err != nil {
			if tok != "" {
				t.Fatalf("token %q returned with error %v", tok, err)
			}
			if !errorsIsOne(err, identity.ErrMissingToken, identity.ErrInvalidRequest) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n,\"") {
			t.Fatalf("bad token %q from %q", tok, header)
		}
		if !strings.Contains(header, tok) {
			t.Fatalf("token %q not in header %q", tok, header)
		}
		if strings.Contains(query, "access_token") {
			t.Fatalf("token accepted next to query %q", query)
		}
	})
}

func BenchmarkBearerToken(b *testing.B) {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImF1ZCI6Imh0dHBzOi8vbWNwLmV4YW1wbGUuY29tL21jcCJ9.c2lnbmF0dXJl")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := identity.BearerToken(r); err != nil {
			b.Fatal(err)
		}
	}
}

// errorsIsOne reports whether err wraps one of targets.
func errorsIsOne(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// isB64TokenChar agrees with the RFC 6750 grammar on every byte.
func TestB64TokenChars(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~+/", rune(c))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer a"+string([]byte{byte(c)})+"b")
		_, err := identity.BearerToken(r)
		require.Equal(t, want, err == nil, "byte %#x", c)
	}
}

// BenchmarkBearerTokenLong is BenchmarkBearerToken with a typical RS256
// access token of 900 bytes, the size the load harness sends.
func BenchmarkBearerTokenLong(b *testing.B) {
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9."+strings.Repeat("eyJzdWIiOiJhbGljZSJ9", 30)+"."+strings.Repeat("c2lnbmF0dXJl", 30))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := identity.BearerToken(r); err != nil {
			b.Fatal(err)
		}
	}
}
