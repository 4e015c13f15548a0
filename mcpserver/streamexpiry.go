package mcpserver

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/idgate/idgate/identity"
)

// primingIDPrefix begins the id of the priming event idgate writes first
// on a GET stream that ends with its token: the prefix, a random text
// (so that each stream's id differs from the last), then "." and the
// Last-Event-ID the stream was opened with, if any (with an EventStore,
// go-sdk's id of the last event the client had). go-sdk's own event ids
// are "<stream>_<index>", which never begin so.
const primingIDPrefix = "idgate-"

// getStreamUntilExpiry bounds a GET stream by its token (streamUntilExpiry)
// and makes it resumable across tokens: the stream opens with a priming
// event carrying a fresh id (primingWriter), and a GET that names such an
// id in Last-Event-ID, a client reconnecting after the stream ended, is
// served as a new stream (the header, which go-sdk would refuse or look up
// in its EventStore, is removed). It returns the writer and request to
// serve and the function to call once it has been served, which releases
// the deadline (and writes the priming event if the stream ended with its
// token having written nothing), or a nil request having answered.
func (s *Server) getStreamUntilExpiry(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, context.CancelFunc) {
	last := r.Header.Get(headerLastEventID)
	if strings.HasPrefix(last, primingIDPrefix) {
		// A client resuming after one of these streams: go-sdk is given
		// back the id the stream was opened with, or none.
		_, last, _ = strings.Cut(last, ".")
		r2 := new(http.Request)
		*r2 = *r
		r2.Header = r.Header.Clone()
		r2.Header.Del(headerLastEventID)
		if last != "" {
			r2.Header.Set(headerLastEventID, last)
		}
		r = r2
	}
	id, ok := identity.FromContext(r.Context())
	if !ok || id.ExpiresAt.IsZero() {
		return w, r, func() {}
	}
	r, end := s.streamUntilExpiry(w, r)
	if r == nil {
		return w, nil, nil
	}
	prime := primingIDPrefix + rand.Text()
	if last != "" && !strings.ContainsAny(last, "\r\n\x00") {
		prime += "." + last
	}
	pw := &primingWriter{ResponseWriter: w, id: prime}
	ctx := r.Context()
	return pw, r, func() {
		// go-sdk writes nothing on a stream it resumes for a call (a
		// Last-Event-ID of a POST stream) until the call sends something:
		// one that ended with its token before then would leave the
		// client no id to resume from (go-sdk's client then fails the
		// call). go-sdk has released the writer by now.
		if !pw.written && errors.Is(ctx.Err(), context.DeadlineExceeded) &&
			baseMediaType(pw.Header().Get("Content-Type")) == "text/event-stream" {
			pw.WriteHeader(http.StatusOK)
		}
		end()
	}
}

// primingWriter writes a priming event (an event with an id and no data,
// as go-sdk's POST streams open with; clients skip it but keep its id)
// right after the header of a successful event stream.
type primingWriter struct {
	http.ResponseWriter
	id      string
	written bool
}

func (p *primingWriter) WriteHeader(code int) {
	if p.written {
		p.ResponseWriter.WriteHeader(code)
		return
	}
	p.written = true
	p.ResponseWriter.WriteHeader(code)
	if code == http.StatusOK && baseMediaType(p.Header().Get("Content-Type")) == "text/event-stream" {
		_, _ = io.WriteString(p.ResponseWriter, "event: prime\nid: "+p.id+"\ndata: \n\n")
	}
}

func (p *primingWriter) Write(b []byte) (int, error) {
	if !p.written {
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}

// Flush flushes the underlying writer, if it can.
func (p *primingWriter) Flush() {
	_ = http.NewResponseController(p.ResponseWriter).Flush()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (p *primingWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
