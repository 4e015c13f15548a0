package demoapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity"
)

// tool is one tool the handler serves.
type tool struct {
	name  string
	scope string
	// fields are the argument names the tool accepts; any other is refused.
	fields []string
	run    func(ctx context.Context, c *call) (any, error)
}

// call is one verified tool call.
type call struct {
	id        *identity.Identity
	userKey   string // store.UserKey(salt, sub)
	label     string // store.Label(userKey): the only user name shown
	requestID string
	args      []byte // a JSON object whose keys are all among the tool's fields
}

// toolTable returns the tools, with the scopes Tools declares.
func (h *handler) toolTable() []*tool {
	type impl struct {
		fields []string
		run    func(context.Context, *call) (any, error)
	}
	impls := map[string]impl{
		"whoami":                  {nil, h.whoami},
		"echo":                    {[]string{"message"}, h.echo},
		"seedMyNotes":             {[]string{"count"}, h.seedMyNotes},
		"listMyNotes":             {nil, h.listMyNotes},
		"addNote":                 {[]string{"text"}, h.addNote},
		"crmInit":                 {nil, h.crmInit},
		"crmGetSalesSummary":      {[]string{"year", "quarter"}, h.crmGetSalesSummary},
		"crmExplainAccess":        {nil, h.crmExplainAccess},
		"crmAttemptCrossUserRead": {[]string{"targetUser"}, h.crmAttemptCrossUserRead},
		"crmResetMyData":          {nil, h.crmResetMyData},
	}
	var tools []*tool
	for _, t := range Tools() {
		i := impls[t.Name]
		tools = append(tools, &tool{name: t.Name, scope: t.Scope, fields: i.fields, run: i.run})
	}
	return tools
}

// serveTool answers a tool call that identity.Middleware admitted: it finds
// the tool, checks its scope, reads the arguments and runs it.
func (h *handler) serveTool(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	rid := requestIDFrom(ctx)
	name, _ := toolName(r.URL.Path) // ServeHTTP checked it
	c := &call{requestID: rid}
	status, body := h.runTool(w, r, name, c)
	writeJSON(w, status, body)
	if h.log.Enabled(ctx, slog.LevelDebug) {
		h.log.LogAttrs(ctx, slog.LevelDebug, "demoapi: tool call",
			slog.String("tool", name),
			slog.Int("status", status),
			slog.String("user", c.label),
			slog.String("request_id", rid),
			slog.Duration("duration", time.Since(start)))
	}
}

// runTool does the work of serveTool and returns the answer. It fills in c.
func (h *handler) runTool(w http.ResponseWriter, r *http.Request, name string, c *call) (int, any) {
	ctx := r.Context()
	id, ok := identity.FromContext(ctx)
	if !ok { // the middleware always sets one (it is not Optional)
		h.log.LogAttrs(ctx, slog.LevelError, "demoapi: no identity behind the middleware",
			slog.String("request_id", c.requestID))
		return http.StatusInternalServerError, ErrorBody{Error: "internal_error"}
	}
	c.id = id
	c.userKey = store.UserKey(h.salt, id.Subject)
	c.label = store.Label(c.userKey)

	t, ok := h.tools[name]
	if !ok {
		return http.StatusNotFound, ErrorBody{Error: "unknown_tool", ToolName: name}
	}
	if err := h.policy.Check(name, id.Scopes); err != nil {
		needed := []string{t.scope}
		w.Header().Set("WWW-Authenticate", identity.Challenge{
			Scope:            needed,
			Error:            identity.ErrorCodeInsufficientScope,
			ErrorDescription: "the token lacks the scope this tool needs",
		}.String())
		return http.StatusForbidden, ErrorBody{Error: "insufficient_scope", Needed: needed}
	}
	args, err := readArgs(w, r, t.fields)
	if err != nil {
		return h.errorAnswer(ctx, c, name, err)
	}
	c.args = args
	res, err := t.run(ctx, c)
	if err != nil {
		return h.errorAnswer(ctx, c, name, err)
	}
	return http.StatusOK, res
}

// errorAnswer turns a tool's error into an answer: an *apiError as it says,
// anything else (a storage failure) as a logged 500.
func (h *handler) errorAnswer(ctx context.Context, c *call, name string, err error) (int, any) {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae.status, ErrorBody{Error: ae.code, Message: ae.message}
	}
	h.log.LogAttrs(ctx, slog.LevelError, "demoapi: tool failed",
		slog.String("tool", name),
		slog.String("user", c.label),
		slog.String("request_id", c.requestID),
		slog.String("error", err.Error()))
	return http.StatusInternalServerError, ErrorBody{Error: "internal_error"}
}

// readArgs reads the request body: empty, or a JSON object of at most
// MaxBodyBytes whose keys are all among fields (compared exactly, not
// case-insensitively as encoding/json would). It returns the object ("{}"
// for an empty body).
func readArgs(w http.ResponseWriter, r *http.Request, fields []string) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, &apiError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the arguments as application/json"}
		}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, MaxBodyBytes)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &apiError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the request body exceeds %d bytes", MaxBodyBytes)}
		}
		return nil, &apiError{http.StatusBadRequest, "invalid_json", "the request body could not be read"}
	}
	body := bytes.TrimSpace(buf.Bytes())
	if len(body) == 0 {
		return []byte("{}"), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			return nil, &apiError{http.StatusBadRequest, "invalid_input", "the arguments must be a JSON object"}
		}
		return nil, &apiError{http.StatusBadRequest, "invalid_json", "the request body is not valid JSON"}
	}
	if obj == nil { // the body was "null"
		return nil, &apiError{http.StatusBadRequest, "invalid_input", "the arguments must be a JSON object"}
	}
	for k := range obj {
		if !slices.Contains(fields, k) {
			msg := "this tool takes no arguments"
			if len(fields) > 0 {
				msg = "unknown argument; this tool accepts: " + strings.Join(fields, ", ")
			}
			return nil, &apiError{http.StatusBadRequest, "unknown_field", msg}
		}
	}
	return body, nil
}

// bind decodes the call's arguments into in, a pointer to a struct whose
// fields are pointers (nil when an argument is absent or null).
func (c *call) bind(in any) error {
	err := json.Unmarshal(c.args, in)
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		want := "of another type"
		switch te.Type.Kind() {
		case reflect.Int, reflect.Int64:
			want = "an integer"
		case reflect.String:
			want = "a string"
		}
		return &apiError{http.StatusBadRequest, "invalid_input", te.Field + " must be " + want}
	}
	return &apiError{http.StatusBadRequest, "invalid_input", "the arguments are not valid"}
}

type requestIDKey struct{}

// withRequestID returns r with its request id in the context: the
// X-Request-Id header when it is 1 to 128 bytes of visible ASCII, else a
// new random one. The response carries it back in X-Request-Id.
func withRequestID(r *http.Request) *http.Request {
	rid := r.Header.Get("X-Request-Id")
	if !validRequestID(rid) {
		rid = rand.Text()
	}
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, rid))
}

// requestIDFrom returns the request id withRequestID stored in ctx.
func requestIDFrom(ctx context.Context) string {
	rid, _ := ctx.Value(requestIDKey{}).(string)
	return rid
}

// validRequestID reports whether id is 1 to 128 bytes of visible ASCII.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}
