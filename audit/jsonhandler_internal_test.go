package audit

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// noHandle is a slog.Handler that fails the test when a record reaches it.
type noHandle struct {
	slog.Handler
	t *testing.T
}

func (h noHandle) Handle(context.Context, slog.Record) error {
	h.t.Error("the event went through slog")
	return nil
}

// TestRecordTakesTheFastPath: with a JSONHandler (and its derived
// handlers, but for groups), Record encodes the event itself; slog's
// handler never sees it. With a group open, slog's handler does.
func TestRecordTakesTheFastPath(t *testing.T) {
	var out bytes.Buffer
	jh := NewJSONHandler(&out, nil)
	jh.slog = noHandle{jh.slog, t}
	for _, l := range []*slog.Logger{slog.New(jh), slog.New(jh).With("service", "crm")} {
		a, err := New(Config{Logger: l, SubjectKey: make([]byte, 32)})
		require.NoError(t, err)
		a.Record(context.Background(), Event{Time: time.Unix(0, 0), Status: 200})
	}
	require.Equal(t, 2, bytes.Count(out.Bytes(), []byte(`"decision":"allow"`)), out.String())

	grouped := slog.New(NewJSONHandler(&out, nil)).WithGroup("g")
	var seen bool
	inner := grouped.Handler().(*JSONHandler)
	inner.slog = recordSeen{inner.slog, &seen}
	a, err := New(Config{Logger: slog.New(inner), SubjectKey: make([]byte, 32)})
	require.NoError(t, err)
	a.Record(context.Background(), Event{Status: 200})
	require.True(t, seen, "a grouped handler's events go through slog")
}

// recordSeen notes that a record reached it.
type recordSeen struct {
	slog.Handler
	seen *bool
}

func (h recordSeen) Handle(ctx context.Context, r slog.Record) error {
	*h.seen = true
	return h.Handler.Handle(ctx, r)
}
