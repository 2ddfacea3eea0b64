package e2e_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// The hosted pages over plain HTTP: their headers, CSRF, tokens out of the
// address bar, next, languages and the tenant's switches. The browser
// tests (pages_browser_test.go) drive the same pages in Chromium.

// pageClient is a browser without JavaScript: a cookie jar, forms posted
// with the page's csrf_token and the Origin a browser sends.
type pageClient struct {
	t    *testing.T
	s    *server
	host string
	jar  *cookiejar.Jar
	last reply // the last page read
}

func newPageClient(t *testing.T, s *server, host string) *pageClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pageClient{t: t, s: s, host: host, jar: jar}
}

// req sends a request with the jar's cookies and keeps the answer's.
func (p *pageClient) req(method, path string, opts ...reqOption) reply {
	p.t.Helper()
	u, _ := url.Parse(p.s.URL + path)
	jarOpt := func(r *http.Request) {
		for _, c := range p.jar.Cookies(u) {
			r.AddCookie(c)
		}
	}
	r := p.s.do(p.t, method, path, append([]reqOption{withHost(p.host), jarOpt}, opts...)...)
	p.jar.SetCookies(u, (&http.Response{Header: r.Header}).Cookies())
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		p.last = r
	}
	return r
}

func (p *pageClient) get(path string, opts ...reqOption) reply {
	return p.req(http.MethodGet, path, opts...)
}

// post submits a form with the last page's csrf_token (unless fields has
// one) and this site's Origin.
func (p *pageClient) post(path string, fields url.Values, opts ...reqOption) reply {
	p.t.Helper()
	if !fields.Has("csrf_token") {
		fields.Set("csrf_token", csrfOf(p.last))
	}
	return p.req(http.MethodPost, path, append([]reqOption{withForm(fields), withHeader("Origin", "http://"+p.host)}, opts...)...)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfOf is a page's CSRF token.
func csrfOf(r reply) string {
	if m := csrfField.FindSubmatch(r.Body); m != nil {
		return string(m[1])
	}
	return ""
}

// wantPage checks a page: its status, HTML, and that it holds every one
// of texts.
func wantPage(t *testing.T, what string, r reply, status int, texts ...string) {
	t.Helper()
	if r.Status != status || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%s: status %d (%s), want %d and HTML; body %.600s", what, r.Status, r.Header.Get("Content-Type"), status, r.Body)
	}
	for _, s := range texts {
		if !strings.Contains(string(r.Body), s) {
			t.Errorf("%s: the page lacks %q; body %.1500s", what, s, r.Body)
		}
	}
}

