package store

import "errors"

// Sentinel errors. Methods wrap them with context; test with errors.Is. Their
// texts are short and fixed, safe to show a user.
var (
	// ErrBadUserKey: the user key is not one that UserKey produces (64
	// lowercase hex characters). Raw subjects are refused on purpose.
	ErrBadUserKey = errors.New("invalid user key")
	// ErrEmptyNote: the note text is empty or only white space.
	ErrEmptyNote = errors.New("note text is empty")
	// ErrNoteTooLong: the note text is longer than MaxNoteBytes.
	ErrNoteTooLong = errors.New("note text is too long")
	// ErrNoteEncoding: the note text is not valid UTF-8 or contains a NUL
	// byte (which not every database can store).
	ErrNoteEncoding = errors.New("note text is not valid UTF-8 text")
	// ErrTooManyNotes: the user already has MaxNotesPerUser notes, or the
	// request would take them past it. Nothing was written.
	ErrTooManyNotes = errors.New("too many notes")
	// ErrBadSeedCount: a seed count below 0 or above MaxSeedNotes.
	ErrBadSeedCount = errors.New("seed count out of range")
	// ErrBadYear: a year outside MinYear..MaxYear, which cannot be written
	// as a YYYY-MM-DD date.
	ErrBadYear = errors.New("year out of range")
)
