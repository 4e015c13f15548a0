package mcpserver

import (
	"io"
	"sync"
)

// Sizes of the buffers request bodies are read into.
const (
	// bodyBufSize is a new buffer's capacity: a typical JSON-RPC message
	// fits.
	bodyBufSize = 4 << 10
	// maxPooledBodyBuf is the largest buffer kept for reuse; a larger one
	// (a large body) is left to the garbage collector.
	maxPooledBodyBuf = 64 << 10
)

// bodyPool reuses the buffers the step-up check reads request bodies into.
type bodyPool struct{ pool sync.Pool }

func (p *bodyPool) get() *pooledBody {
	if b, ok := p.pool.Get().(*pooledBody); ok {
		return b
	}
	return &pooledBody{buf: make([]byte, 0, bodyBufSize)}
}

// put returns b for reuse; b must no longer be read.
func (p *bodyPool) put(b *pooledBody) {
	if cap(b.buf) > maxPooledBodyBuf {
		return
	}
	b.buf, b.off = b.buf[:0], 0
	clear(b.msgs) // the messages point into buf
	b.msgs = b.msgs[:0]
	b.scanned, b.batch, b.ok, b.calls = false, false, false, 0
	p.pool.Put(b)
}

// pooledBody is a request body read into memory: it serves as the request's
// Body for the layers below (an io.ReadCloser over buf), and holds the
// step-up check's scratch space.
type pooledBody struct {
	buf  []byte
	off  int // read position of Read
	msgs []peeked
	// scanned is set when msgs, batch and ok are what peekMessages made
	// of buf, so that the direct transport need not read and scan the
	// body again.
	scanned, batch, ok bool
	// calls is the number of tools/call messages the step-up check found.
	calls int
}

// scan returns what peekMessages made of the body, when the step-up
// check scanned it and nothing has read it since.
func (b *pooledBody) scan() (msgs []peeked, batch, ok, scanned bool) {
	if !b.scanned || b.off != 0 {
		return nil, false, false, false
	}
	return b.msgs, b.batch, b.ok, true
}

// readFrom reads r to its end into b.buf.
func (b *pooledBody) readFrom(r io.Reader) error {
	b.buf, b.off, b.scanned = b.buf[:0], 0, false
	for {
		if len(b.buf) == cap(b.buf) {
			b.buf = append(b.buf, 0)[:len(b.buf)]
		}
		n, err := r.Read(b.buf[len(b.buf):cap(b.buf)])
		b.buf = b.buf[:len(b.buf)+n]
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// Read implements io.Reader over the body read.
func (b *pooledBody) Read(p []byte) (int, error) {
	if b.off >= len(b.buf) {
		return 0, io.EOF
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

// Close implements io.Closer; it does nothing.
func (b *pooledBody) Close() error { return nil }
