// Package loadgen is the load generator of the harness: a closed-loop MCP
// client that holds a fixed number of keep-alive HTTP/1.1 connections, opens
// one MCP session on each (initialize, then notifications/initialized), and
// then sends tools/call on it back to back, one call in flight per
// connection, for a warm-up and a measured window. From protocol
// 2026-07-28 on (SEP-2575, stateless servers) there is no session: every
// call carries the client's _meta and the Mcp-Method and Mcp-Name headers,
// as go-sdk's client sends them.
//
// It speaks HTTP/1.1 itself over net.Conn, writing each request with one
// write and parsing responses (Content-Length or chunked, JSON or SSE) in
// place, so that the client's own cost per call is a few microseconds and
// a few allocations: on a shared machine every cycle the client spends is a
// cycle the server under test does not get.
//
//	res, err := loadgen.Run(ctx, loadgen.Config{
//		Addr:     "127.0.0.1:8080",
//		Tokens:   tokens,
//		Duration: 5 * time.Second,
//	})
//	fmt.Println(res.Throughput(), res.Percentile(0.99))
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultPath            = "/mcp"
	DefaultConnections     = 32
	DefaultWarmup          = time.Second
	DefaultDuration        = 5 * time.Second
	DefaultMaxSamples      = 1 << 20
	DefaultMessage         = "hello"
	DefaultTool            = "echo"
	DefaultProtocolVersion = "2025-06-18"
	// ProtocolVersionStateless is the first protocol version without
	// sessions (SEP-2575): every request says who the client is.
	ProtocolVersionStateless = "2026-07-28"
	DefaultTimeout           = 10 * time.Second
	// maxBodyBytes bounds a response body the generator reads.
	maxBodyBytes = 1 << 20
	// setupParallelism bounds how many sessions are opened at once.
	setupParallelism = 64
)

// Config configures Run. Only Addr is required.
type Config struct {
	// Addr is the server's loopback "host:port". Required.
	Addr string

	// Path is the MCP endpoint's path. Default DefaultPath.
	Path string

	// Tokens are the bearer tokens sent: connection i sends
	// Tokens[i%len(Tokens)] with every request. Default none: no
	// Authorization header.
	Tokens []string

	// Connections is the number of connections, each with its own session
	// and one call in flight at a time. Default DefaultConnections.
	Connections int

	// Warmup is how long calls run before the measured window. Default
	// DefaultWarmup; negative means none.
	Warmup time.Duration

	// Duration is the length of the measured window. Default
	// DefaultDuration.
	Duration time.Duration

	// Requests, when positive, closes the window as soon as that many calls
	// have completed in it, if Duration has not run out first. Default 0:
	// the window lasts Duration.
	Requests int

	// MaxSamples bounds the latencies kept for percentiles (every call is
	// counted; only the first MaxSamples are kept). Default
	// DefaultMaxSamples.
	MaxSamples int

	// Tool and Message make the call: tools/call Tool with arguments
	// {"message": Message}. Defaults DefaultTool and DefaultMessage.
	Tool, Message string

	// ProtocolVersion is sent in initialize and in the
	// Mcp-Protocol-Version header. Default DefaultProtocolVersion. From
	// ProtocolVersionStateless on, no session is opened and each call
	// carries the _meta of SEP-2575 and the Mcp-Method and Mcp-Name
	// headers instead.
	ProtocolVersion string

	// Timeout bounds each request, from its write to the end of its
	// response. Default DefaultTimeout.
	Timeout time.Duration

	// OnWindow, when set, is called as the measured window opens (true) and
	// closes (false), for the caller to sample the server's counters.
	OnWindow func(open bool)
}

// Result is what one Run measured.
type Result struct {
	// Sessions is the number of connections whose session was opened
	// (from ProtocolVersionStateless on, the connections opened).
	Sessions int
	// Requests counts the calls that completed successfully inside the
	// measured window.
	Requests int
	// Errors counts the calls that failed inside the window (I/O error,
	// status other than 200, or a body that is not a successful result).
	Errors int
	// FirstError describes the first failure, if any.
	FirstError error
	// Elapsed is the length of the measured window.
	Elapsed time.Duration
	// Latencies are the latencies of successful calls in the window (at
	// most Config.MaxSamples of them), sorted.
	Latencies []time.Duration
}

