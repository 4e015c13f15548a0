package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
)

// randomText returns a string of up to max bytes drawn from pieces that
// slog's JSON encoding treats differently: plain ASCII, quotes and
// backslashes, control bytes, <>&, multi-byte characters, U+2028/U+2029,
// invalid UTF-8 and JWT-looking runs.
func randomText(rng *rand.Rand, max int) string {
	pieces := []string{
		"a", "Zq9", "/mcp", " ", "\"", "\\", "\n", "\r", "\t", "\x00", "\x01", "\x1f", "\x7f",
		"<", ">", "&", "é", "日本", "😀", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80",
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", "eyJ", "eyJabc.", ".", "-", "_",
	}
	var b strings.Builder
	n := rng.IntN(max + 1)
	for b.Len() < n {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// randomEvent returns an Event whose every field may be empty, odd or long.
func randomEvent(rng *rand.Rand) audit.Event {
	text := func() string {
		switch rng.IntN(4) {
		case 0:
			return ""
		case 1:
			return randomText(rng, 600) // longer than MaxAttrBytes
		default:
			return randomText(rng, 24)
		}
	}
	zones := []*time.Location{time.UTC, time.FixedZone("", -7*3600-30*60), time.FixedZone("X", 14*3600)}
	years := []int{2026, 1, 9999, 0, 10000, -1, 1970}
	e := audit.Event{
		Time: time.Date(years[rng.IntN(len(years))], time.Month(1+rng.IntN(12)), 1+rng.IntN(28),
			rng.IntN(24), rng.IntN(60), rng.IntN(60), []int{0, 1, 120000000, rng.IntN(1e9)}[rng.IntN(4)],
			zones[rng.IntN(len(zones))]),
		RequestID: text(), HTTPMethod: text(), Path: text(), Subject: text(),
		Issuer: text(), ClientID: text(), MCPMethod: text(), Tool: text(),
		Decision: []audit.Decision{"", audit.Allow, audit.Deny, audit.Error, audit.Decision(randomText(rng, 10))}[rng.IntN(5)],
		Reason:   text(),
		Status:   []int{0, 200, 401, 429, 503, -1, rng.Int()}[rng.IntN(7)],
		Duration: []time.Duration{0, 999, time.Duration(rng.Int64()), -time.Duration(rng.IntN(1e9)), time.Duration(-1 << 63)}[rng.IntN(5)],
	}
	switch rng.IntN(6) {
	case 0:
		e.Args = map[string]any{"q": text(), "n": rng.IntN(100), "nested": []any{text(), nil, true, 1.5}}
	case 1:
		e.Args = strings.Repeat("x", 5000) // over MaxArgsBytes
	case 2:
		e.Args = make(chan int) // unencodable
	case 3:
		e.Args = struct {
			Token string `json:"token"`
			Note  string `json:"note"`
		}{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", text()}
	}
	if e.Time.Year() == 2026 && rng.IntN(8) == 0 {
		e.Time = time.Time{} // Record writes the time it is called: not compared
	}
	return e
}

// loggerVariant builds the same logger on slog's JSON handler and on
// audit's.
type loggerVariant struct {
	name string
	opts *slog.HandlerOptions
	with func(*slog.Logger) *slog.Logger
}

var loggerVariants = []loggerVariant{
	{"plain", nil, func(l *slog.Logger) *slog.Logger { return l }},
	{"debug level", &slog.HandlerOptions{Level: slog.LevelDebug}, func(l *slog.Logger) *slog.Logger { return l }},
	{"with attrs", nil, func(l *slog.Logger) *slog.Logger {
		return l.With("service", "crm\n\"x\"").With(slog.Int("replica", 3), slog.Group("build", "rev", "abc", "dirty", false),
			slog.Time("started", time.Date(2026, 11, 27, 6, 0, 0, 5, time.UTC)), slog.Any("ids", []int{1, 2}), slog.Group("empty"), slog.Group("", "inline", 1), slog.Any("err", errors.New("e\n")))
	}},
	{"with empty attrs", nil, func(l *slog.Logger) *slog.Logger { return l.With().With(slog.Group("g")) }},
	{"group", nil, func(l *slog.Logger) *slog.Logger { return l.With("service", "crm").WithGroup("req").With("n", 1) }},
	{"replace attr", &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "sub" {
			return slog.String("user", a.Value.String())
		}
		return a
	}}, func(l *slog.Logger) *slog.Logger { return l.With("service", "crm") }},
	{"add source", &slog.HandlerOptions{AddSource: true}, func(l *slog.Logger) *slog.Logger { return l }},
}

// TestJSONHandlerMatchesSlog records the same random events through an
// Auditor on slog's JSON handler and one on audit.JSONHandler, and requires
// the same bytes, for every logger variant, message and level.
func TestJSONHandlerMatchesSlog(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	for _, v := range loggerVariants {
		t.Run(v.name, func(t *testing.T) {
			for _, msg := range []string{"", "audit", "audit \"trail\"\n\u2028é\xff"} {
				for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn + 2, slog.LevelError} {
					var want, got bytes.Buffer
					cfg := audit.Config{SubjectKey: []byte(testKey), Message: msg, Level: level}
					cfg.Logger = v.with(slog.New(slog.NewJSONHandler(&want, v.opts)))
					ref, err := audit.New(cfg)
					require.NoError(t, err)
					cfg.Logger = v.with(slog.New(audit.NewJSONHandler(&got, v.opts)))
					fast, err := audit.New(cfg)
					require.NoError(t, err)
					for range 300 {
						e := randomEvent(rng)
						if e.Time.IsZero() {
							continue
						}
						want.Reset()
						got.Reset()
						ref.Record(ctx, e)
						fast.Record(ctx, e)
						require.Equal(t, want.String(), got.String(), "event %+v", e)
					}
				}
			}
		})
	}
}

