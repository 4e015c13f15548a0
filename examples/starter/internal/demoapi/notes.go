package demoapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/idgate/idgate/examples/starter/internal/store"
)

// SeedNotesResult is seedMyNotes' answer.
type SeedNotesResult struct {
	// OK is true.
	OK bool `json:"ok"`
	// Seeded are the notes added, in order.
	Seeded []store.Note `json:"seeded"`
	// Summary is the text for the model: "Seeded N notes."
	Summary string `json:"summary"`
}

// ListNotesResult is listMyNotes' answer.
type ListNotesResult struct {
	// OK is true.
	OK bool `json:"ok"`
	// Notes are the caller's notes, newest first; never null.
	Notes []store.Note `json:"notes"`
	// Summary is the text for the model: "You have N notes."
	Summary string `json:"summary"`
}

// AddNoteResult is addNote's answer.
type AddNoteResult struct {
	// OK is true.
	OK bool `json:"ok"`
	// Note is the note stored.
	Note store.Note `json:"note"`
	// Summary is the text for the model: "Added note: " and the first
	// MaxSummaryNoteChars characters of the text.
	Summary string `json:"summary"`
}

// seedArgs are seedMyNotes' arguments.
type seedArgs struct {
	Count *int `json:"count"`
}

// seedMyNotes is the seedMyNotes tool.
func (h *handler) seedMyNotes(ctx context.Context, c *call) (any, error) {
	var in seedArgs
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	n := DefaultSeedCount
	if in.Count != nil {
		n = *in.Count
	}
	if n < MinSeedCount || n > MaxSeedCount {
		return nil, invalidInput(fmt.Sprintf("count must be %d..%d", MinSeedCount, MaxSeedCount))
	}
	notes, err := h.store.SeedNotes(ctx, c.userKey, n)
	if err != nil {
		return nil, storeError("seed notes", err)
	}
	return SeedNotesResult{OK: true, Seeded: nonNil(notes), Summary: fmt.Sprintf("Seeded %d notes.", len(notes))}, nil
}

// listMyNotes is the listMyNotes tool.
func (h *handler) listMyNotes(ctx context.Context, c *call) (any, error) {
	notes, err := h.store.ListNotes(ctx, c.userKey, store.MaxListNotes)
	if err != nil {
		return nil, storeError("list notes", err)
	}
	return ListNotesResult{OK: true, Notes: nonNil(notes), Summary: fmt.Sprintf("You have %d notes.", len(notes))}, nil
}

// noteArgs are addNote's arguments.
type noteArgs struct {
	Text *string `json:"text"`
}

// addNote is the addNote tool. The text is stored trimmed of surrounding
// white space, as the TypeScript starter did.
func (h *handler) addNote(ctx context.Context, c *call) (any, error) {
	var in noteArgs
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	var text string
	if in.Text != nil {
		text = strings.TrimSpace(*in.Text)
	}
	switch {
	case text == "":
		return nil, &apiError{http.StatusBadRequest, "missing_text", "text is required"}
	case len(text) > store.MaxNoteBytes:
		return nil, &apiError{http.StatusBadRequest, "note_too_long", fmt.Sprintf("text must be at most %d bytes", store.MaxNoteBytes)}
	}
	note, err := h.store.AddNote(ctx, c.userKey, text)
	if err != nil {
		return nil, storeError("add note", err)
	}
	return AddNoteResult{OK: true, Note: note, Summary: "Added note: " + firstChars(note.Text, MaxSummaryNoteChars)}, nil
}

// nonNil returns notes, or an empty slice for nil, so that JSON shows [].
func nonNil(notes []store.Note) []store.Note {
	if notes == nil {
		return []store.Note{}
	}
	return notes
}