// Throughput returns the successful calls per second of the window.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the latency at quantile q (0.5 for the median), or 0
// when no latency was kept.
func (r Result) Percentile(q float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(q*float64(n)+0.5) - 1
	return r.Latencies[min(max(i, 0), n-1)]
}

// Run opens cfg.Connections sessions on the server, runs calls on all of
// them for cfg.Warmup and then cfg.Duration, and returns what the window
// measured. It fails when a session cannot be opened; failures of calls
// are counted in the Result. It returns early, with what it measured, when
// ctx is done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = withDefaults(cfg)
	if cfg.Addr == "" {
		return Result{}, errors.New("loadgen: Config.Addr is required")
	}
	conns := make([]*conn, cfg.Connections)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
	}()
	if err := openAll(ctx, &cfg, conns); err != nil {
		return Result{}, err
	}

	w := &window{base: time.Now(), bound: int64(cfg.Requests), full: make(chan struct{})}
	var wg sync.WaitGroup
	workers := make([]*worker, len(conns))
	perWorker := max(1, cfg.MaxSamples/len(conns))
	for i, c := range conns {
		wk := &worker{c: c, w: w, lat: make([]time.Duration, 0, min(perWorker, 1<<16)), maxLat: perWorker}
		workers[i] = wk
		wg.Go(wk.run)
	}
	elapsed := w.drive(ctx, &cfg)
	wg.Wait()

	res := Result{Sessions: len(conns), Elapsed: elapsed}
	for _, wk := range workers {
		res.Requests += wk.ok
		res.Errors += wk.failed
		if res.FirstError == nil {
			res.FirstError = wk.firstErr
		}
		res.Latencies = append(res.Latencies, wk.lat...)
	}
	slices.Sort(res.Latencies)
	return res, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.Connections <= 0 {
		cfg.Connections = DefaultConnections
	}
	switch {
	case cfg.Warmup == 0:
		cfg.Warmup = DefaultWarmup
	case cfg.Warmup < 0:
		cfg.Warmup = 0
	}
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.MaxSamples <= 0 {
		cfg.MaxSamples = DefaultMaxSamples
	}
	if cfg.Tool == "" {
		cfg.Tool = DefaultTool
	}
	if cfg.Message == "" {
		cfg.Message = DefaultMessage
	}
	if cfg.ProtocolVersion == "" {
		cfg.ProtocolVersion = DefaultProtocolVersion
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return cfg
}