// TestJSONHandlerLinesMatchSlog: the records a JSONHandler writes other
// than audit events are slog's too.
func TestJSONHandlerLinesMatchSlog(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, v := range loggerVariants {
		var want, got bytes.Buffer
		ref := v.with(slog.New(slog.NewJSONHandler(&want, v.opts)))
		ours := v.with(slog.New(audit.NewJSONHandler(&got, v.opts)))
		for range 200 {
			msg, s, n := randomText(rng, 40), randomText(rng, 40), rng.Int64()
			for _, l := range []*slog.Logger{ref, ours} { // one call site: the same source
				l.Warn(msg, "s", s, "n", n, slog.Group("g", "t", s))
				l.Debug(msg) // disabled at the default level, written at debug
			}
		}
		// The time differs between the two; the rest must not.
		strip := func(s string) string {
			var out []string
			for line := range strings.Lines(s) {
				if i := strings.Index(line, `"level"`); i > 0 {
					line = line[i:]
				}
				out = append(out, line)
			}
			return strings.Join(out, "")
		}
		require.Equal(t, strip(want.String()), strip(got.String()), v.name)
		require.NotEmpty(t, got.String(), v.name)
	}
}

// TestJSONHandlerLevel: events under the handler's level are not written,
// on either path.
func TestJSONHandlerLevel(t *testing.T) {
	var out bytes.Buffer
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		a, err := audit.New(audit.Config{
			Logger:     slog.New(audit.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})),
			SubjectKey: []byte(testKey), Level: level,
		})
		require.NoError(t, err)
		a.Record(context.Background(), audit.Event{Status: 200})
	}
	require.Empty(t, out.String())
	a, err := audit.New(audit.Config{
		Logger:     slog.New(audit.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})),
		SubjectKey: []byte(testKey), Level: slog.LevelWarn,
	})
	require.NoError(t, err)
	a.Record(context.Background(), audit.Event{Status: 200})
	require.Contains(t, out.String(), `"level":"WARN","msg":"audit","decision":"allow","status":200,"duration_us":0}`)
}

// lineChecker is a writer that fails when two writes overlap or a write is
// not exactly one JSON line.
type lineChecker struct {
	busy    atomic.Bool
	lines   atomic.Int64
	mu      sync.Mutex
	failure string
}

func (c *lineChecker) Write(p []byte) (int, error) {
	if !c.busy.CompareAndSwap(false, true) {
		c.fail("overlapping writes")
	}
	defer c.busy.Store(false)
	if !bytes.HasPrefix(p, []byte("{")) || !bytes.HasSuffix(p, []byte("}\n")) || bytes.Count(p, []byte("\n")) != 1 {
		c.fail(fmt.Sprintf("not one line: %q", p))
	}
	time.Sleep(time.Microsecond) // widen the window in which an overlap shows
	c.lines.Add(1)
	return len(p), nil
}

func (c *lineChecker) fail(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure == "" {
		c.failure = s
	}
}

// TestJSONHandlerSerialisesWrites: events on the fast path and records
// through slog, from handlers derived from one JSONHandler and from many
// goroutines, reach the writer one whole line at a time.
func TestJSONHandlerSerialisesWrites(t *testing.T) {
	var w lineChecker
	base := slog.New(audit.NewJSONHandler(&w, nil))
	a, err := audit.New(audit.Config{Logger: base.With("service", "crm"), SubjectKey: []byte(testKey)})
	require.NoError(t, err)
	grouped, err := audit.New(audit.Config{Logger: base.WithGroup("g"), SubjectKey: []byte(testKey)})
	require.NoError(t, err)
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				e := audit.Event{RequestID: fmt.Sprint(g, i), Subject: "alice", Status: 200}
				switch i % 3 {
				case 0:
					a.Record(context.Background(), e)
				case 1:
					grouped.Record(context.Background(), e)
				default:
					base.Info("hello", "g", g, "i", i)
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, w.failure)
	require.EqualValues(t, goroutines*each, w.lines.Load())
}

// FuzzJSONHandlerString: any string a request can carry is written as
// slog's JSON handler writes it.
func FuzzJSONHandlerString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\\n", "\xff\xfe", "\u2028\u2029", "eyJa.b.c", "日本\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want, got bytes.Buffer
		e := audit.Event{Time: time.Unix(1, 0).UTC(), RequestID: s, Tool: s, Reason: s, Decision: audit.Decision(s), Args: s}
		for _, p := range []struct {
			buf *bytes.Buffer
			h   slog.Handler
		}{{&want, slog.NewJSONHandler(&want, nil)}, {&got, audit.NewJSONHandler(&got, nil)}} {
			a, err := audit.New(audit.Config{Logger: slog.New(p.h), SubjectKey: []byte(testKey), Message: s})
			require.NoError(t, err)
			a.Record(context.Background(), e)
		}
		require.Equal(t, want.String(), got.String())
	})
}
