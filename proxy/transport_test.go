package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
)

func TestTransport(t *testing.T) {
	elsewhere := newBackend(t, nil)
	tests := []struct {
		name      string
		id        *identity.Identity // put in the request context when not nil
		handler   http.HandlerFunc
		wantErr   error
		wantAuth  string // Authorization seen by the backend
		elsewhere string // Authorization seen by the redirect target; "-" if not reached
	}{
		{name: "forwarded", id: withAud(mcpAud), wantAuth: "Bearer " + userToken, elsewhere: "-"},
		{name: "no identity", wantErr: proxy.ErrNoIdentity, elsewhere: "-"},
		{name: "audience mismatch", id: withAud("https://other.example.com"), wantErr: proxy.ErrAudienceMismatch, elsewhere: "-"},
		{
			name: "redirect to another host loses the credential", id: withAud(mcpAud),
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.srv.URL+"/landing", http.StatusFound)
			},
			wantAuth: "Bearer " + userToken, elsewhere: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t, tt.handler)
			hc := &http.Client{Transport: &proxy.Transport{Credential: proxy.Forward(mcpAud)}}
			ctx := context.Background()
			if tt.id != nil {
				ctx = identity.NewContext(ctx, tt.id)
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, be.srv.URL+"/x", nil)
			require.NoError(t, err)
			resp, err := hc.Do(req)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Zero(t, be.calls.Load())
				return
			}
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			h, _ := be.last()
			require.Equal(t, tt.wantAuth, h.Get("Authorization"))
			require.Empty(t, req.Header.Get("Authorization"), "the caller's request is not modified")
			if tt.elsewhere == "-" {
				return
			}
			eh, _ := elsewhere.last()
			require.Equal(t, tt.elsewhere, eh.Get("Authorization"))
		})
	}
}

func TestTransportSameHostRedirectKeepsCredential(t *testing.T) {
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	hc := &http.Client{Transport: &proxy.Transport{Credential: proxy.Forward(mcpAud)}}
	req, err := http.NewRequestWithContext(identity.NewContext(context.Background(), withAud(mcpAud)), http.MethodGet, be.srv.URL+"/old", nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	h, path := be.last()
	require.Equal(t, "/new", path)
	require.Equal(t, "Bearer "+userToken, h.Get("Authorization"))
	require.EqualValues(t, 2, be.calls.Load())
}

// TestTransportRedirectChainKeepsCredentialHome: after a redirect to
// another host, a further redirect within that host is still not the
// backend's: the credential goes to neither hop.
func TestTransportRedirectChainKeepsCredentialHome(t *testing.T) {
	other := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/first":
			http.Redirect(w, r, "/second?"+r.URL.RawQuery, http.StatusFound)
		case "/second":
			http.Redirect(w, r, r.URL.Query().Get("home")+"/back", http.StatusFound)
		}
	})
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/back" {
			io.WriteString(w, "home")
			return
		}
		http.Redirect(w, r, other.srv.URL+"/first?home="+url.QueryEscape("http://"+r.Host), http.StatusFound)
	})
	hc := &http.Client{Transport: &proxy.Transport{Credential: proxy.Forward(mcpAud)}}
	req, err := http.NewRequestWithContext(identity.NewContext(context.Background(), withAud(mcpAud)), http.MethodGet, be.srv.URL+"/x", nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	h, path := other.last()
	require.True(t, strings.HasPrefix(path, "/second?"), path)
	require.Empty(t, h.Get("Authorization"), "the user's token reached a host that is not the backend")
	// The chain came back to the backend, on a path another host chose:
	// still no credential.
	h, path = be.last()
	require.Equal(t, "/back", path)
	require.Empty(t, h.Get("Authorization"), "a chain that left the backend carries no credential back to it")
}

// recordRT records the URL and Authorization of each request it is given,
// and answers 200.
type recordRT struct{ auth []string }

func (r *recordRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.auth = append(r.auth, req.URL.String()+" "+req.Header.Get("Authorization"))
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Header: http.Header{}, Request: req}, nil
}

// TestTransportPlainHTTP: a credential is not sent in clear to a host that
// is not loopback, unless InsecureAllowHTTP says so; loopback is allowed.
func TestTransportPlainHTTP(t *testing.T) {
	ctx := identity.NewContext(context.Background(), withAud(mcpAud))
	get := func(tr *proxy.Transport, u string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		require.NoError(t, err)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	rt := &recordRT{}
	err := get(&proxy.Transport{Base: rt, Credential: proxy.Forward(mcpAud)}, "http://crm.internal/api/x")
	require.ErrorContains(t, err, "not sent in clear")
	require.Empty(t, rt.auth, "nothing was sent")

	require.NoError(t, get(&proxy.Transport{Base: rt, Credential: proxy.Forward(mcpAud), InsecureAllowHTTP: true}, "http://crm.internal/api/x"))
	require.NoError(t, get(&proxy.Transport{Base: rt, Credential: proxy.Forward(mcpAud)}, "http://127.0.0.1:8080/api/x"))
	require.NoError(t, get(&proxy.Transport{Base: rt, Credential: proxy.Forward(mcpAud)}, "https://crm.internal/api/x"))
	require.Len(t, rt.auth, 3)
	for _, a := range rt.auth {
		require.Contains(t, a, "Bearer "+userToken)
	}
}

// TestTransportTypedNilCredential: a nil *Signer (a constructor's result
// whose error was ignored) is no credential: an error, not a panic.
func TestTransportTypedNilCredential(t *testing.T) {
	be := newBackend(t, nil)
	hc := &http.Client{Transport: &proxy.Transport{Credential: (*proxy.Signer)(nil)}}
	req, err := http.NewRequestWithContext(identity.NewContext(context.Background(), withAud(mcpAud)), http.MethodGet, be.srv.URL+"/x", nil)
	require.NoError(t, err)
	require.NotPanics(t, func() { _, err = hc.Do(req) })
	require.ErrorContains(t, err, "Transport.Credential is required")
}

func TestTransportReplacesCallersAuthorization(t *testing.T) {
	be := newBackend(t, nil)
	hc := &http.Client{Transport: &proxy.Transport{Credential: proxy.Forward(mcpAud)}}
	req, err := http.NewRequestWithContext(identity.NewContext(context.Background(), withAud(mcpAud)), http.MethodGet, be.srv.URL, nil)
	require.NoError(t, err)
	req.Header["authorization"] = []string{"Bearer someone-elses"} // not canonical: Header.Del would miss it
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	h, _ := be.last()
	require.Equal(t, []string{"Bearer " + userToken}, h.Values("Authorization"))
	//lint:ignore SA1008 the non-canonical key set above
	require.Equal(t, []string{"Bearer someone-elses"}, req.Header["authorization"], "the caller's request is not modified")
}
