package identity

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// get fetches url with the configured client, bounded by FetchTimeout and
// MaxResponseBytes, and returns the body of a 200 answer.
func (ks *keySet) get(url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ks.ctx, ks.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", shownURL(url), err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", shownURL(url), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", shownURL(url), resp.StatusCode)
	}
	limit := ks.cfg.MaxResponseBytes
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("GET %s: %w: %d bytes, limit %d", shownURL(url), errResponseTooLarge, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", shownURL(url), err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: %w: more than %d bytes", shownURL(url), errResponseTooLarge, limit)
	}
	return body, nil
}
