package audit

import "net/http"

// statusWriter records the status a handler sends. It passes Flush through
// (SSE needs it) and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

// WriteHeader records the first final status (not 1xx, but 101, after
// which net/http sends no other) and passes it on.
func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implies a 200 status when none was written.
func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client (and implies a 200 status when
// none was written). It does nothing if no writer underneath can flush.
func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.status = http.StatusOK
		w.wroteHeader = true
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the ResponseWriter underneath, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// statusOr200 is the status sent: 200 when the handler wrote nothing, as
// net/http then sends 200.
func (w *statusWriter) statusOr200() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.status
}

// spentWriter stands in for the ResponseWriter of a request that has been
// answered: writing to it fails, as writing to net/http's own after the
// handler returned does.
type spentWriter struct{}

func (spentWriter) Header() http.Header { return http.Header{} }

func (spentWriter) Write([]byte) (int, error) { return 0, http.ErrHandlerTimeout }

func (spentWriter) WriteHeader(int) {}
