package demoapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// The scopes the tools need, as the TypeScript starter named them.
const (
	ScopeWhoami = "starter.whoami"
	ScopeEcho   = "starter.echo"
	ScopeNotes  = "starter.notes"
	ScopeCRM    = "starter.crm"
)

// Limits of the requests the backend accepts.
const (
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes = 64 << 10
	// MaxResponseBytes bounds the answers the backend writes, for the
	// client that reads them: the largest is listMyNotes for a user with
	// store.MaxListNotes notes of store.MaxNoteBytes each, all written as
	// characters JSON escapes to six bytes ("\u0001").
	MaxResponseBytes = store.MaxListNotes*(6*store.MaxNoteBytes+256) + 64<<10
	// MaxEchoBytes is the longest echo message, in bytes.
	MaxEchoBytes = 4096
	// DefaultSeedCount is how many notes seedMyNotes adds when no count is
	// given.
	DefaultSeedCount = 3
	// MinSeedCount and MaxSeedCount bound seedMyNotes' count.
	MinSeedCount, MaxSeedCount = 1, store.MaxSeedNotes
	// MinYear and MaxYear bound crmGetSalesSummary's year.
	MinYear, MaxYear = 2000, 2100
	// MaxTargetUserChars is the longest crmAttemptCrossUserRead target, in
	// characters.
	MaxTargetUserChars = 128
	// MaxSummaryNoteChars is how much of a note addNote's summary quotes, in
	// characters.
	MaxSummaryNoteChars = 120
	// MinPIISaltBytes is the shortest Config.PIISalt accepted.
	MinPIISaltBytes = 16
)

// Config configures New. Verifier, Store and PIISalt are required.
type Config struct {
	// Verifier verifies the bearer tokens the gateway sends. In the starter
	// it is an identity.NewJWTVerifier against the gateway's signer JWKS,
	// with the backend's URL as audience. Required.
	Verifier identity.Verifier
	// Store holds the notes and the demo CRM. The handler does not close
	// it. Required.
	Store store.Store
	// PIISalt is the HMAC key of the user keys (store.UserKey): the
	// starter's PII_SALT. It must be secret, stable, and at least
	// MinPIISaltBytes long. New copies it. Required.
	PIISalt []byte
	// Logger receives one Debug record per tool call, an Error record per
	// storage failure, and the identity middleware's records for refused
	// requests. Tokens and raw subjects are never logged. Default: nil, no
	// logging.
	Logger *slog.Logger
	// Revision and GitSHA identify the running build; whoami echoes them as
	// request.rev and request.sha (the TypeScript starter read K_REVISION
	// and GIT_SHA). Default: empty.
	Revision, GitSHA string
	// Now returns the current time, for whoami's exp_in_seconds. Default
	// time.Now.
	Now func() time.Time
}

// Tool names a tool the backend serves and the scope it needs.
type Tool struct {
	// Name is the tool's name, the last segment of its path.
	Name string
	// Scope is the scope a token must carry to call it.
	Scope string
}

// Tools returns the ten tools, in the TypeScript starter's order, with
// their scopes. The result is a new slice on every call.
func Tools() []Tool {
	return []Tool{
		{"whoami", ScopeWhoami},
		{"echo", ScopeEcho},
		{"seedMyNotes", ScopeNotes},
		{"listMyNotes", ScopeNotes},
		{"addNote", ScopeNotes},
		{"crmInit", ScopeCRM},
		{"crmGetSalesSummary", ScopeCRM},
		{"crmExplainAccess", ScopeCRM},
		{"crmAttemptCrossUserRead", ScopeCRM},
		{"crmResetMyData", ScopeCRM},
	}
}

// handler is the http.Handler New returns.
type handler struct {
	store    store.Store
	salt     []byte
	log      *slog.Logger
	revision string
	gitSHA   string
	now      func() time.Time
	policy   *scopes.Policy
	tools    map[string]*tool
	// authed is serveTool behind identity.Middleware.
	authed http.Handler
}

// New checks cfg and returns the backend's handler. Its routes are relative
// to where it is mounted: GET /health and POST /{tool} (see the package
// documentation).
func New(cfg Config) (http.Handler, error) {
	switch {
	case cfg.Verifier == nil:
		return nil, errors.New("demoapi: Config.Verifier is required (identity.NewJWTVerifier against the gateway's JWKS)")
	case cfg.Store == nil:
		return nil, errors.New("demoapi: Config.Store is required (for example store.OpenSQLite)")
	case len(cfg.PIISalt) < MinPIISaltBytes:
		return nil, fmt.Errorf("demoapi: Config.PIISalt must be at least %d bytes (set PII_SALT to a long random secret, e.g. the output of `openssl rand -hex 32`)", MinPIISaltBytes)
	}
	h := &handler{
		store:    cfg.Store,
		salt:     slices.Clone(cfg.PIISalt),
		log:      cfg.Logger,
		revision: cfg.Revision,
		gitSHA:   cfg.GitSHA,
		now:      cfg.Now,
		policy:   scopes.NewPolicy(nil),
		tools:    map[string]*tool{},
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	for _, t := range h.toolTable() {
		if err := h.policy.Require(t.name, scopes.All(t.scope)); err != nil {
			return nil, fmt.Errorf("demoapi: declare tool %s: %w", t.name, err)
		}
		h.tools[t.name] = t
	}
	mw, err := identity.NewMiddleware(cfg.Verifier, identity.MiddlewareConfig{Logger: h.log})
	if err != nil {
		return nil, fmt.Errorf("demoapi: %w", err)
	}
	h.authed = mw(http.HandlerFunc(h.serveTool))
	return h, nil
}

// ServeHTTP routes a request: /health, else a tool call.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(r)
	w.Header().Set("X-Request-Id", requestIDFrom(r.Context()))
	path := r.URL.Path
	if path == "/health" {
		h.serveHealth(w, r)
		return
	}
	if _, ok := toolName(path); !ok {
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: "unknown_tool"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: "method_not_allowed", Message: "tools are called with POST"})
		return
	}
	h.authed.ServeHTTP(w, r)
}

// serveHealth answers /health.
func (h *handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: "method_not_allowed", Message: "use GET"})
		return
	}
	writeJSON(w, http.StatusOK, healthBody{OK: true, Service: "demo-api"})
}

// healthBody is the answer of /health.
type healthBody struct {
	OK      bool   `json:"ok"`
	Service string `json:"service"`
}

// toolName returns the tool name of a path "/<name>", and whether name
// matches ^[A-Za-z][A-Za-z0-9_]{0,63}$.
func toolName(path string) (string, bool) {
	if len(path) < 2 || path[0] != '/' || len(path) > 65 {
		return "", false
	}
	name := path[1:]
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if !letter && (i == 0 || (c < '0' || c > '9') && c != '_') {
			return "", false
		}
	}
	return name, true
}
