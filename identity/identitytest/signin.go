package identitytest

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
)

// signInView is what the sign-in page shows. html/template escapes every
// value: client names, scopes and URIs come from clients.
type signInView struct {
	Issuer      string
	Action      string // the form's target path
	CSRF        string
	ClientName  string
	RedirectURI string
	Resource    string
	Users       []User
	Scopes      []string // offered, all ticked
	Dropped     []string // requested but unknown here
}

// The page's markup is parsed by SignIn: the hidden "csrf" input, the
// form's action and the ticked "scope" checkboxes keep their attribute
// order.
const pageStyle = `<style>
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f4f5;color:#18181b}
main{max-width:34rem;margin:2rem auto;background:#fff;border:1px solid #e4e4e7;border-radius:12px;padding:1.5rem 1.75rem}
.dev{background:#b91c1c;color:#fff;font-weight:700;text-align:center;padding:.6rem;letter-spacing:.02em}
h1{font-size:1.3rem;margin:.2rem 0 1rem}
fieldset{border:1px solid #e4e4e7;border-radius:8px;margin:1rem 0;padding:.5rem 1rem}
legend{font-weight:600;padding:0 .3rem}
label{display:block;padding:.3rem 0}
small,.note{color:#52525b}
code{background:#f4f4f5;border-radius:4px;padding:0 .25rem;word-break:break-all}
.actions{display:flex;gap:.75rem;margin-top:1.25rem}
button{font:inherit;border-radius:8px;padding:.55rem 1.2rem;border:1px solid #18181b;background:#18181b;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#18181b}
.error{color:#b91c1c;font-weight:600}
</style>`

const signInTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Development sign-in — not for production</title>
{{template "style"}}
</head>
<body>
<div class="dev" role="alert">Development sign-in — not for production</div>
<main>
<h1>Sign in to {{.ClientName}}</h1>
<p class="note">This is the idgate development authorization server at <code>{{.Issuer}}</code>. There are no passwords: pick a demo user. Anyone who can reach this page can do the same.</p>
<p><strong>{{.ClientName}}</strong> asks for access to <code>{{.Resource}}</code>. You will return to <code>{{.RedirectURI}}</code>.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<fieldset>
<legend>Sign in as</legend>
{{range $i, $u := .Users}}<label><input type="radio" name="user" value="{{$u.Username}}"{{if eq $i 0}} checked{{end}}> {{if $u.Name}}{{$u.Name}}{{else}}{{$u.Username}}{{end}} <small>{{$u.Username}}{{with $u.Email}} · {{.}}{{end}} · sub <code>{{$u.Subject}}</code></small></label>
{{end}}</fieldset>
<fieldset>
<legend>Grant scopes</legend>
{{range .Scopes}}<label><input type="checkbox" name="scope" value="{{.}}" checked> <code>{{.}}</code></label>
{{else}}<p class="note">The application asked for no scopes.</p>
{{end}}{{with .Dropped}}<p class="note">Not offered (unknown to this server): {{range $i, $s := .}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}</p>
{{end}}</fieldset>
<div class="actions">
<button type="submit" name="action" value="approve">Sign in</button>
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
</div>
</form>
</main>
</body>
</html>
`

const errorTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign-in error — development authorization server</title>
{{template "style"}}
</head>
<body>
<div class="dev" role="alert">Development sign-in — not for production</div>
<main>
<h1>Sign-in error</h1>
<p class="error" id="error">{{.}}</p>
</main>
</body>
</html>
`

// parsePages parses the sign-in and error pages.
func parsePages() (signIn, errPage *template.Template, err error) {
	signIn, err = template.New("signin").Parse(signInTemplate)
	if err == nil {
		_, err = signIn.New("style").Parse(pageStyle)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse sign-in page: %w", err)
	}
	errPage, err = template.New("error").Parse(errorTemplate)
	if err == nil {
		_, err = errPage.New("style").Parse(pageStyle)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse error page: %w", err)
	}
	return signIn, errPage, nil
}

func (a *authServer) renderSignIn(w http.ResponseWriter, v signInView) {
	a.render(w, http.StatusOK, a.signInPage, v)
}

// renderError answers status with the error page; message is fixed text.
func (a *authServer) renderError(w http.ResponseWriter, status int, message string) {
	a.render(w, status, a.errorPage, message)
}

func (a *authServer) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "cannot render page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// No form-action: the form's answer redirects to the client, which
	// browsers would check against it.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
