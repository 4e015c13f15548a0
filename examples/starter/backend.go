package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
)

// gatewayJWKSPath is where the gateway publishes the public key of the
// tokens it signs for the backend.
const gatewayJWKSPath = "/.well-known/gateway-jwks.json"

// backendTimeout bounds each call to the backend.
const backendTimeout = 10 * time.Second

// backend calls the demo backend on users' behalf, with a short-lived token
// the gateway signs for it (proxy.Signer): the user's own token never
// leaves the gateway.
type backend struct {
	client *proxy.Client
	signer *proxy.Signer
	log    *slog.Logger
	// local is the in-process backend; nil when DEMO_API_URL names another.
	local *localBackend
}

// localBackend is the demo backend run inside the gateway's process, on a
// loopback listener of its own, so that calls to it cross a real HTTP hop
// and keep working while the public server shuts down.
type localBackend struct {
	// handler is the demoapi handler, also mounted at /demo on the public
	// server.
	handler  http.Handler
	server   *http.Server
	verifier *identity.JWTVerifier
}

// newBackend sets up the calls to the backend: at DEMO_API_URL, or to a
// demoapi handler started here on the data in st.
func newBackend(ctx context.Context, cfg *config, st store.Store, log *slog.Logger) (_ *backend, err error) {
	key, err := signingKey(cfg.SigningKeyFile)
	if err != nil {
		return nil, err
	}
	b := &backend{log: log}
	baseURL := cfg.DemoAPIURL
	var (
		ln  net.Listener
		mux *http.ServeMux
	)
	if baseURL == "" {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen for the in-process demo backend: %w", err)
		}
		baseURL = "http://" + ln.Addr().String() + "/demo/"
		mux = http.NewServeMux()
		b.local = &localBackend{server: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
		go b.local.server.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at Close
		defer func() {
			if err != nil {
				b.close(context.Background())
			}
		}()
	}
	b.signer, err = proxy.NewSigner(proxy.SignerConfig{
		Issuer:     cfg.PublicURL,
		Audience:   baseURL,
		Key:        key,
		CopyClaims: []string{"email", "name"},
		Claims:     userFacts,
		// The backend needs the tools' scopes and nothing else the user
		// may hold.
		Scopes: starterScopes(),
		// Send a token again with the same user's calls for half its
		// lifetime (60 s): one ES256 signature per user every 30 s instead
		// of one per call, and the backend's verifier answers from its
		// token cache. userFacts depends on the identity only, as reuse
		// requires.
		ReuseFor: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway signer: %w", err)
	}
	if b.local != nil {
		mux.Handle("GET "+gatewayJWKSPath, b.signer.JWKSHandler())
		b.local.verifier, err = identity.NewJWTVerifier(ctx, identity.JWTConfig{
			Issuer:      cfg.PublicURL,
			Audiences:   []string{baseURL},
			JWKSURL:     "http://" + ln.Addr().String() + gatewayJWKSPath,
			RequireType: "at+jwt",
			// Only what the gateway granted counts, never claims it
			// copied about the user.
			ScopeClaims: []string{"scope"},
		})
		if err != nil {
			return nil, fmt.Errorf("demo backend verifier: %w", err)
		}
		b.local.handler, err = demoapi.New(demoapi.Config{
			Verifier: b.local.verifier,
			Store:    st,
			PIISalt:  cfg.PIISalt,
			Logger:   log.With("component", "demo-api"),
			Revision: cfg.Revision,
			GitSHA:   cfg.GitSHA,
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/demo/", http.StripPrefix("/demo", b.local.handler))
	}
	b.client, err = proxy.New(proxy.Config{
		BaseURL:    baseURL,
		Credential: b.signer,
		// DEMO_API_URL may be plain http on a private network (see
		// checkBackendURL): what crosses it is the Signer's token for this
		// backend alone, valid for a minute, never the user's.
		InsecureAllowHTTP: true,
		Timeout:           backendTimeout,
		// listMyNotes answers every note a user may keep: more than
		// proxy's default of 1 MiB.
		MaxResponseBytes: demoapi.MaxResponseBytes,
		RequestID:        audit.RequestID,
		UserAgent:        "idgate-starter",
	})
	if err != nil {
		return nil, fmt.Errorf("DEMO_API_URL: %w", err)
	}
	return b, nil
}

// userFacts are the facts about the user's own token that the backend's
// whoami shows, put in the token the gateway signs (the backend never sees
// the user's token itself).
func userFacts(id *identity.Identity) map[string]any {
	facts := map[string]any{"user_iss": id.Issuer}
	switch len(id.Audience) {
	case 0:
	case 1:
		facts["user_aud"] = id.Audience[0]
	default:
		facts["user_aud"] = id.Audience
	}
	if !id.IssuedAt.IsZero() {
		facts["user_iat"] = id.IssuedAt.Unix()
	}
	if !id.ExpiresAt.IsZero() {
		facts["user_exp"] = id.ExpiresAt.Unix()
	}
	if p, ok := id.Claims["permissions"].([]any); ok {
		facts["user_permissions"] = p
	}
	return facts
}

// call calls the backend's tool name for the user id with args as the JSON
// body, and returns how it went. Failures are logged with the request id
// the model is told; never a token.
func (b *backend) call(ctx context.Context, id *identity.Identity, name string, args any) *outcome {
	var raw json.RawMessage
	err := b.client.Do(ctx, id, http.MethodPost, name, args, &raw)
	o := newOutcome(ctx, raw, err)
	if err != nil {
		level := slog.LevelError
		if o.kind == rejected && o.status < 500 && o.status != http.StatusUnauthorized && o.status != http.StatusForbidden {
			level = slog.LevelInfo // the user's input; the model is told what to change
		}
		b.log.LogAttrs(ctx, level, "backend call failed",
			slog.String("tool", name),
			slog.Int("status", o.status),
			slog.String("request_id", o.requestID),
			slog.String("error", err.Error()))
	}
	return o
}

// close stops the in-process backend, letting calls in flight finish
// within ctx.
func (b *backend) close(ctx context.Context) error {
	if b.local == nil {
		return nil
	}
	err := b.local.server.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = b.local.server.Close()
	}
	if b.local.verifier != nil {
		b.local.verifier.Close()
	}
	return err
}
