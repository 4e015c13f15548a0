package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxASMetadataBytes caps a mirrored authorization-server document.
const maxASMetadataBytes = 1 << 20

// mirrorFetchTimeout bounds one fetch of the mirrored document.
const mirrorFetchTimeout = 10 * time.Second

// mirrorRetryInterval is how long a failed fetch is remembered: requests
// meanwhile get the stale copy or a 502 at once, instead of each waiting
// in turn for a fetch of its own from an authorization server that is
// down. It is also the Retry-After of that 502.
const mirrorRetryInterval = 30 * time.Second

// asMirror serves an authorization server's RFC 8414 metadata verbatim
// (SPEC 5), fetched on first use and cached for ttl. A stale copy is served
// while the authorization server is unreachable.
type asMirror struct {
	issuer string
	urls   []string // RFC 8414 URL, then the OpenID Connect discovery URL
	client HTTPDoer
	ttl    time.Duration
	logger *slog.Logger

	mu       sync.Mutex // guards the fields below; never held during a fetch
	body     []byte
	fetched  time.Time
	failedAt time.Time     // of the last failed fetch; zero after a success
	lastErr  error         // of the last failed fetch
	fetching chan struct{} // non-nil while a fetch is under way, closed when it ends
}

func newASMirror(issuer string, client HTTPDoer, ttl time.Duration, logger *slog.Logger) *asMirror {
	return &asMirror{issuer: issuer, urls: asMetadataURLs(issuer), client: client, ttl: ttl, logger: logger}
}

// asMetadataURLs returns where an issuer publishes its metadata: the RFC
// 8414 §3.1 URL (well-known segment inserted before the issuer's path),
// then the OpenID Connect discovery URL (appended).
func asMetadataURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	origin := u.Scheme + "://" + u.Host
	return []string{
		origin + asMetadataPath + path,
		origin + path + "/.well-known/openid-configuration",
	}
}

func (m *asMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Mcp-Protocol-Version")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body, err := m.document(r.Context())
	if err != nil {
		h.Set("Retry-After", strconv.Itoa(int(mirrorRetryInterval/time.Second)))
		writeError(w, http.StatusBadGateway, "authorization server metadata unavailable")
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// document returns the cached document, fetching it when missing or older
// than ttl. One fetch runs at a time, without the mutex held: while it
// runs, other requests get the stale copy at once, or, when there is no
// copy, wait for that fetch. A failed refresh falls back to the stale copy.
func (m *asMirror) document(ctx context.Context) ([]byte, error) {
	m.mu.Lock()
	if m.body != nil && time.Since(m.fetched) < m.ttl {
		body := m.body
		m.mu.Unlock()
		return body, nil
	}
	if !m.failedAt.IsZero() && time.Since(m.failedAt) < mirrorRetryInterval {
		body, err := m.body, m.lastErr
		m.mu.Unlock()
		if body != nil {
			return body, nil
		}
		return nil, err
	}
	if done := m.fetching; done != nil {
		body := m.body
		m.mu.Unlock()
		if body != nil {
			return body, nil // stale, while another request refreshes it
		}
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		m.mu.Lock()
		body, err := m.body, m.lastErr
		m.mu.Unlock()
		if body != nil {
			return body, nil
		}
		if err == nil {
			err = errors.New("fetch of authorization server metadata abandoned")
		}
		return nil, err
	}
	done := make(chan struct{})
	m.fetching = done
	m.mu.Unlock()
	return m.refresh(ctx, done)
}

// refresh runs the one fetch under way and records its outcome; done is
// closed when it ends, even by a panic of the HTTP client.
func (m *asMirror) refresh(ctx context.Context, done chan struct{}) (body []byte, err error) {
	defer func() {
		m.mu.Lock()
		m.fetching = nil
		m.mu.Unlock()
		close(done)
	}()
	body, err = m.fetch(ctx)
	m.mu.Lock()
	if err == nil {
		m.body, m.fetched, m.failedAt, m.lastErr = body, time.Now(), time.Time{}, nil
		m.mu.Unlock()
		return body, nil
	}
	m.failedAt, m.lastErr = time.Now(), err
	stale := m.body
	m.mu.Unlock()
	m.logger.LogAttrs(ctx, slog.LevelWarn, "mcpserver: fetching authorization server metadata",
		slog.String("issuer", m.issuer), slog.Bool("stale_copy", stale != nil), slog.String("error", err.Error()))
	if stale != nil {
		return stale, nil
	}
	return nil, err
}

// fetch gets the document from the first URL that has the issuer's: a
// JSON object whose "issuer" is the configured issuer exactly (RFC 8414
// §3.3). A URL that answers with anything else (a web app's catch-all
// page, another issuer's document) is passed over, as one that answers
// 404 is.
func (m *asMirror) fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mirrorFetchTimeout)
	defer cancel()
	var errs []error
	for _, u := range m.urls {
		body, err := m.get(ctx, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// A map, not a struct: encoding/json matches a struct's fields
		// without case, so "Issuer" or "ISSUER" would stand for the
		// "issuer" a client of the document reads.
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
			errs = append(errs, fmt.Errorf("metadata at %s is not a JSON object", u))
			continue
		}
		var issuer string
		if raw, ok := doc["issuer"]; !ok || json.Unmarshal(raw, &issuer) != nil || issuer != m.issuer {
			errs = append(errs, fmt.Errorf("metadata at %s names issuer %q, want %q: not mirrored", u, issuer, m.issuer))
			continue
		}
		return body, nil
	}
	return nil, errors.Join(errs...)
}

func (m *asMirror) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxASMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxASMetadataBytes {
		return nil, fmt.Errorf("GET %s: document larger than %d bytes", u, maxASMetadataBytes)
	}
	return body, nil
}