// openAll dials every connection and opens its session, a bounded number
// at a time.
func openAll(ctx context.Context, cfg *Config, conns []*conn) error {
	sem := make(chan struct{}, setupParallelism)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := range conns {
		token := ""
		if len(cfg.Tokens) > 0 {
			token = cfg.Tokens[i%len(cfg.Tokens)]
		}
		c := newConn(cfg, token)
		conns[i] = c
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.open(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("loadgen: session %d: %w", i, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// window is the measured window, in nanoseconds since base: calls that
// complete within [start, end] are counted.
type window struct {
	base       time.Time
	start, end atomic.Int64 // 0: not yet
	stop       atomic.Bool
	// completed counts the calls completed in the window; full is closed
	// when it reaches the Requests bound.
	completed atomic.Int64
	bound     int64
	full      chan struct{}
	fullOnce  sync.Once
}

// complete counts a call completed in the window.
func (w *window) complete() {
	if w.completed.Add(1) == w.bound {
		w.fullOnce.Do(func() { close(w.full) })
	}
}

func (w *window) now() int64 { return int64(time.Since(w.base)) }

// drive runs the warm-up and the window, then stops the workers. It
// returns the window's length.
func (w *window) drive(ctx context.Context, cfg *Config) time.Duration {
	defer w.stop.Store(true)
	if !sleep(ctx, cfg.Warmup) {
		return 0
	}
	if cfg.OnWindow != nil {
		cfg.OnWindow(true)
	}
	start := w.now()
	w.start.Store(start)
	t := time.NewTimer(cfg.Duration)
	select {
	case <-t.C:
	case <-w.full:
	case <-ctx.Done():
	}
	t.Stop()
	end := w.now()
	w.end.Store(end)
	if cfg.OnWindow != nil {
		cfg.OnWindow(false)
	}
	return time.Duration(end - start)
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// worker runs calls on one connection.
type worker struct {
	c        *conn
	w        *window
	ok       int
	failed   int
	firstErr error
	lat      []time.Duration
	maxLat   int
}

func (wk *worker) run() {
	for !wk.w.stop.Load() {
		t0 := wk.w.now()
		err := wk.c.call()
		t1 := wk.w.now()
		s, e := wk.w.start.Load(), wk.w.end.Load()
		inWindow := s != 0 && t1 >= s && (e == 0 || t1 <= e)
		if inWindow {
			wk.count(err, time.Duration(t1-t0))
			wk.w.complete()
		}
		if err != nil && wk.c.broken() {
			// The connection is gone: open a new session on a new one
			// (bounded by Timeout), or give up on this connection.
			if rerr := wk.c.reopen(); rerr != nil {
				if !inWindow {
					wk.count(errors.Join(err, rerr), 0)
				}
				return
			}
		}
		if e != 0 && t1 > e {
			return
		}
	}
}

// count records the outcome of one call.
func (wk *worker) count(err error, latency time.Duration) {
	if err != nil {
		wk.failed++
		if wk.firstErr == nil {
			wk.firstErr = err
		}
		return
	}
	wk.ok++
	if len(wk.lat) < wk.maxLat {
		wk.lat = append(wk.lat, latency)
	}
}

// conn is one HTTP/1.1 connection carrying one MCP session.
type conn struct {
	cfg     *Config
	token   string
	nc      net.Conn
	br      *bufio.Reader
	req     []byte // request being written, reused
	body    []byte // response body, reused
	session string
	nextID  int
	dead    bool
}

func newConn(cfg *Config, token string) *conn {
	return &conn{cfg: cfg, token: token, req: make([]byte, 0, 1024), body: make([]byte, 0, 4096)}
}

// open dials and opens the session: initialize, then
// notifications/initialized (nothing from ProtocolVersionStateless on).
func (c *conn) open(ctx context.Context) error {
	d := net.Dialer{Timeout: c.cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return err
	}
	c.nc, c.dead, c.session = nc, false, ""
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 16<<10)
	} else {
		c.br.Reset(nc)
	}
	if c.stateless() {
		return nil
	}
	c.nextID++
	init := `{"jsonrpc":"2.0","id":` + strconv.Itoa(c.nextID) +
		`,"method":"initialize","params":{"protocolVersion":"` + c.cfg.ProtocolVersion +
		`","capabilities":{},"clientInfo":{"name":"idgate-loadgen","version":"1.0.0"}}}`
	status, err := c.post([]byte(init), true)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if status != 200 {
		return fmt.Errorf("initialize: status %d: %s", status, snippet(c.body))
	}
	if !bytes.Contains(c.body, []byte(`"result"`)) {
		return fmt.Errorf("initialize: no result: %s", snippet(c.body))
	}
	status, err = c.post([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), false)
	if err != nil {
		return fmt.Errorf("notifications/initialized: %w", err)
	}
	if status != 202 && status != 200 {
		return fmt.Errorf("notifications/initialized: status %d: %s", status, snippet(c.body))
	}
	return nil
}

// reopen replaces a broken connection and its session.
func (c *conn) reopen() error {
	c.close()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	return c.open(ctx)
}

// close ends the session (DELETE, so that servers do not accumulate the
// sessions of earlier runs) and the connection.
func (c *conn) close() {
	if c.nc == nil {
		return
	}
	if c.session != "" && !c.dead {
		_, _ = c.send("DELETE", nil, false, false) // best effort
	}
	c.nc.Close()
	c.dead = true
}

func (c *conn) broken() bool { return c.dead }

// stateless reports whether the protocol has no sessions.
func (c *conn) stateless() bool { return c.cfg.ProtocolVersion >= ProtocolVersionStateless }

// errNoResult is a call answered without a successful result.
var errNoResult = errors.New("response is not a successful tool result")

// call sends one tools/call and checks its answer.
func (c *conn) call() error {
	c.nextID++
	// The request body is built in place, after the headers, by post.
	status, err := c.postCall()
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("tools/call: status %d: %s", status, snippet(c.body))
	}
	if !bytes.Contains(c.body, []byte(`"result"`)) || bytes.Contains(c.body, []byte(`"isError":true`)) {
		return fmt.Errorf("%w: %s", errNoResult, snippet(c.body))
	}
	return nil
}

// postCall posts tools/call with the next id.
func (c *conn) postCall() (int, error) {
	body := c.body[:0] // borrowed as scratch for the request body
	body = append(body, `{"jsonrpc":"2.0","id":`...)
	body = strconv.AppendInt(body, int64(c.nextID), 10)
	body = append(body, `,"method":"tools/call","params":{`...)
	if c.stateless() {
		body = append(body, `"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"idgate-loadgen","version":"1.0.0"},"io.modelcontextprotocol/protocolVersion":`...)
		body = strconv.AppendQuote(body, c.cfg.ProtocolVersion)
		body = append(body, `},`...)
	}
	body = append(body, `"name":`...)
	body = strconv.AppendQuote(body, c.cfg.Tool)
	body = append(body, `,"arguments":{"message":`...)
	body = strconv.AppendQuote(body, c.cfg.Message)
	body = append(body, `}}}`...)
	c.body = body
	return c.send("POST", body, false, c.stateless())
}

// post writes one POST with body and reads the response into c.body. With
// keepSession it records the Mcp-Session-Id the response carries. It
// marks the connection broken on any I/O or protocol error.
func (c *conn) post(body []byte, keepSession bool) (int, error) {
	return c.send("POST", body, keepSession, false)
}

// send writes one request and reads its response (see post). With
// callHeaders it names the method and tool of a tools/call in the
// Mcp-Method and Mcp-Name headers.
func (c *conn) send(method string, body []byte, keepSession, callHeaders bool) (int, error) {
	r := c.req[:0]
	r = append(r, method...)
	r = append(r, ' ')
	r = append(r, c.cfg.Path...)
	r = append(r, " HTTP/1.1\r\nHost: "...)
	r = append(r, c.cfg.Addr...)
	r = append(r, "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Protocol-Version: "...)
	r = append(r, c.cfg.ProtocolVersion...)
	if c.token != "" {
		r = append(r, "\r\nAuthorization: Bearer "...)
		r = append(r, c.token...)
	}
	if callHeaders {
		r = append(r, "\r\nMcp-Method: tools/call\r\nMcp-Name: "...)
		r = append(r, c.cfg.Tool...)
	}
	if c.session != "" {
		r = append(r, "\r\nMcp-Session-Id: "...)
		r = append(r, c.session...)
	}
	if body != nil {
		r = append(r, "\r\nContent-Length: "...)
		r = strconv.AppendInt(r, int64(len(body)), 10)
	}
	r = append(r, "\r\n\r\n"...)
	r = append(r, body...)
	c.req = r

	if err := c.nc.SetDeadline(time.Now().Add(c.cfg.Timeout)); err != nil {
		c.dead = true
		return 0, err
	}
	if _, err := c.nc.Write(r); err != nil {
		c.dead = true
		return 0, err
	}
	status, err := c.readResponse(keepSession)
	if err != nil {
		c.dead = true
	}
	return status, err
}

// readResponse reads one response: status, headers, and the body (by
// Content-Length or chunked) into c.body.
func (c *conn) readResponse(keepSession bool) (int, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("bad status line %q", snippet(line))
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", snippet(line))
	}
	length, chunked, closing := -1, false, false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, fmt.Errorf("bad header line %q", snippet(line))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 || length > maxBodyBytes {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		case keepSession && bytes.EqualFold(name, []byte("Mcp-Session-Id")):
			c.session = string(value)
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		err = c.readChunked()
	case length >= 0:
		err = c.readN(length)
	case status == 204 || status == 304 || status/100 == 1:
	default:
		return 0, errors.New("response without a length on a keep-alive connection")
	}
	if err != nil {
		return 0, err
	}
	if closing {
		c.dead = true
	}
	return status, nil
}

// readN appends n bytes of body to c.body.
func (c *conn) readN(n int) error {
	if len(c.body)+n > maxBodyBytes {
		return errors.New("response body too large")
	}
	c.body = slices.Grow(c.body, n)
	start := len(c.body)
	c.body = c.body[:start+n]
	_, err := io.ReadFull(c.br, c.body[start:])
	return err
}

// readChunked reads a chunked body into c.body.
func (c *conn) readChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(line), 16, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", snippet(line))
		}
		if n == 0 {
			// Trailers, up to the blank line.
			for {
				line, err = c.br.ReadSlice('\n')
				if err != nil {
					return fmt.Errorf("read trailer: %w", err)
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if err := c.readN(int(n)); err != nil {
			return err
		}
		if _, err := c.br.Discard(2); err != nil { // CRLF after the chunk
			return err
		}
	}
}

// snippet returns the start of b for an error message.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
