package store

import (
	"context"
	"fmt"
	"time"
)

// noteWriter stores notes for one user, all or none, enforcing
// MaxNotesPerUser. Each implementation supplies its own.
type noteWriter func(ctx context.Context, userKey string, notes []Note) error

// addNote validates a note, builds it and hands it to write: the part of
// AddNote every implementation shares.
func addNote(ctx context.Context, userKey, text string, write noteWriter) (Note, error) {
	if err := checkUserKey(userKey); err != nil {
		return Note{}, err
	}
	if err := checkNoteText(text); err != nil {
		return Note{}, err
	}
	now := time.Now().UnixMilli()
	n := Note{ID: newNoteID(now), Text: text, CreatedAt: now}
	if err := write(ctx, userKey, []Note{n}); err != nil {
		return Note{}, fmt.Errorf("store: add note: %w", err)
	}
	return n, nil
}

// seedNotes builds count demo notes and hands them to write: the part of
// SeedNotes every implementation shares.
func seedNotes(ctx context.Context, userKey string, count int, write noteWriter) ([]Note, error) {
	if err := checkUserKey(userKey); err != nil {
		return nil, err
	}
	if err := checkSeedCount(count); err != nil {
		return nil, err
	}
	now := time.Now().UnixMilli()
	notes := make([]Note, count)
	for i := range notes {
		ms := now + int64(i) // as the original: each later note is 1 ms newer
		notes[i] = Note{ID: newNoteID(ms), Text: seedNoteText(userKey, i+1), CreatedAt: ms}
	}
	if count == 0 {
		return notes, nil
	}
	if err := write(ctx, userKey, notes); err != nil {
		return nil, fmt.Errorf("store: seed notes: %w", err)
	}
	return notes, nil
}
