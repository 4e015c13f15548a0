package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
)

// flakySink is an audit sink whose writes fail while failing is set,
// having written the first half of the line, as a full disk would.
type flakySink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	failing bool
}

var errDiskFull = errors.New("no space left on device")

func (s *flakySink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		n := len(p) / 2
		s.buf.Write(p[:n])
		return n, errDiskFull
	}
	return s.buf.Write(p)
}

func (s *flakySink) setFailing(f bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = f
}

func (s *flakySink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestWriteErrorsReported: an event the sink could not take is reported,
// through Config.OnWriteError and Auditor.WriteErrors, on JSONHandler's
// own path and through slog's (a ReplaceAttr makes JSONHandler use it);
// and the line the failed write left unfinished is ended, so that the
// next event is a whole line of its own.
func TestWriteErrorsReported(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *slog.HandlerOptions
	}{
		{"fast path", nil},
		{"slog path", &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return a }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &flakySink{}
			var mu sync.Mutex
			var reported []error
			a, err := audit.New(audit.Config{
				Logger:     slog.New(audit.NewJSONHandler(sink, tc.opts)),
				SubjectKey: []byte(testKey),
				OnWriteError: func(err error) {
					mu.Lock()
					defer mu.Unlock()
					reported = append(reported, err)
				},
			})
			require.NoError(t, err)
			srv := httptest.NewServer(a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			})))
			defer srv.Close()
			get := func(path string) {
				resp, err := http.Get(srv.URL + path)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusNoContent, resp.StatusCode)
			}

			get("/before")
			sink.setFailing(true)
			get("/lost")
			sink.setFailing(false)
			get("/after")
			srv.Close() // every event written

			mu.Lock()
			require.Len(t, reported, 1)
			require.ErrorIs(t, reported[0], errDiskFull)
			mu.Unlock()
			require.Equal(t, uint64(1), a.WriteErrors())

			lines := strings.Split(strings.TrimSuffix(sink.String(), "\n"), "\n")
			require.Len(t, lines, 3, "%q", sink.String())
			var paths []string
			for i, l := range []string{lines[0], lines[2]} {
				var ev map[string]any
				require.NoError(t, json.Unmarshal([]byte(l), &ev), "line %d: %q", i, l)
				paths = append(paths, ev["path"].(string))
			}
			require.Equal(t, []string{"/before", "/after"}, paths)
			require.False(t, json.Valid([]byte(lines[1])), "the half line of the lost event stays on its own")
		})
	}
}

// TestWriteErrorCallbackPanicKeepsResponse: Config.OnWriteError runs on
// the request's goroutine, after the handler has answered; a callback that
// panics must not cost the client that answer (net/http, recovering the
// panic, closes the connection with the response still buffered) nor the
// events that follow.
func TestWriteErrorCallbackPanicKeepsResponse(t *testing.T) {
	sink := &flakySink{failing: true}
	a, err := audit.New(audit.Config{
		Logger:       slog.New(audit.NewJSONHandler(sink, nil)),
		SubjectKey:   []byte(testKey),
		OnWriteError: func(error) { panic("alerting is down") },
	})
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("served"))
	})))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()
	for range 2 {
		resp, err := http.Get(srv.URL + "/x")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "served", string(body))
	}
	require.Equal(t, uint64(2), a.WriteErrors())
}
