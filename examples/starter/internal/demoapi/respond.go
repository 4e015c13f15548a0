package demoapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/idgate/idgate/examples/starter/internal/store"
)

// ErrorBody is the body of every refusal the backend writes itself (the
// identity middleware writes those of authentication):
//
//	{"ok":false,"error":"invalid_input","message":"quarter must be 1..4"}
//
// Its texts are short and fixed; they never carry a token.
type ErrorBody struct {
	// OK is always false.
	OK bool `json:"ok"`
	// Error is a stable, machine-readable code: unknown_tool,
	// method_not_allowed, insufficient_scope, unsupported_media_type,
	// body_too_large, invalid_json, unknown_field, invalid_input,
	// missing_text, note_too_long, invalid_text, too_many_notes or
	// internal_error.
	Error string `json:"error"`
	// Message says, for a person or a model, what to change. Omitted when
	// the code says it all.
	Message string `json:"message,omitempty"`
	// Needed lists the scopes the tool needs, with insufficient_scope.
	Needed []string `json:"needed,omitempty"`
	// ToolName is the tool asked for, with unknown_tool (when the name was
	// well-formed).
	ToolName string `json:"toolName,omitempty"`
}

// apiError is a tool error with the answer it gets.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// invalidInput returns a 400 invalid_input error with msg.
func invalidInput(msg string) error {
	return &apiError{http.StatusBadRequest, "invalid_input", msg}
}

// storeError maps the store's typed errors to their answers (400, 409) and
// wraps any other with the operation, for the log and a 500.
func storeError(op string, err error) error {
	switch {
	case errors.Is(err, store.ErrEmptyNote):
		return &apiError{http.StatusBadRequest, "missing_text", "text is required"}
	case errors.Is(err, store.ErrNoteTooLong):
		return &apiError{http.StatusBadRequest, "note_too_long", fmt.Sprintf("text must be at most %d bytes", store.MaxNoteBytes)}
	case errors.Is(err, store.ErrNoteEncoding):
		return &apiError{http.StatusBadRequest, "invalid_text", "text must be UTF-8 without NUL characters"}
	case errors.Is(err, store.ErrTooManyNotes):
		return &apiError{http.StatusConflict, "too_many_notes", fmt.Sprintf("a user may keep at most %d notes", store.MaxNotesPerUser)}
	case errors.Is(err, store.ErrBadSeedCount):
		return invalidInput(fmt.Sprintf("count must be %d..%d", MinSeedCount, MaxSeedCount))
	case errors.Is(err, store.ErrBadYear):
		return invalidInput(fmt.Sprintf("year must be %d..%d", MinYear, MaxYear))
	}
	return fmt.Errorf("demoapi: %s: %w", op, err)
}

// writeJSON writes v as the JSON body of a status answer. Answers are per
// user, so none may be cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the texts are read by models, not embedded in HTML
	var body []byte
	if err := enc.Encode(v); err != nil {
		// Cannot happen: every body is a struct of strings, numbers and
		// slices.
		status, body = http.StatusInternalServerError, []byte(`{"ok":false,"error":"internal_error"}`+"\n")
	} else {
		body = buf.Bytes()
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ModelText returns the text a tool's answer has for the model: its
// "summary" when that is a string, else its "summary_text" (for
// crmGetSalesSummary, whose "summary" is the sales object), else "". body is
// the decoded JSON answer.
func ModelText(body map[string]any) string {
	if s, ok := body["summary"].(string); ok {
		return s
	}
	s, _ := body["summary_text"].(string)
	return s
}
