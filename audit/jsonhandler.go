package audit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// A JSONHandler is a slog.Handler that writes exactly what slog's own
// JSONHandler writes, and through which an Auditor writes its events about
// four times faster and without allocating (BenchmarkRecordHandlers):
// Record then encodes the event straight into the line instead of building
// a slog.Record and walking its attributes. Create it with NewJSONHandler
// and use it as the handler of Config.Logger (and, if you like, of the rest
// of the service's logging):
//
//	logger := slog.New(audit.NewJSONHandler(os.Stdout, nil)).With("service", "crm")
//	aud, err := audit.New(audit.Config{Logger: logger, SubjectKey: key})
//
// Every line it writes, audit event or not, is byte for byte the line
// slog.NewJSONHandler(w, opts) with the same attributes and groups would
// write. Events take the fast path unless opts sets ReplaceAttr or
// AddSource, or a group was opened with WithGroup; they then go through
// slog as with any other handler. Like slog's, it writes each line with one
// Write call, and handlers derived from one NewJSONHandler (WithAttrs,
// WithGroup) never interleave their lines.
type JSONHandler struct {
	slog slog.Handler  // slog's JSON handler, writing to out
	out  *lockedWriter // shared by every handler derived from one NewJSONHandler
	// attrs are the attributes given to WithAttrs as slog's handler
	// encodes them, each preceded by a comma.
	attrs []byte
	// fast: events may be encoded by Auditor.Record itself.
	fast bool
}

// NewJSONHandler returns a JSONHandler writing to w with the options opts,
// which mean what they mean to slog.NewJSONHandler (nil: the defaults).
func NewJSONHandler(w io.Writer, opts *slog.HandlerOptions) *JSONHandler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	out := &lockedWriter{w: w}
	return &JSONHandler{
		slog: slog.NewJSONHandler(out, opts),
		out:  out,
		fast: opts.ReplaceAttr == nil && !opts.AddSource,
	}
}

// Enabled reports whether the handler handles records at level, as
// slog.JSONHandler does.
func (h *JSONHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.slog.Enabled(ctx, level)
}

// Handle writes r as one JSON line, as slog.JSONHandler does.
func (h *JSONHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.slog.Handle(ctx, r)
}

// WithAttrs returns a JSONHandler whose lines carry attrs after the
// message, as slog.JSONHandler does.
func (h *JSONHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.slog = h.slog.WithAttrs(attrs)
	if h.fast {
		h2.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], encodedAttrs(attrs)...)
	}
	return &h2
}

// WithGroup returns a JSONHandler that puts the attributes that follow in
// the group name, as slog.JSONHandler does. Events written through it take
// slog's path.
func (h *JSONHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.slog = h.slog.WithGroup(name)
	h2.fast = false
	return &h2
}

// encodedAttrs returns attrs as slog's JSON handler writes them after the
// message: what a handler with attrs writes for an empty record less what
// one without writes.
func encodedAttrs(attrs []slog.Attr) []byte {
	var without, with bytes.Buffer
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0)
	_ = slog.NewJSONHandler(&without, nil).Handle(context.Background(), r)
	_ = slog.NewJSONHandler(&with, nil).WithAttrs(attrs).Handle(context.Background(), r)
	head := bytes.TrimSuffix(without.Bytes(), []byte("}\n"))
	line := with.Bytes()
	if !bytes.HasPrefix(line, head) || !bytes.HasSuffix(line, []byte("}\n")) {
		panic("audit: unexpected output of slog.JSONHandler: " + string(line))
	}
	return bytes.Clone(line[len(head) : len(line)-2])
}

// lockedWriter serialises the writes of slog's handler and of
// Auditor.Record to one io.Writer. An *os.File serialises its writes
// itself, yet the lock stays in front of it too: when requests contend,
// sync.Mutex spins where the file's own lock puts the waiter to sleep
// (BenchmarkRecordFile/parallel: 1.225 times slower without it).
//
// A write that fails part-way leaves a line without its end: the next
// write first ends it, so that the next event is a line of its own and
// only the broken one is lost.
type lockedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	broken bool // the last write failed after writing part of its line
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken {
		if _, err := l.w.Write(newline); err != nil {
			return 0, err
		}
		l.broken = false
	}
	n, err := l.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil && n > 0 {
		l.broken = true
	}
	return n, err
}

// newline ends a line a failed write left unfinished.
var newline = []byte{'\n'}

// lineBuffers holds the buffers in which Record encodes events.
var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledLine is the largest buffer put back in lineBuffers.
const maxPooledLine = 16 << 10

// writeEvent writes the event f with handler h, as slog's JSON handler
// would write the record Record builds from it. It reports false, having
// written nothing, when the event must take slog's path.
func (a *Auditor) writeEvent(h *JSONHandler, t time.Time, f *eventFields) bool {
	st := stampFor(t)
	if st == nil { // slog writes an error; let it
		return false
	}
	bp := lineBuffers.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = st.append(b, t)
	b = append(b, `",`...)
	b = append(b, a.levelAndMessage...)
	b = append(b, h.attrs...)
	for i, v := range f.str {
		if v == "" && i != decisionField {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, fieldKeys[i]...)
		b = append(b, '"', ':')
		b = appendJSONString(b, v)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(f.status), 10)
	b = append(b, `,"duration_us":`...)
	b = strconv.AppendInt(b, f.durationUS, 10)
	if f.hasArgs {
		b = append(b, `,"args":`...)
		if f.argsJSON != nil {
			b = append(b, f.argsJSON...)
		} else {
			b = appendJSONString(b, f.argsText)
		}
	}
	b = append(b, '}', '\n')
	if _, err := h.out.Write(b); err != nil {
		a.writeFailed(err)
	}
	if cap(b) <= maxPooledLine {
		*bp = b
		lineBuffers.Put(bp)
	}
	return true
}

// jsonSafe[c] is true for the ASCII bytes written as they are inside a JSON
// string by slog's JSON handler: everything from space up except the quote
// and the backslash (it does not escape <, > and &).
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string, escaped as slog's
// JSON handler escapes it: \" \\ \n \r \t, other control bytes as \u00XX,
// each byte of invalid UTF-8 as \ufffd, U+2028 and U+2029 as \u2028 and
// \u2029, everything else as it is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[done:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[done:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	b = append(b, s[done:]...)
	return append(b, '"')
}
