package identity_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
)

// subjectsSeen is a slog.Handler that records, for each audit event, the
// subject identity.FromContext finds in the context the event is written
// with ("" for none).
type subjectsSeen struct {
	mu   sync.Mutex
	subs []string
}

func (s *subjectsSeen) Enabled(context.Context, slog.Level) bool { return true }
func (s *subjectsSeen) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *subjectsSeen) WithGroup(string) slog.Handler            { return s }
func (s *subjectsSeen) Handle(ctx context.Context, _ slog.Record) error {
	sub := ""
	if id, ok := identity.FromContext(ctx); ok {
		sub = id.Subject
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, sub)
	return nil
}

func (s *subjectsSeen) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs[len(s.subs)-1]
}

// observe is a layer that records the request it was handed and calls
// next, with r changed by change when it is set.
type observe struct {
	got    *http.Request
	change func(*http.Request) *http.Request
	// after is the subject FromContext finds in the layer's own context
	// once next has returned.
	after string
}

func (o *observe) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.got = r
		if o.change != nil {
			r = o.change(r)
		}
		next.ServeHTTP(w, r)
		if id, ok := identity.FromContext(r.Context()); ok {
			o.after = id.Subject
		}
	})
}

// TestMiddlewareBehindAudit: behind audit.Middleware, the identity
// middleware leaves the caller's identity in the audit layer's context node
// instead of copying the request, and only where that cannot change what
// any handler sees: the request must be the one the audit layer passed on,
// with no identity in its context yet.
func TestMiddlewareBehindAudit(t *testing.T) {
	mwCfg := identity.MiddlewareConfig{ResourceMetadata: prm}
	serve := func(t *testing.T, between *observe, inner http.Handler) (seen *subjectsSeen, final *observe, body string) {
		t.Helper()
		seen = &subjectsSeen{}
		aud, err := audit.New(audit.Config{Logger: slog.New(seen), SubjectKey: make([]byte, 32)})
		require.NoError(t, err)
		final = &observe{}
		h := final.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, ok := identity.FromContext(r.Context()); ok {
				_, _ = io.WriteString(w, id.Subject)
			}
		}))
		if inner != nil {
			h = inner
		}
		h = identity.Middleware(stubVerifier(), mwCfg)(h)
		h = between.wrap(h)
		srv := httptest.NewServer(aud.Middleware(h))
		defer srv.Close()
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer good-token")
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.Equal(t, http.StatusOK, res.StatusCode)
		return seen, final, string(b)
	}

	t.Run("held by the audit layer", func(t *testing.T) {
		between := &observe{}
		seen, final, body := serve(t, between, nil)
		require.Equal(t, "alice", body, "the handler's identity")
		require.Same(t, between.got, final.got, "no copy of the request")
		require.Equal(t, "alice", between.after, "the audit layer's context holds the identity")
		require.Equal(t, "alice", seen.last(), "the audit event's context")
	})

	t.Run("another request than the audit layer's", func(t *testing.T) {
		between := &observe{change: func(r *http.Request) *http.Request {
			return r.WithContext(context.WithValue(r.Context(), struct{ k int }{1}, "v"))
		}}
		seen, final, body := serve(t, between, nil)
		require.Equal(t, "alice", body, "the handler's identity")
		require.NotSame(t, between.got, final.got)
		require.Equal(t, "", seen.last(), "the audit layer's context must not see an identity established for another request")
	})

	t.Run("a copy of the audit layer's request, same context", func(t *testing.T) {
		between := &observe{change: func(r *http.Request) *http.Request {
			return r.Clone(r.Context())
		}}
		seen, final, body := serve(t, between, nil)
		require.Equal(t, "alice", body, "the handler's identity")
		require.NotSame(t, between.got, final.got)
		require.Equal(t, "", seen.last(), "the audit layer's context must not see an identity established for a copy of its request")
	})

	t.Run("an identity already in the context", func(t *testing.T) {
		other := &identity.Identity{Subject: "mallory"}
		between := &observe{change: func(r *http.Request) *http.Request {
			// Same request, so that only the check for an identity
			// already in the context keeps the holder from being
			// used: the handler must see the verified identity, not
			// this one.
			*r = *r.WithContext(identity.NewContext(r.Context(), other))
			return r
		}}
		seen, _, body := serve(t, between, nil)
		require.Equal(t, "alice", body, "the handler's identity is the verified one")
		require.Equal(t, "mallory", between.after, "the layer's own context keeps what it put there")
		require.Equal(t, "", seen.last())
	})

	t.Run("two identity middlewares", func(t *testing.T) {
		// The inner one's identity reaches the handler; the outer one's
		// stays what the layer between them sees.
		mid := &observe{}
		inner := identity.Middleware(identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) {
			return &identity.Identity{Subject: "bob"}, nil
		}), mwCfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := identity.FromContext(r.Context())
			require.True(t, ok)
			_, _ = io.WriteString(w, id.Subject)
		}))
		seen, _, body := serve(t, &observe{}, mid.wrap(inner))
		require.Equal(t, "bob", body, "the inner middleware's identity")
		require.Equal(t, "alice", mid.after, "the outer middleware's identity, kept by the audit layer")
		require.Equal(t, "alice", seen.last())
	})
}
