package demoapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// testSalt is the PII salt of every test backend.
const testSalt = "0123456789abcdef-test-salt"

// fixedNow is the backend clock in tests (whoami's exp_in_seconds).
func fixedNow() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// allScopes returns the four scopes of the starter.
func allScopes() []string {
	return []string{demoapi.ScopeWhoami, demoapi.ScopeEcho, demoapi.ScopeNotes, demoapi.ScopeCRM}
}

// env is a demo backend over real HTTP, with the issuer of its tokens.
type env struct {
	iss   *identitytest.Issuer
	srv   *httptest.Server
	store store.Store
	logs  *logBuffer
}

// newEnv starts a backend on a fresh SQLite database, verifying the tokens
// of a new identitytest issuer.
func newEnv(t *testing.T) *env {
	t.Helper()
	iss := identitytest.NewIssuer(t)
	s := openStore(t, filepath.Join(t.TempDir(), "crm.sqlite"))
	return startEnv(t, iss, s)
}

// openStore opens a SQLite store at path, closed when the test ends.
func openStore(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// startEnv starts a backend on s for the tokens of iss.
func startEnv(t *testing.T, iss *identitytest.Issuer, s store.Store) *env {
	t.Helper()
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{iss.Audience()},
	})
	require.NoError(t, err)
	t.Cleanup(v.Close)
	logs := &logBuffer{}
	cfg := demoapi.Config{
		Verifier: v,
		Store:    s,
		PIISalt:  []byte(testSalt),
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Revision: "demo-00042",
		GitSHA:   "abc1234",
		Now:      fixedNow,
	}
	h, err := demoapi.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{iss: iss, srv: srv, store: cfg.Store, logs: logs}
}

// token mints a token for sub with scopes (all four when none given) and
// any further options.
func (e *env) token(t *testing.T, sub string, scopes []string, opts ...identitytest.TokenOption) string {
	t.Helper()
	if scopes == nil {
		scopes = allScopes()
	}
	return e.iss.Mint(t, append([]identitytest.TokenOption{identitytest.Subject(sub), identitytest.Scopes(scopes...)}, opts...)...)
}

// reply is a response as a test reads it.
type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// do sends method path with body (none when empty) and the header pairs
// (name, value, ...), and reads the answer.
func (e *env) do(t *testing.T, method, path, body string, header ...string) reply {
	t.Helper()
	r, err := e.send(method, path, body, header...)
	require.NoError(t, err)
	return r
}

// send is do for goroutines other than the test's: it returns errors
// instead of failing the test.
func (e *env) send(method, path, body string, header ...string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("decode %s: %w", raw, err)
		}
	}
	return r, nil
}

// call calls tool with the JSON body args as the holder of tok.
func (e *env) call(t *testing.T, tok, tool, args string, header ...string) reply {
	t.Helper()
	h := append([]string{"Authorization", "Bearer " + tok, "Content-Type", "application/json"}, header...)
	return e.do(t, http.MethodPost, "/"+tool, args, h...)
}

// callStatus calls tool from any goroutine and reports, with t.Errorf,
// whether the answer has status.
func (e *env) callStatus(t *testing.T, tok, tool, args string, status int) (reply, bool) {
	r, err := e.send(http.MethodPost, "/"+tool, args, "Authorization", "Bearer "+tok, "Content-Type", "application/json")
	switch {
	case err != nil:
		t.Errorf("%s: %v", tool, err)
		return r, false
	case r.status != status:
		t.Errorf("%s: status %d, want %d: %s", tool, r.status, status, r.raw)
		return r, false
	}
	return r, true
}

// ok calls tool and requires a 200 with "ok":true.
func (e *env) ok(t *testing.T, tok, tool, args string) map[string]any {
	t.Helper()
	r := e.call(t, tok, tool, args)
	require.Equal(t, http.StatusOK, r.status, "body %s", r.raw)
	require.Equal(t, true, r.body["ok"], "body %s", r.raw)
	return r.body
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	require.True(t, ok, "%v is not an object", v)
	return slices.Sorted(maps.Keys(m))
}

// labelOf returns the label the backend shows for sub.
func labelOf(sub string) string { return store.Label(store.UserKey([]byte(testSalt), sub)) }

// expectedSales computes, from store.SeedDeals, a user's won deals and
// revenue in a quarter.
func expectedSales(sub string, year, quarter int) (deals int, cents int64) {
	r := store.QuarterRange(year, quarter)
	for _, d := range store.SeedDeals(store.UserKey([]byte(testSalt), sub)) {
		if d.Stage == store.StageWon && d.CloseDate >= r.Start && d.CloseDate < r.EndExclusive {
			deals++
			cents += d.AmountCents
		}
	}
	return deals, cents
}

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeStore wraps a real store: it counts the calls, and can fail them all
// or answer SalesSummary with set figures.
type fakeStore struct {
	store.Store
	calls atomic.Int64
	// failure, when set (setErr), is what every method returns.
	failure atomic.Pointer[error]
	// sales, when set, answers SalesSummary.
	sales func(year, quarter int) store.Summary
}

func (f *fakeStore) AddNote(ctx context.Context, userKey, text string) (store.Note, error) {
	if err := f.call(); err != nil {
		return store.Note{}, err
	}
	return f.Store.AddNote(ctx, userKey, text)
}

func (f *fakeStore) SeedNotes(ctx context.Context, userKey string, count int) ([]store.Note, error) {
	if err := f.call(); err != nil {
		return nil, err
	}
	return f.Store.SeedNotes(ctx, userKey, count)
}

func (f *fakeStore) ListNotes(ctx context.Context, userKey string, limit int) ([]store.Note, error) {
	if err := f.call(); err != nil {
		return nil, err
	}
	return f.Store.ListNotes(ctx, userKey, limit)
}

func (f *fakeStore) EnsureUser(ctx context.Context, userKey string) (bool, int, error) {
	if err := f.call(); err != nil {
		return false, 0, err
	}
	return f.Store.EnsureUser(ctx, userKey)
}

func (f *fakeStore) ResetUser(ctx context.Context, userKey string) (int, error) {
	if err := f.call(); err != nil {
		return 0, err
	}
	return f.Store.ResetUser(ctx, userKey)
}

func (f *fakeStore) SalesSummary(ctx context.Context, userKey string, year, quarter int) (store.Summary, error) {
	if err := f.call(); err != nil {
		return store.Summary{}, err
	}
	if f.sales != nil {
		return f.sales(year, quarter), nil
	}
	return f.Store.SalesSummary(ctx, userKey, year, quarter)
}

func (f *fakeStore) Counts(ctx context.Context) (int, int, error) {
	if err := f.call(); err != nil {
		return 0, 0, err
	}
	return f.Store.Counts(ctx)
}

// setErr makes every method fail with err (nil: work again).
func (f *fakeStore) setErr(err error) { f.failure.Store(&err) }

// call counts a call and returns the error it must fail with, if any.
func (f *fakeStore) call() error {
	f.calls.Add(1)
	if p := f.failure.Load(); p != nil {
		return *p
	}
	return nil
}
