package identitytest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// maxPageBytes bounds the pages SignIn reads.
const maxPageBytes = 1 << 20

// SignIn completes the development sign-in page the way a person at a
// browser would, for tests and scripts. It opens authorizationURL (the URL
// an OAuth client sends the browser to), signs in as user (a Username),
// grants scopes, or, when none are given, every scope the page ticks (all
// the requested scopes it offers), and returns where the server redirects
// the browser, without following it: the client's redirect_uri with "code",
// "state" and "iss", or with "error" when the request was refused there.
//
// It uses client, or http.DefaultClient when nil, without following its
// redirects. It fails when the page is not the sign-in page (an unknown
// client or redirect_uri gets an error page, whose message the error
// carries) or the form is refused. SignIn does nothing a browser could not:
// it reads the page's hidden CSRF field and posts the form.
func SignIn(ctx context.Context, client *http.Client, authorizationURL, user string, scopes ...string) (*url.URL, error) {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client // a copy that does not follow redirects
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizationURL, nil)
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sign in: open authorization URL: %w", err)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("sign in: read sign-in page: %w", err)
	}
	if loc, ok := redirectLocation(resp); ok {
		return loc, nil // refused before the page: an error for the client
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sign in: authorization URL answered %s%s", resp.Status, pageError(page))
	}
	form, action, err := parseSignInPage(string(page))
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	form.Set("user", user)
	form.Set("action", "approve")
	if len(scopes) > 0 {
		form["scope"] = scopes
	}
	target, err := resp.Request.URL.Parse(action)
	if err != nil {
		return nil, fmt.Errorf("sign in: form action: %w", err)
	}

	req, err = http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sign in: post sign-in form: %w", err)
	}
	page, _ = io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
	_ = resp.Body.Close()
	if loc, ok := redirectLocation(resp); ok {
		return loc, nil
	}
	return nil, fmt.Errorf("sign in: sign-in form answered %s%s", resp.Status, pageError(page))
}

// The inputs SignIn reads, as signInTemplate writes them.
var (
	csrfInput   = regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]*)">`)
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	tickedScope = regexp.MustCompile(`<input type="checkbox" name="scope" value="([^"]*)" checked>`)
	errorText   = regexp.MustCompile(`<p class="error" id="error">([^<]*)</p>`)
)

// parseSignInPage returns the form fields a browser would post unchanged
// (the CSRF token, the ticked scopes) and the form's action.
func parseSignInPage(page string) (url.Values, string, error) {
	csrf := csrfInput.FindStringSubmatch(page)
	action := formAction.FindStringSubmatch(page)
	if csrf == nil || action == nil {
		return nil, "", errors.New("the authorization URL did not answer with the development sign-in page")
	}
	form := url.Values{"csrf": {html.UnescapeString(csrf[1])}}
	for _, m := range tickedScope.FindAllStringSubmatch(page, -1) {
		form.Add("scope", html.UnescapeString(m[1]))
	}
	return form, html.UnescapeString(action[1]), nil
}

// pageError returns ": <message>" for an error page, else "".
func pageError(page []byte) string {
	if m := errorText.FindSubmatch(page); m != nil {
		return ": " + html.UnescapeString(string(m[1]))
	}
	return ""
}

// redirectLocation returns the Location of a redirect response.
func redirectLocation(resp *http.Response) (*url.URL, bool) {
	switch resp.StatusCode {
	case http.StatusFound, http.StatusSeeOther, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
	default:
		return nil, false
	}
	loc, err := resp.Location()
	return loc, err == nil
}