func TestPagesHeadersAndCSRF(t *testing.T) {
	t.Parallel()
	s := startLocal(t)
	a := newAccount("pages-csrf")
	register(t, s, "localhost", a)
	p := newPageClient(t, s, "localhost")

	r := p.get("/auth/")
	wantPage(t, "sign-in page", r, http.StatusOK, `<form method="post" action="/auth/"`, `name="email"`, `name="password"`)
	csp := r.Header.Get("Content-Security-Policy")
	nonce := regexp.MustCompile(`'nonce-([A-Za-z0-9_-]+)'`).FindStringSubmatch(csp)
	if nonce == nil || !strings.Contains(string(r.Body), `<style nonce="`+nonce[1]+`">`) {
		t.Fatalf("CSP %q has no nonce the page's style carries", csp)
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self' http://localhost:3000"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if again := p.get("/auth/"); regexp.MustCompile(`'nonce-([A-Za-z0-9_-]+)'`).FindStringSubmatch(again.Header.Get("Content-Security-Policy"))[1] == nonce[1] {
		t.Error("two pages had the same nonce")
	}
	var csrfCookie *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "portcullis_csrf" {
			csrfCookie = c
		}
	}
	if csrfCookie == nil || !csrfCookie.HttpOnly || csrfCookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("the CSRF cookie is %+v, want HttpOnly and SameSite=Lax", csrfCookie)
	}

	creds := url.Values{"email": {a.Email}, "password": {a.Password}}
	t.Run("no token", func(t *testing.T) {
		f := url.Values{"csrf_token": {"x"}, "email": {a.Email}, "password": {a.Password}}
		wantPage(t, "a sign-in with a wrong token", p.post("/auth/", f), http.StatusForbidden, "This form has expired")
	})
	t.Run("another site", func(t *testing.T) {
		f := url.Values{"email": {a.Email}, "password": {a.Password}}
		r := p.post("/auth/", f, withHeader("Origin", "https://evil.example"))
		wantPage(t, "a sign-in posted from another site", r, http.StatusForbidden, "This form has expired")
		if sessionCookie(r) != nil {
			t.Fatal("a cross-site form set a session cookie")
		}
	})
	t.Run("missing fields", func(t *testing.T) {
		p.get("/auth/")
		r := p.post("/auth/", url.Values{"email": {a.Email}})
		wantPage(t, "a sign-in without a password", r, http.StatusBadRequest, `aria-describedby="password-error"`, `id="password-error"`, `aria-invalid="true"`)
		if !regexp.MustCompile(`id="password"[^>]*autofocus`).Match(r.Body) {
			t.Error("the field in error does not have the focus")
		}
		if !strings.Contains(string(r.Body), `value="`+a.Email+`"`) {
			t.Error("the address was not kept in the form")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		p.get("/auth/")
		r := p.post("/auth/", url.Values{"email": {a.Email}, "password": {"wrong-" + a.Password}})
		wantPage(t, "a wrong password", r, http.StatusUnauthorized, "The e-mail address or password is not right.")
	})
	t.Run("signed in", func(t *testing.T) {
		p.get("/auth/")
		r := p.post("/auth/", creds)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/account/" || sessionCookie(r) == nil {
			t.Fatalf("sign-in: %d to %q, session cookie %v; want 303 to the account page with one", r.Status, r.Header.Get("Location"), sessionCookie(r))
		}
		wantPage(t, "account page", p.get("/auth/account/"), http.StatusOK, "Signed in as "+a.Email, "This session")
	})
}

func TestPagesNext(t *testing.T) {
	t.Parallel()
	s := startTenants(t, tenantSpec{ID: "local", Domains: []string{"localhost"}, Allow: []string{"https://app.example"}})
	a := newAccount("pages-next")
	register(t, s, "localhost", a)
	p := newPageClient(t, s, "localhost")

	r := p.get("/auth/?next=" + url.QueryEscape("https://evil.example/steal"))
	if strings.Contains(string(r.Body), "evil.example") {
		t.Fatal("a foreign next reached the page")
	}
	r = p.post("/auth/", url.Values{"email": {a.Email}, "password": {a.Password}, "next": {"https://evil.example/steal"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/account/" {
		t.Fatalf("a sign-in with a foreign next: %d to %q, want 303 to the account page", r.Status, r.Header.Get("Location"))
	}
	next := "https://app.example/welcome?x=1"
	r = p.get("/auth/?next=" + url.QueryEscape(next))
	wantPage(t, "sign-in with an allowed next", r, http.StatusOK, `name="next" value="https://app.example/welcome?x=1"`)
	r = p.post("/auth/", url.Values{"email": {a.Email}, "password": {a.Password}, "next": {next}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != next {
		t.Fatalf("a sign-in with an allowed next: %d to %q, want 303 to %s", r.Status, r.Header.Get("Location"), next)
	}
	if !strings.Contains(r.Header.Get("Content-Security-Policy"), "form-action 'self' http://localhost:3000 https://app.example") {
		t.Errorf("CSP %q does not let the form's redirect reach the allowed origin", r.Header.Get("Content-Security-Policy"))
	}
}

func TestPagesMoveMailedTokensOutOfTheAddressBar(t *testing.T) {
	t.Parallel()
	s := startTenants(t, emailTenant("pt", "localhost"))
	a := newAccount("pages-token")
	register(t, s, "localhost", a)
	p := newPageClient(t, s, "localhost")
	p.get("/auth/forgot-password/")
	if r := p.post("/auth/forgot-password/", url.Values{"email": {a.Email}}); r.Status != http.StatusSeeOther {
		t.Fatalf("forgot: %d, want 303", r.Status)
	}
	m := waitMail(t, s, "localhost", a.Email, resetSubject("pt"), 0)
	link := linkIn(t, m, emailBase("pt"), "/auth/forgot-password/process/")

	r := p.get(onServer(link, emailBase("pt")))
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/forgot-password/process/" {
		t.Fatalf("the mailed link: %d to %q, want 303 to the page without the token", r.Status, r.Header.Get("Location"))
	}
	r = p.get("/auth/forgot-password/process/")
	wantPage(t, "the reset form", r, http.StatusOK, `name="token" value="`+tokenOf(t, link)+`"`)
	if r.Header.Get("Referrer-Policy") != "same-origin" {
		t.Error("the page with the token may leak it in a Referer")
	}
	// A second browser without the cookie has no token.
	wantPage(t, "another browser", newPageClient(t, s, "localhost").get("/auth/forgot-password/process/"), http.StatusBadRequest, "expired or was used")

	r = p.post("/auth/forgot-password/process/", url.Values{"token": {tokenOf(t, link)}, "password": {"short"}})
	wantPage(t, "a refused password", r, http.StatusBadRequest, `id="password-error"`)
	newPassword := strongPassword()
	r = p.post("/auth/forgot-password/process/", url.Values{"token": {tokenOf(t, link)}, "password": {newPassword}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("reset: %d, want 303; %s", r.Status, r.Body)
	}
	wantPage(t, "reset done", p.get(r.Header.Get("Location")), http.StatusOK, "Your password is changed")
	if r := p.get(onServer(link, emailBase("pt"))); r.Status != http.StatusSeeOther {
		t.Fatalf("the link again: %d, want 303", r.Status)
	}
	wantPage(t, "the used token", p.get("/auth/forgot-password/process/"), http.StatusBadRequest, "expired or was used")
}

func TestPagesLanguageBrandingAndSwitch(t *testing.T) {
	t.Parallel()
	s := startTenants(t,
		tenantSpec{ID: "de", Domains: []string{"de.localhost"}, Pages: "  default_language: de\n  primary_color: \"#aa0000\"\n  logo_url: https://cdn.example/logo.png\n  support_url: mailto:help@de.example\n  frame_ancestors: [\"https://shop.example\"]\n"},
		tenantSpec{ID: "off", Domains: []string{"off.localhost"}, Pages: "  enabled: false\n"},
		tenantSpec{ID: "en", Domains: []string{"en.localhost"}},
		tenantSpec{ID: "fr", Domains: []string{"fr.localhost"}, Pages: "  default_language: fr\n  messages:\n    fr:\n      signin.heading: \"Connexion à {0}\"\n" +
			"      signin.submit: Se connecter\n    de:\n      signin.submit: Los geht's\n"},
	)
	de := newPageClient(t, s, "de.localhost")
	r := de.get("/auth/")
	wantPage(t, "a German tenant", r, http.StatusOK, `<html lang="de">`, "Bei de anmelden", "--brand:#aa0000", `src="https://cdn.example/logo.png"`, `href="mailto:help@de.example"`)
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://shop.example") || r.Header.Get("X-Frame-Options") != "" {
		t.Errorf("framing: CSP %q, X-Frame-Options %q; want the tenant's frame_ancestors and no X-Frame-Options", csp, r.Header.Get("X-Frame-Options"))
	}
	wantPage(t, "English asked of a German tenant", de.get("/auth/", withHeader("Accept-Language", "en-GB,en;q=0.8")), http.StatusOK, `<html lang="en">`, "Sign in to de")
	en := newPageClient(t, s, "en.localhost")
	wantPage(t, "German asked of an English tenant", en.get("/auth/", withHeader("Accept-Language", "de-AT, en;q=0.5")), http.StatusOK, `<html lang="de">`, "Passwort vergessen?")
	wantPage(t, "a language nobody speaks", en.get("/auth/", withHeader("Accept-Language", "fr")), http.StatusOK, `<html lang="en">`)
	fr := newPageClient(t, s, "fr.localhost")
	// The tenant's own language: its texts, English where it has none.
	wantPage(t, "a tenant's own language", fr.get("/auth/"), http.StatusOK, `<html lang="fr">`, "Connexion à fr", ">Se connecter</button>", "Forgot your password?")
	// Its texts replace a built-in language's too.
	wantPage(t, "a tenant's German", fr.get("/auth/", withHeader("Accept-Language", "de")), http.StatusOK, `<html lang="de">`, "Los geht&#39;s", "Passwort vergessen?")
	if r := newPageClient(t, s, "off.localhost").get("/auth/"); r.Status != http.StatusNotFound {
		t.Fatalf("pages switched off: %d, want 404", r.Status)
	}
	// The API of a tenant without pages is still there.
	if r := s.get(t, "/auth/v1/openapi.json", withHost("off.localhost")); r.Status != http.StatusOK {
		t.Fatalf("the API of a tenant without pages: %d", r.Status)
	}
}

// A tenant whose policy asks for a CAPTCHA on sign-in gets its provider's
// widget on the page (its script allowed by the nonce and the policy), and
// the page's form answer goes through the pipeline's check: none → the
// form again asking for it, a solved one (cf-turnstile-response, the
// widget's field) → signed in.
func TestPagesCaptcha(t *testing.T) {
	t.Parallel()
	sv := newSiteverify(t)
	env := map[string]string{"E2E_CAPTCHA_SECRET": captchaSecret}
	s := startTenantsEnv(t, env, tenantSpec{ID: "cap", Domains: []string{"localhost"},
		Captcha: captchaBlock("turnstile", sv.srv.URL+"/turnstile", "policy: {login: always}")})
	a := newAccount("pages-captcha")
	register(t, s, "localhost", a)
	p := newPageClient(t, s, "localhost")
	r := p.get("/auth/")
	wantPage(t, "sign-in with a CAPTCHA", r, http.StatusOK, `<div class="cf-turnstile" data-sitekey="site-turnstile">`,
		`src="https://challenges.cloudflare.com/turnstile/v0/api.js"`)
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'nonce-") || !strings.Contains(csp, "https://challenges.cloudflare.com") {
		t.Errorf("CSP %q does not let the widget load", csp)
	}
	if !regexp.MustCompile(`<script nonce="[^"]+" src="https://challenges.cloudflare.com`).Match(r.Body) {
		t.Error("the widget's script has no nonce")
	}
	// The register page of a tenant whose policy leaves register off has no widget.
	if r := p.get("/auth/register/"); strings.Contains(string(r.Body), "cf-turnstile") {
		t.Error("the register page shows a widget its route does not ask for")
	}
	r = p.post("/auth/", url.Values{"email": {a.Email}, "password": {a.Password}})
	wantPage(t, "no CAPTCHA response", r, http.StatusBadRequest, "Please complete the challenge", `class="cf-turnstile"`)
	if sessionCookie(r) != nil {
		t.Fatal("signed in without a CAPTCHA")
	}
	tok := captchaToken("ok")
	r = p.post("/auth/", url.Values{"email": {a.Email}, "password": {a.Password}, "cf-turnstile-response": {tok}})
	if r.Status != http.StatusSeeOther || sessionCookie(r) == nil || sv.asked(tok) != 1 {
		t.Fatalf("with a solved CAPTCHA: %d, cookie %v, provider asked %d times; want 303, a session, once", r.Status, sessionCookie(r), sv.asked(tok))
	}
}
